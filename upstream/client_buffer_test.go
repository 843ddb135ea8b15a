package upstream

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Tests of ClientConfig.BufferBody: the attempt reads (a prefix of) the body inside its
// command run, under its timeout.

// truncated declares 100 bytes and sends 10: the body breaks off.
func truncated(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Length", "100")
	_, _ = io.WriteString(w, "only ten b")
}

// ctxTransport records the context of each request it sends.
type ctxTransport struct {
	rt   *http.Transport
	mu   sync.Mutex
	ctxs []context.Context
}

func newCtxTransport(t *testing.T) *ctxTransport {
	ct := &ctxTransport{rt: http.DefaultTransport.(*http.Transport).Clone()}
	t.Cleanup(ct.rt.CloseIdleConnections)
	return ct
}

func (c *ctxTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	c.mu.Lock()
	c.ctxs = append(c.ctxs, req.Context())
	c.mu.Unlock()
	return c.rt.RoundTrip(req)
}

func (c *ctxTransport) last() context.Context {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ctxs[len(c.ctxs)-1]
}

func TestBufferBodyTruncatedIsAFailureRetried(t *testing.T) {
	f := newFixture(t, ClientConfig{BufferBody: 1 << 10}, truncated)
	fb := &fakeBreaker{}
	f.c.runner.b = fb
	resp, err := f.c.Do(f.req(t, "GET", nil))
	assert.Nil(t, resp)
	require.Error(t, err)
	assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
	assert.Equal(t, ReasonInvalidResponse, Reason(err))
	assert.NotContains(t, err.Error(), "?", "the query is left out")
	assert.Equal(t, int64(3), f.hits.Load(), "a GET is tried MaxAttempts times")
	assert.Len(t, f.sleeps.all(), 2)
	calls, successes, failures, _ := fb.counts()
	assert.Equal(t, [3]int{3, 0, 3}, [3]int{calls, successes, failures}, "the breaker counts every truncated answer")
}

func TestBufferBodyTruncatedPostNotRetried(t *testing.T) {
	f := newFixture(t, ClientConfig{BufferBody: 1 << 10}, truncated)
	_, err := f.c.Do(f.req(t, "POST", bytes.NewReader([]byte("x"))))
	assert.Equal(t, ReasonInvalidResponse, Reason(err))
	assert.Equal(t, int64(1), f.hits.Load())
}

func TestBufferBodyResetIsInvalidResponse(t *testing.T) {
	f := newFixture(t, ClientConfig{BufferBody: 1 << 10, Retry: RetryPolicy{MaxAttempts: 2}},
		func(w http.ResponseWriter, r *http.Request) {
			conn, brw, err := http.NewResponseController(w).Hijack()
			if err != nil {
				t.Error(err)
				return
			}
			_, _ = brw.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial")
			_ = brw.Flush()
			if tc, ok := conn.(*net.TCPConn); ok {
				_ = tc.SetLinger(0) // close with a reset
			}
			_ = conn.Close()
		})
	_, err := f.c.Do(f.req(t, "GET", nil))
	require.Error(t, err)
	assert.Equal(t, ReasonInvalidResponse, Reason(err), "a body cut by a reset is a broken answer: %v", err)
	assert.Equal(t, int64(2), f.hits.Load())
}

// trickle writes "first," at once, then "chunk<i>," every gap, chunks times (< 0: until
// the request ends), and reports its request's context error on cancelled (if not nil)
// when the request ends first.
func trickle(gap time.Duration, chunks int, cancelled chan<- error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "first,")
		w.(http.Flusher).Flush()
		for i := 0; chunks < 0 || i < chunks; i++ {
			select {
			case <-time.After(gap):
			case <-r.Context().Done():
				if cancelled != nil {
					cancelled <- r.Context().Err()
				}
				return
			}
			_, _ = fmt.Fprintf(w, "chunk%d,", i)
			w.(http.Flusher).Flush()
		}
	}
}

func TestBufferBodyTrickleTimesOutAndRetries(t *testing.T) {
	// The headers must arrive within the timeout: 200 ms leaves room on a loaded machine.
	const timeout = 200 * time.Millisecond
	cancelled := make(chan error, 3)
	f := newFixture(t, ClientConfig{Common: Common{Command: Settings{Timeout: timeout}}, BufferBody: 1 << 20},
		trickle(2*timeout, -1, cancelled))
	fb := &fakeBreaker{}
	f.c.runner.b = fb // no hystrix timer: the attempt's own deadline must cut the read
	resp, err := f.c.Do(f.req(t, "GET", nil))
	if resp != nil {
		resp.Body.Close() // ends the trickle
	}
	assert.Nil(t, resp)
	require.ErrorIs(t, err, ErrTimeout)
	assert.Equal(t, ReasonTimeout, Reason(err))
	assert.Equal(t, int64(3), f.hits.Load(), "a timed-out GET is retried")
	_, _, failures, _ := fb.counts()
	assert.Equal(t, 3, failures)
	for range 3 {
		assert.ErrorIs(t, <-cancelled, context.Canceled, "each attempt's connection was closed, not drained")
	}
}

func TestBufferBodyTrickleTimesOutWithRealHystrix(t *testing.T) {
	const timeout = 200 * time.Millisecond
	f := newFixture(t, ClientConfig{Common: Common{Command: Settings{Timeout: timeout}}, BufferBody: 1 << 20, Retry: RetryPolicy{MaxAttempts: 2}},
		trickle(time.Hour, -1, nil))
	resp, err := f.c.Do(f.req(t, "GET", nil))
	if resp != nil {
		resp.Body.Close()
	}
	require.ErrorIs(t, err, ErrTimeout)
	assert.Equal(t, int64(2), f.hits.Load())
}

func TestBufferBodyTruncatedOpensRealBreaker(t *testing.T) {
	f := newFixture(t, ClientConfig{
		Common:     Common{Command: Settings{RequestVolumeThreshold: 3, ErrorPercentThreshold: 50, SleepWindow: time.Hour}},
		Retry:      RetryPolicy{MaxAttempts: 1},
		BufferBody: 1 << 10,
	}, truncated)
	calls := 0
	require.Eventually(t, func() bool {
		calls++
		_, err := f.c.Do(f.req(t, "GET", nil))
		if errors.Is(err, ErrCircuitOpen) {
			return true
		}
		assert.Equal(t, ReasonInvalidResponse, Reason(err))
		return false
	}, pollFor, pollEvery, "truncated answers open the breaker")
	assert.Equal(t, Open, f.c.Runner().State())
	assert.GreaterOrEqual(t, calls, 4, "the volume threshold is 3")
	hits := f.hits.Load()
	_, err := f.c.Do(f.req(t, "GET", nil))
	assert.ErrorIs(t, err, ErrCircuitOpen)
	assert.Equal(t, hits, f.hits.Load(), "the sick upstream is no longer called")
}

func TestBufferBodyZeroTruncatedIsASuccessForHystrix(t *testing.T) {
	// The behaviour BufferBody changes: without it the command saw a 200 and counts a success.
	name := t.Name()
	rec := record(name)
	f := newFixture(t, ClientConfig{Common: Common{Command: Settings{Name: name}}, Retry: RetryPolicy{MaxAttempts: 1}}, truncated)
	for range 3 {
		resp, err := f.c.Do(f.req(t, "GET", nil))
		require.NoError(t, err)
		_, err = io.ReadAll(resp.Body)
		assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
		resp.Body.Close()
	}
	require.Eventually(t, func() bool { return rec.Get().Successes == 3 }, pollFor, pollEvery, "%v", rec)
	errs := int(rec.Get().Errors)
	assert.Zero(t, errs)
}

func TestBufferBodySmallBodyBuffered(t *testing.T) {
	for _, chunked := range []bool{false, true} {
		t.Run("chunked="+strconv.FormatBool(chunked), func(t *testing.T) {
			returned := make(chan struct{}, 2)
			ct := newCtxTransport(t)
			f := newFixture(t, ClientConfig{BufferBody: 64, Transport: ct}, func(w http.ResponseWriter, r *http.Request) {
				defer func() { returned <- struct{}{} }()
				if chunked {
					w.(http.Flusher).Flush() // headers go out without a length
				}
				_, _ = io.WriteString(w, "small body")
			})
			for i := range 2 {
				resp, err := f.c.Do(f.req(t, "GET", nil))
				require.NoError(t, err)
				<-returned // the upstream handler has returned
				assert.Equal(t, int64(len("small body")), resp.ContentLength)
				assert.Error(t, ct.last().Err(), "the attempt's context is released before the body is read")
				if i == 1 {
					f.srv.CloseClientConnections() // the bytes no longer depend on the connection
				}
				b, err := io.ReadAll(resp.Body)
				require.NoError(t, err)
				assert.Equal(t, "small body", string(b))
				require.NoError(t, resp.Body.Close())
			}
			assert.Equal(t, int64(1), f.conns.Load(), "the buffered attempt gave its connection back")
		})
	}
}

func TestBufferBodyZeroKeepsAttemptContextUntilRead(t *testing.T) {
	ct := newCtxTransport(t)
	f := newFixture(t, ClientConfig{Transport: ct}, status(200))
	resp, err := f.c.Do(f.req(t, "GET", nil))
	require.NoError(t, err)
	assert.NoError(t, ct.last().Err(), "streaming: the attempt's context lives until the body is done")
	assert.Equal(t, int64(len("status 200")), resp.ContentLength)
	_, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Error(t, ct.last().Err())
}

func TestBufferBodySizesAroundTheLimit(t *testing.T) {
	const limit = 4 << 10
	for _, size := range []int{0, 1, limit - 1, limit, limit + 1, 1 << 20} {
		for _, chunked := range []bool{false, true} {
			t.Run(fmt.Sprintf("size=%d/chunked=%t", size, chunked), func(t *testing.T) {
				body := make([]byte, size)
				rnd := rand.New(rand.NewPCG(uint64(size), 7))
				for i := range body {
					body[i] = byte(rnd.Uint32())
				}
				ct := newCtxTransport(t)
				f := newFixture(t, ClientConfig{BufferBody: limit, Transport: ct}, func(w http.ResponseWriter, r *http.Request) {
					if chunked {
						w.(http.Flusher).Flush()
					} else {
						w.Header().Set("Content-Length", strconv.Itoa(size))
					}
					for rest := body; len(rest) > 0; { // in pieces, so reads come short
						n := min(len(rest), 1000)
						_, _ = w.Write(rest[:n])
						rest = rest[n:]
					}
				})
				resp, err := f.c.Do(f.req(t, "GET", nil))
				require.NoError(t, err)
				if size <= limit {
					assert.Equal(t, int64(size), resp.ContentLength)
					assert.Error(t, ct.last().Err(), "buffered: the attempt's context is released")
				} else if size > limit+1 { // limit+1 bytes may come with their EOF: buffered too
					assert.NoError(t, ct.last().Err(), "streaming: the attempt's context lives until the body is done")
				}
				h := sha256.New()
				_, err = io.Copy(h, resp.Body)
				require.NoError(t, err)
				require.NoError(t, resp.Body.Close())
				assert.Equal(t, sha256.Sum256(body), [32]byte(h.Sum(nil)))
				assert.Error(t, ct.last().Err(), "the attempt's context is released once the body is done")
			})
		}
	}
}

func TestBufferBodyPrefixThenSlowStreamBeyondTimeout(t *testing.T) {
	const timeout = 200 * time.Millisecond
	f := newFixture(t, ClientConfig{Common: Common{Command: Settings{Timeout: timeout}}, BufferBody: 3},
		trickle(2*timeout, 2, nil)) // after the prefix the stream is no longer bound by the timeout
	resp, err := f.c.Do(f.req(t, "GET", nil))
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.Equal(t, "first,chunk0,chunk1,", string(b))
}

func TestBufferBodyLeavesFourXXAndFiveXXAlone(t *testing.T) {
	t.Run("4xx", func(t *testing.T) {
		f := newFixture(t, ClientConfig{BufferBody: 1 << 10}, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "100")
			w.WriteHeader(http.StatusNotFound)
			_, _ = io.WriteString(w, "only ten b")
		})
		fb := &fakeBreaker{}
		f.c.runner.b = fb
		resp, err := f.c.Do(f.req(t, "GET", nil))
		require.NoError(t, err, "a 4xx is an answer; its body is not read ahead")
		defer resp.Body.Close()
		assert.Equal(t, http.StatusNotFound, resp.StatusCode)
		_, err = io.ReadAll(resp.Body)
		assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
		_, successes, failures, _ := fb.counts()
		assert.Equal(t, [2]int{1, 0}, [2]int{successes, failures})
		assert.Equal(t, int64(1), f.hits.Load())
	})
	t.Run("5xx", func(t *testing.T) {
		f := newFixture(t, ClientConfig{BufferBody: 1 << 10}, status(503))
		_, err := f.c.Do(f.req(t, "GET", nil))
		var se *StatusError
		require.ErrorAs(t, err, &se)
		assert.Equal(t, "status 503", string(se.Body))
		assert.Equal(t, int64(3), f.hits.Load())
	})
	t.Run("HEAD and 204", func(t *testing.T) {
		f := newFixture(t, ClientConfig{BufferBody: 1 << 10}, status(http.StatusNoContent))
		for _, m := range []string{"HEAD", "GET"} {
			resp, err := f.c.Do(f.req(t, m, nil))
			require.NoError(t, err)
			b, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			assert.Empty(t, b)
			resp.Body.Close()
		}
	})
}

func TestBufferBodyNegativeNamesTheField(t *testing.T) {
	_, err := NewClient(ClientConfig{Common: Common{Command: Settings{Name: t.Name()}}, BufferBody: -1})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "BufferBody")
}

// BenchmarkClientDoBufferBody compares Do reading a 1 KiB body with and without
// BufferBody:
//
//	go test -run '^$' -bench BufferBody -benchmem ./upstream/
func BenchmarkClientDoBufferBody(b *testing.B) {
	body := bytes.Repeat([]byte("x"), 1<<10)
	for _, buffer := range []int64{0, 64 << 10} {
		b.Run(fmt.Sprintf("buffer=%d", buffer), func(b *testing.B) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = w.Write(body)
			}))
			defer srv.Close()
			cfg := ClientConfig{Common: Common{Command: Settings{Name: benchName(b), Timeout: 5 * time.Second}}, BufferBody: buffer}
			if c, err := NewClient(cfg); err != nil {
				b.Fatal(err)
			} else {
				defer c.Close()
				b.ReportAllocs()
				for b.Loop() {
					get(b, c.Do, srv.URL)
				}
			}
		})
	}
}

// With BufferBody, an answer whose body breaks off is a failed attempt: counted by the
// breaker, retried, and reported as invalid-response instead of a 200 with a broken body.
func ExampleClientConfig_bufferBody() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		_, _ = io.WriteString(w, "only ten b") // the upstream dies mid-body
	}))
	defer srv.Close()
	c, err := NewClient(ClientConfig{
		Common:     Common{Command: Settings{Name: fmt.Sprint("example-buffer-body@", time.Now().UnixNano())}},
		Retry:      RetryPolicy{MaxAttempts: 2, BaseDelay: time.Millisecond},
		BufferBody: 64 << 10,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	_, err = c.Do(req)
	fmt.Println(Reason(err), errors.Is(err, io.ErrUnexpectedEOF))
	// Output: invalid-response true
}
