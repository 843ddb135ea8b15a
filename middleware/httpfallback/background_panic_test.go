package httpfallback

import (
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/failsoft/failsoft/upstream"
	"github.com/stretchr/testify/require"
)

// The engine's own goroutines must not let a panicking hook kill the process: an OnEvent
// that panics during a background refresh is recovered there (a request's goroutine is
// covered by net/http), and the engine keeps serving.
func TestPanickingOnEventInBackgroundRefreshDoesNotKillTheProcess(t *testing.T) {
	cfg := Config{OnEvent: func(ev Event) {
		if ev.Kind == EventRefresh {
			panic("hook bug")
		}
	}}
	hs := newEngHarness(t, cfg, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=10, stale-while-revalidate=60")
		fmt.Fprint(w, "ok")
	})
	require.Equal(t, "ok", hs.get("/p").body)
	hs.clock.Advance(15 * time.Second)
	require.Contains(t, hs.get("/p").cs(), "detail=stale-while-revalidate")
	require.Eventually(t, func() bool { return hs.eng.Stats().Refreshes == 1 }, 5*time.Second, time.Millisecond)
	require.NoError(t, hs.eng.Close()) // waits for the refresh goroutine
	require.Equal(t, "ok", hs.get("/p").body)
}

// The same for EventBreaker, which the route command's state goroutine reports.
func TestPanickingOnEventForBreakerDoesNotKillTheProcess(t *testing.T) {
	var opened atomic.Bool
	cfg := Config{Common: upstream.Common{Command: fastCommand()}, OnEvent: func(ev Event) {
		if ev.Kind == EventBreaker {
			opened.Store(true)
			panic("hook bug")
		}
	}}
	hs := newEngHarness(t, cfg, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
	})
	require.Eventually(t, func() bool {
		hs.get("/b")
		return opened.Load()
	}, 10*time.Second, 5*time.Millisecond)
	require.Equal(t, http.StatusServiceUnavailable, hs.get("/b").status, "still serving, circuit open")
}
