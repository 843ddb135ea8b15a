package httpfallback

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/failsoft/failsoft/upstream"
)

// With no key in flight and the route's breaker read open a moment ago, a request is
// answered (here: the default, the handler not called) without the engine's lock: it
// completes while the test holds e.mu. The engine's coarse clock is held still, so that
// "a moment ago" lasts however slow the machine is.
func TestOpenBreakerAnswersWithoutTheEngineLock(t *testing.T) {
	eng, err := New(Config{
		Common:  upstream.Common{Command: fastCommand()},
		Default: &Default{Header: http.Header{"Content-Type": {"application/json"}}, Body: []byte(`{"items":[]}`)},
	})
	require.NoError(t, err)
	defer func() { require.NoError(t, eng.Close()) }()
	frozen := time.Now()
	eng.clk.wall = func() time.Time { return frozen }
	eng.clk.newTicker = func() (<-chan time.Time, func()) { return nil, func() {} } // never ticks

	var calls atomic.Int64
	h := eng.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	get := func() *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "http://api.test/items", nil))
		return rec
	}
	// hystrix's metrics are counted on its own goroutine: fail until a request is answered
	// without calling the handler (the breaker was read open).
	require.Eventually(t, func() bool {
		n := calls.Load()
		get()
		return calls.Load() == n
	}, 10*time.Second, time.Millisecond)
	rn := eng.runnerOf(defaultRoute)
	require.True(t, rn.OpenAt(frozen), "read open at the held clock's time")

	before := calls.Load()
	eng.mu.Lock()
	done := make(chan *httptest.ResponseRecorder)
	go func() { done <- get() }()
	var rec *httptest.ResponseRecorder
	select {
	case rec = <-done:
	case <-time.After(10 * time.Second):
		eng.mu.Unlock()
		t.Fatal("the request waited for the engine's lock")
	}
	eng.mu.Unlock()
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, `{"items":[]}`, rec.Body.String())
	assert.Equal(t, "failsoft; detail=default", rec.Header().Get("Cache-Status"))
	assert.Equal(t, before, calls.Load(), "the handler is not called")
}
