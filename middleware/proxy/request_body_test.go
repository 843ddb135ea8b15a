package proxy

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/failsoft/failsoft/upstream"
)

// The client retries idempotent requests; the proxy never has a non-idempotent one retried.
func TestProxyNeverRetriesNonIdempotent(t *testing.T) {
	var mu sync.Mutex
	count := map[string]int{}
	up := newPxUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		count[r.Method+" "+string(b)]++
		mu.Unlock()
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	h := newPxHarness(t, up.srv.URL, func(c *Config) { c.Client.Retry.MaxAttempts = 3 })
	c := h.srv.Client()

	r := h.get("/x")
	require.Equal(t, http.StatusServiceUnavailable, r.status)
	for _, m := range []string{http.MethodPost, http.MethodPatch, http.MethodPost + " empty"} {
		body := "payload"
		if strings.HasSuffix(m, " empty") {
			m, body = strings.TrimSuffix(m, " empty"), ""
		}
		req, err := http.NewRequest(m, h.srv.URL+"/x", strings.NewReader(body))
		require.NoError(t, err)
		res, err := c.Do(req)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		require.Equal(t, http.StatusServiceUnavailable, res.StatusCode, m)
	}
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, 3, count["GET "], "GET is retried (MaxAttempts 3)")
	require.Equal(t, 1, count["POST payload"], "POST must not be retried")
	require.Equal(t, 1, count["PATCH payload"], "PATCH must not be retried")
	require.Equal(t, 1, count["POST "], "POST without a body must not be retried either")
}

// A request body reaches the upstream while the client is still sending it.
func TestProxyStreamsRequestBody(t *testing.T) {
	first := make(chan string, 1)
	up := newPxUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		buf := make([]byte, 5)
		if _, err := io.ReadFull(r.Body, buf); err != nil {
			first <- "error: " + err.Error()
			return
		}
		first <- string(buf)
		rest, _ := io.ReadAll(r.Body)
		_, _ = w.Write(rest)
	})
	h := newPxHarness(t, up.srv.URL, nil)

	pr, pw := io.Pipe()
	type result struct {
		status int
		body   string
		err    error
	}
	done := make(chan result, 1)
	go func() {
		res, err := h.srv.Client().Post(h.srv.URL+"/upload", "text/plain", pr)
		if err != nil {
			done <- result{err: err}
			return
		}
		b, err := io.ReadAll(res.Body)
		res.Body.Close()
		done <- result{status: res.StatusCode, body: string(b), err: err}
	}()
	_, err := io.WriteString(pw, "first")
	require.NoError(t, err)
	select {
	case got := <-first:
		require.Equal(t, "first", got)
	case <-time.After(10 * time.Second): // safety net: a buffering proxy never gets here
		pw.CloseWithError(io.ErrUnexpectedEOF)
		t.Fatal("the upstream did not see the start of the body before its end: request bodies are buffered")
	}
	_, err = io.WriteString(pw, " and the rest")
	require.NoError(t, err)
	require.NoError(t, pw.Close())
	res := <-done
	require.NoError(t, res.err)
	require.Equal(t, http.StatusOK, res.status)
	require.Equal(t, " and the rest", res.body)
}

// Request framing attacks on loopback, on raw connections: Go's server resolves
// Content-Length + Transfer-Encoding in favour of chunked and refuses conflicting lengths;
// the proxy re-frames what it forwards, and a body that breaks off is answered 400 without
// the upstream ever receiving a complete request.
func TestProxyRequestFraming(t *testing.T) {
	var mu sync.Mutex
	var complete []string // bodies the upstream read to their end
	var arrived []string  // paths of the requests that reached the upstream
	up := newPxUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		arrived = append(arrived, r.URL.Path)
		mu.Unlock()
		b, err := io.ReadAll(r.Body)
		if err != nil {
			return
		}
		mu.Lock()
		complete = append(complete, r.Method+" "+r.URL.Path+" "+string(b))
		mu.Unlock()
		_, _ = io.WriteString(w, "got "+string(b))
	})
	h := newPxHarness(t, up.srv.URL, func(c *Config) {
		c.MaxRequestBody = 16
		c.SegmentRoutes = -1 // one route, one breaker: every request below counts on it
	})
	addr := strings.TrimPrefix(h.srv.URL, "http://")
	completeCopy := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), complete...)
	}

	// Both Content-Length and chunked: chunked wins, and the upstream gets that one body
	// and no second request hidden in it.
	status, _, body := pxRaw(t, addr, "POST /te HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"+
		"5\r\nhello\r\n0\r\n\r\n")
	require.Equal(t, http.StatusOK, status, body)
	require.Equal(t, "got hello", body)
	require.Equal(t, []string{"POST /te hello"}, completeCopy())

	// Two different Content-Lengths: refused by Go's server, never forwarded.
	status, _, _ = pxRaw(t, addr, "POST /cl HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd")
	require.Equal(t, http.StatusBadRequest, status)

	// An unsupported transfer coding: refused by Go's server.
	status, _, _ = pxRaw(t, addr, "POST /gz HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n")
	require.Equal(t, http.StatusNotImplemented, status)

	// Bad chunking: the proxy answers 400, the upstream never reads a complete body.
	status, hdr, body := pxRaw(t, addr, "POST /bad HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"+
		"3\r\nabcXX0\r\n\r\n")
	require.Equal(t, http.StatusBadRequest, status, body)
	require.Equal(t, "application/problem+json", hdr.Get("Content-Type"))
	require.Equal(t, []string{"failsoft; detail=refused"}, hdr.Values("Cache-Status"), "one member of ours")
	require.Equal(t, []string{"POST /te hello"}, completeCopy())

	// Over MaxRequestBody: declared (refused before the upstream is called) or chunked
	// (refused once the limit is passed).
	status, _, _ = pxRaw(t, addr, "POST /declared HTTP/1.1\r\nHost: a\r\nContent-Length: 17\r\nConnection: close\r\n\r\n0123456789abcdefg")
	require.Equal(t, http.StatusRequestEntityTooLarge, status)
	status, hdr, body = pxRaw(t, addr, "POST /big HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"+
		"a\r\n0123456789\r\na\r\n0123456789\r\n0\r\n\r\n")
	require.Equal(t, http.StatusRequestEntityTooLarge, status)
	require.Equal(t, []string{"failsoft; detail=refused"}, hdr.Values("Cache-Status"), "one member of ours, not the engine's fwd=method too")
	require.Contains(t, body, `"reason":"refused"`)
	require.Equal(t, []string{"POST /te hello"}, completeCopy())
	mu.Lock()
	require.NotContains(t, arrived, "/declared", "a declared over-limit body is refused before the upstream")
	mu.Unlock()

	// None of the refused bodies counted against the breaker.
	require.Equal(t, upstream.Closed, h.routeState("*"))
}

// An upload slower than the engine's header budget is not cut by it: only requests without a
// body (the ones a fetch may share) carry the budget.
func TestProxySlowUploadIsNotCutByTheHeaderBudget(t *testing.T) {
	up := newPxUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		_, _ = io.WriteString(w, "got "+strconv.Itoa(len(b)))
	})
	h := newPxHarness(t, up.srv.URL, func(c *Config) {
		c.Engine.Command.Timeout = 50 * time.Millisecond
		c.Client.Retry.MaxAttempts = 1
	})
	pr, pw := io.Pipe()
	go func() {
		_, _ = io.WriteString(pw, "first,")
		<-time.After(200 * time.Millisecond) // a slow upload, well past the 50 ms budget
		_, _ = io.WriteString(pw, "second")
		_ = pw.Close()
	}()
	req, err := http.NewRequest(http.MethodPost, h.srv.URL+"/upload", pr)
	require.NoError(t, err)
	resp, err := h.srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	require.Equal(t, "got 12", string(body))
}
