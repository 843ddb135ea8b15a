package proxy

import (
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// With the upstream's listener closed, cached keys are served stale with Cache-Status and
// Age; uncached keys get 502 problem+json.
func TestProxyUpstreamClosed(t *testing.T) {
	up := newPxUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=10")
		_, _ = io.WriteString(w, "body of "+r.URL.Path)
	})
	h := newPxHarness(t, up.srv.URL, nil)
	require.Equal(t, "body of /a", h.get("/a").body)

	up.srv.Close()
	h.clock.Advance(30 * time.Second)

	r := h.get("/a")
	require.Equal(t, http.StatusOK, r.status)
	require.Equal(t, "body of /a", r.body)
	require.Equal(t, "30", r.header.Get("Age"))
	require.True(t, hasParam(r.cs(), "fwd=stale"), r.cs())
	require.True(t, hasParam(r.cs(), "ttl=-20"), r.cs())
	require.True(t, hasParam(r.cs(), "detail=connect-error"), r.cs())

	r = h.get("/b")
	require.Equal(t, http.StatusBadGateway, r.status)
	require.Equal(t, "application/problem+json", r.header.Get("Content-Type"))
	require.Equal(t, "connect-error", problemReason(t, r.body))
	require.True(t, hasParam(r.cs(), "detail=connect-error"), r.cs())
	st := h.p.Stats()
	require.EqualValues(t, 1, st.Stale)
	require.EqualValues(t, 1, st.Errors)
}

// An upstream that never answers: 504 from the command timeout, and the outbound request
// is abandoned (its context ends at the upstream).
func TestProxyUpstreamHangs(t *testing.T) {
	abandoned := make(chan struct{}, 1)
	up := newPxUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
		abandoned <- struct{}{}
	})
	h := newPxHarness(t, up.srv.URL, func(c *Config) {
		c.Client.Command.Timeout = 100 * time.Millisecond
		c.Client.Retry.MaxAttempts = 1
	})
	r := h.get("/slow")
	require.Equal(t, http.StatusGatewayTimeout, r.status)
	require.Equal(t, "timeout", problemReason(t, r.body))
	require.True(t, hasParam(r.cs(), "detail=timeout"), r.cs())
	select {
	case <-abandoned:
	case <-time.After(10 * time.Second): // safety net only
		t.Fatal("the upstream request was not cancelled after the timeout")
	}
}

// An upstream that sends headers and then stalls mid-body: the body idle timeout ends it
// as a failure, and the partial answer is never stored.
func TestProxyStalledBodyIsNotStored(t *testing.T) {
	release := make(chan struct{})
	var calls atomic.Int64
	up := newPxUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		if calls.Add(1) == 1 {
			w.Header().Set("Content-Length", "10")
			_, _ = io.WriteString(w, "half")
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
			case <-release:
			}
			return
		}
		_, _ = io.WriteString(w, "whole body")
	})
	defer close(release)
	h := newPxHarness(t, up.srv.URL, func(c *Config) {
		c.BodyIdleTimeout = 200 * time.Millisecond
		c.Client.Retry.MaxAttempts = 1
		c.Client.BufferBody = 1 // past a 1-byte prefix the body streams: the idle timeout's case
	})
	r := h.get("/stall")
	require.Equal(t, http.StatusBadGateway, r.status)
	require.Equal(t, "invalid-response", problemReason(t, r.body))
	r = h.get("/stall")
	require.Equal(t, "whole body", r.body)
	require.True(t, hasParam(r.cs(), "stored"), r.cs())
}

// A truncated upstream body (shorter than its Content-Length, or a chunked body that
// breaks off) is a failure: not stored, and a stored entry is served instead.
func TestProxyTruncatedBodyServesStale(t *testing.T) {
	var truncate atomic.Bool
	up := newPxUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=1")
		if truncate.Load() {
			if r.URL.Path == "/cl" {
				w.Header().Set("Content-Length", "100")
			}
			_, _ = io.WriteString(w, "partial")
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler) // drop the connection mid-body
		}
		_, _ = io.WriteString(w, "complete")
	})
	h := newPxHarness(t, up.srv.URL, func(c *Config) { c.Client.Retry.MaxAttempts = 1 })
	for _, path := range []string{"/cl", "/chunked"} {
		truncate.Store(false)
		require.Equal(t, "complete", h.get(path).body)
		truncate.Store(true)
		h.clock.Advance(5 * time.Second)
		r := h.get(path)
		require.Equal(t, http.StatusOK, r.status, path)
		require.Equal(t, "complete", r.body, path)
		require.True(t, hasParam(r.cs(), "detail=invalid-response"), "%s: %s", path, r.cs())
	}
}
