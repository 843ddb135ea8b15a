package httpfallback

import (
	"errors"
	"net/http"
	"strconv"
)

// errTooLarge is returned to a source writing more than the body limit when there is no
// client to stream to (a background refresh).
var errTooLarge = errors.New("httpfallback: response body over the size limit")

// buffer is the ResponseWriter a source writes into. It holds the answer until the engine
// has classified it. Beyond max bytes it either switches to streaming to dst (status,
// headers, the buffered prefix, then the rest) or, with no dst, drops the body and fails
// further writes with errTooLarge. It deliberately offers no Unwrap or Hijack: a source
// must not reach the real connection behind the engine's back.
type buffer struct {
	dst         http.ResponseWriter // nil: no client (background)
	header      http.Header
	status      int
	wroteHeader bool
	body        []byte
	max         int64
	streaming   bool   // switched to dst: the response is on its way, not storable
	overflow    bool   // over max with no dst: body dropped
	headOnly    bool   // the client asked HEAD: stream headers only
	validated   bool   // RunCommand already ran Config.Validate on the body
	fwd         string // the Cache-Status fwd of the answer, should it stream
}

func newBuffer(dst http.ResponseWriter, max int64, headOnly bool, fwd string) *buffer {
	return &buffer{dst: dst, header: make(http.Header), max: max, headOnly: headOnly, fwd: fwd}
}

// Header implements http.ResponseWriter.
func (b *buffer) Header() http.Header { return b.header }

// WriteHeader implements http.ResponseWriter. Informational statuses are dropped.
func (b *buffer) WriteHeader(code int) {
	if b.wroteHeader || code < 200 {
		return
	}
	b.status = code
	b.wroteHeader = true
}

// Write implements http.ResponseWriter.
func (b *buffer) Write(p []byte) (int, error) {
	if !b.wroteHeader {
		b.WriteHeader(http.StatusOK)
	}
	switch {
	case b.streaming:
		if b.headOnly {
			return 0, http.ErrBodyNotAllowed
		}
		return b.dst.Write(p)
	case b.overflow:
		return 0, errTooLarge
	}
	if int64(len(b.body))+int64(len(p)) <= b.max {
		if b.body == nil {
			b.body = make([]byte, 0, b.sizeHint(len(p)))
		}
		b.body = append(b.body, p...)
		return len(p), nil
	}
	if b.dst == nil {
		b.overflow = true
		b.body = nil
		return 0, errTooLarge
	}
	b.startStreaming()
	if b.headOnly {
		// The client asked HEAD: its headers are out, and the rest of the body would be
		// produced (or downloaded) only to be dropped. The source's writes fail, as
		// net/http's do for HEAD, so that it can stop.
		return 0, http.ErrBodyNotAllowed
	}
	return b.dst.Write(p)
}

// presizeMax bounds the body buffer allocated up front from a declared Content-Length: a
// larger body grows as it arrives, so that a length declared but never sent does not
// reserve memory.
const presizeMax = 256 << 10

// sizeHint is the capacity of the body buffer at the first write of n bytes: the declared
// Content-Length when it is one valid value within the limits (the body is then held in one
// allocation of exactly its size, which the entry can keep without a copy: see
// cache.Policy.NewEntryOwning), else n.
func (b *buffer) sizeHint(n int) int {
	cl := b.header["Content-Length"]
	if len(cl) != 1 {
		return n
	}
	v, err := strconv.ParseInt(cl[0], 10, 64)
	if err != nil || v < int64(n) || v > b.max || v > presizeMax {
		return n
	}
	return int(v)
}

// startStreaming sends the status, headers and buffered prefix to dst.
func (b *buffer) startStreaming() {
	b.streaming = true
	h := b.dst.Header()
	for k, v := range b.header {
		h[k] = v
	}
	// Ours after the answer's own members (RFC 9211), as on every other path.
	h["Cache-Status"] = []string{withPrior(h["Cache-Status"], member{fwd: b.fwd, fwdStatus: b.status, detail: ReasonTooLarge}.String())}
	b.dst.WriteHeader(b.status)
	if !b.headOnly && len(b.body) > 0 {
		_, _ = b.dst.Write(b.body)
	}
	b.body = nil
}

// Flush implements http.Flusher: a no-op while buffering, forwarded while streaming.
func (b *buffer) Flush() {
	if b.streaming {
		if f, ok := b.dst.(http.Flusher); ok {
			f.Flush()
		}
	}
}

// code is the status the source answered with (200 when it wrote nothing).
func (b *buffer) code() int {
	if b.status == 0 {
		return http.StatusOK
	}
	return b.status
}

// statusRecorder notes the status written through it, for RunCommand's classification
// when the writer it was given is not the engine's buffer. With cacheStatus set (the
// engine's bypass after Close), it appends that member to the Cache-Status the answer
// carries at the moment its header goes out, after the answer's own members.
type statusRecorder struct {
	http.ResponseWriter
	status      int
	cacheStatus string
}

// commit notes that the final header is going out with code.
func (s *statusRecorder) commit(code int) {
	s.status = code
	s.stamp()
}

// stamp appends cacheStatus, when set, to the header about to be written.
func (s *statusRecorder) stamp() {
	if s.cacheStatus != "" {
		h := s.ResponseWriter.Header()
		h["Cache-Status"] = []string{withPrior(h["Cache-Status"], s.cacheStatus)}
	}
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 && code >= 200 {
		s.commit(code)
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(p []byte) (int, error) {
	if s.status == 0 {
		s.commit(http.StatusOK)
	}
	return s.ResponseWriter.Write(p)
}

func (s *statusRecorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		if s.status == 0 {
			s.commit(http.StatusOK) // a Flush sends the header (200) when none was written
		}
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the writer RunCommand was given.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }
