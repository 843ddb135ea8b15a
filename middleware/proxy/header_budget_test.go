package proxy

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sleepLog records the waits a client asks for, and waits for none of them.
type sleepLog struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (s *sleepLog) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.waits = append(s.waits, d)
	s.mu.Unlock()
	return ctx.Err()
}

func (s *sleepLog) get() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.waits...)
}

// The leader of a proxy fetch runs without the client's cancellation, so the engine's
// Command.Timeout is its deadline until headers arrive: the client sees it, and a
// Retry-After longer than what is left is not waited for (the last answer stands), while
// a short one still is.
func TestProxyRetryAfterBeyondTheHeaderBudgetIsNotWaited(t *testing.T) {
	for _, tc := range []struct {
		retryAfter string
		waits      []time.Duration
		hits       int64
	}{
		{"30", nil, 1},
		{"1", []time.Duration{time.Second, time.Second}, 3},
	} {
		t.Run("Retry-After="+tc.retryAfter, func(t *testing.T) {
			up := newPxUpstream(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Retry-After", tc.retryAfter)
				w.WriteHeader(http.StatusServiceUnavailable)
			})
			var sl sleepLog
			h := newPxHarness(t, up.srv.URL, func(c *Config) {
				c.Engine.Command.Timeout = 10 * time.Second
				c.Client.Retry.MaxAttempts = 3
				c.Client.Retry.MaxRetryAfter = time.Minute
				c.Client.Sleep = sl.sleep
			})
			r := h.get("/busy")
			require.Equal(t, http.StatusServiceUnavailable, r.status)
			assert.True(t, hasParam(r.cs(), "fwd-status=503"), r.cs())
			assert.Equal(t, tc.waits, sl.get())
			assert.Equal(t, tc.hits, up.hits.Load())
		})
	}
}

// An upstream that never sends headers is cut at the engine's Command.Timeout even when
// the client's per-attempt timeout is far longer: a timeout failure (504 without a stored
// entry, stale with one), and the upstream request is cancelled.
func TestProxyHeaderBudgetCutsAHangingUpstream(t *testing.T) {
	var mu sync.Mutex
	hang := false
	abandoned := make(chan struct{}, 4)
	up := newPxUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hanging := hang
		mu.Unlock()
		if hanging {
			<-r.Context().Done()
			abandoned <- struct{}{}
			return
		}
		w.Header().Set("Cache-Control", "max-age=1")
		_, _ = io.WriteString(w, "good")
	})
	h := newPxHarness(t, up.srv.URL, func(c *Config) {
		c.Engine.Command.Timeout = 100 * time.Millisecond
		c.Client.Command.Timeout = time.Minute
		c.Client.Retry.MaxAttempts = 1
	})
	get := func(path string) engResp {
		t.Helper()
		got := make(chan engResp, 1)
		go func() { got <- h.get(path) }()
		select {
		case r := <-got:
			return r
		case <-time.After(20 * time.Second): // safety net only: the client's own timeout is a minute
			t.Fatal("the header budget did not end the request")
			return engResp{}
		}
	}
	require.Equal(t, "good", get("/stale").body)
	mu.Lock()
	hang = true
	mu.Unlock()

	r := get("/none")
	require.Equal(t, http.StatusGatewayTimeout, r.status, r.body)
	require.Equal(t, "timeout", problemReason(t, r.body))
	waitAbandoned(t, abandoned)

	h.clock.Advance(5 * time.Second)
	r = get("/stale")
	require.Equal(t, http.StatusOK, r.status)
	require.Equal(t, "good", r.body)
	require.True(t, hasParam(r.cs(), "detail=timeout"), r.cs())
	waitAbandoned(t, abandoned)
}

// The header budget ends once headers have arrived: a body streamed for longer than it is
// read whole and stored, whether it is longer than the client's read-ahead (it streams on,
// only BodyIdleTimeout guards its reads) or, with the default BufferBody, read ahead inside
// the attempt, which the attempt's own timeout bounds, not the budget.
func TestProxyHeaderBudgetDoesNotCutTheBody(t *testing.T) {
	const budget = 50 * time.Millisecond
	for _, tc := range []struct {
		name   string
		buffer int64
	}{
		{"streamed past the read-ahead", 1},
		{"read ahead (default BufferBody)", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			up := newPxUpstream(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Cache-Control", "max-age=60")
				_, _ = io.WriteString(w, "first,")
				w.(http.Flusher).Flush()
				<-time.After(4 * budget) // a slow upstream body, well past the budget
				_, _ = io.WriteString(w, "second")
			})
			h := newPxHarness(t, up.srv.URL, func(c *Config) {
				c.Engine.Command.Timeout = budget
				c.BodyIdleTimeout = time.Minute
				c.Client.Retry.MaxAttempts = 1
				c.Client.BufferBody = tc.buffer // the per-attempt timeout: 5s (harness)
			})
			r := h.get("/slow-body")
			require.Equal(t, http.StatusOK, r.status, r.body)
			require.Equal(t, "first,second", r.body)
			require.True(t, hasParam(r.cs(), "stored"), r.cs())
			require.True(t, strings.HasPrefix(h.get("/slow-body").cs(), "failsoft; hit"))
		})
	}
}

// Paused at an attempt's headers, the header budget is taken up again when a retry
// follows: a retry whose upstream then hangs is cut at the budget's end (the client's
// per-attempt timeout is 30s), as a timeout.
func TestProxyHeaderBudgetResumesForARetry(t *testing.T) {
	var calls atomic.Int64
	abandoned := make(chan struct{}, 4)
	stop := make(chan struct{}) // closed when the test ends: a failing test does not hang
	up := newPxUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.WriteHeader(http.StatusServiceUnavailable) // headers at once: the budget pauses
			return
		}
		select {
		case <-r.Context().Done():
			abandoned <- struct{}{}
		case <-stop:
		}
	})
	h := newPxHarness(t, up.srv.URL, func(c *Config) {
		c.Engine.Command.Timeout = 100 * time.Millisecond
		c.Client.Command.Timeout = 30 * time.Second
		c.Client.Retry.MaxAttempts = 2
	})
	t.Cleanup(func() { close(stop) })
	// a failure guard only: the budget ends the call at 100ms
	r := receive(t, time.After(10*time.Second), goGet(h, "/retry"), "the header budget did not bound the retry")
	require.Equal(t, http.StatusGatewayTimeout, r.status, r.body)
	require.Equal(t, "timeout", problemReason(t, r.body))
	require.EqualValues(t, 2, calls.Load())
	waitAbandoned(t, abandoned)
}

// With the budget paused at the headers, the body the client reads ahead (the default
// BufferBody) is still bounded by the attempt's own timeout: an upstream that sends its
// headers and then stalls fails the fetch as a timeout, not held for ever.
func TestProxyReadAheadStallIsCutByTheAttemptTimeout(t *testing.T) {
	abandoned := make(chan struct{}, 1)
	stop := make(chan struct{}) // closed when the test ends: a failing test does not hang
	up := newPxUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		_, _ = io.WriteString(w, "first,")
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
			abandoned <- struct{}{}
		case <-stop:
		}
	})
	h := newPxHarness(t, up.srv.URL, func(c *Config) {
		c.Engine.Command.Timeout = 50 * time.Millisecond
		c.Client.Command.Timeout = 300 * time.Millisecond
		c.Client.Retry.MaxAttempts = 1
		c.BodyIdleTimeout = time.Minute
	})
	t.Cleanup(func() { close(stop) })
	// a failure guard only: the attempt ends at 300ms
	r := receive(t, time.After(10*time.Second), goGet(h, "/stall"), "nothing bounded the read-ahead of a stalled body")
	require.Equal(t, http.StatusGatewayTimeout, r.status, r.body)
	require.Equal(t, "timeout", problemReason(t, r.body))
	waitAbandoned(t, abandoned)
}

// waitAbandoned waits for the hanging upstream handler to see its request cancelled. On a
// busy machine the budget can end the request before it reaches the handler at all: then
// there is nothing to see, and the wait gives up after a bound (a safety net, not a timing
// assertion) instead of hanging the test.
func waitAbandoned(t *testing.T, abandoned <-chan struct{}) {
	t.Helper()
	select {
	case <-abandoned:
	case <-time.After(10 * time.Second):
		t.Log("the request never reached the upstream before the budget ended it")
	}
}
