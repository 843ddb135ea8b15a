package echofallback

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/require"

	"github.com/failsoft/failsoft/middleware/httpfallback"
)

func TestMissCollapse200ConcurrentColdRequests(t *testing.T) {
	clk := newClock()
	var runs counter
	var entered counter
	const n = 200
	release := make(chan struct{})
	started := make(chan struct{})
	f := newFixture(t, clk, Config{Engine: testConfig(t, clk)}, []echo.MiddlewareFunc{countRequests(&entered)}, func(e *echo.Echo) {
		e.GET("/cold/:id", func(c echo.Context) error {
			if runs.inc() == 1 {
				close(started)
			}
			<-release
			c.Response().Header().Set("Cache-Control", "max-age=60")
			return c.String(http.StatusOK, "cold "+c.Param("id"))
		})
	})

	var wg sync.WaitGroup
	replies := make([]reply, n)
	for i := range n {
		wg.Go(func() { replies[i] = f.get(t, "/cold/1") })
	}
	<-started
	// Every other request waits on the leader's fetch (counted by the engine, not just
	// inside the app: one between the app's entry and the engine's lookup could miss the
	// store and find no fetch in flight once released).
	require.Eventually(t, func() bool { return entered.get() == n && f.m.Stats().Waiting == n-1 }, 10*time.Second, time.Millisecond)
	close(release)
	wg.Wait()

	require.Equal(t, 1, runs.get(), "200 concurrent cold requests run the handler once")
	stored := 0
	for _, r := range replies {
		require.Equal(t, http.StatusOK, r.status)
		require.Equal(t, "cold 1", r.body)
		cs := r.cacheStatus()
		switch {
		case strings.Contains(cs, "stored"):
			stored++
		case strings.Contains(cs, "collapsed"), strings.Contains(cs, "hit"):
		default:
			t.Fatalf("unexpected Cache-Status %q", cs)
		}
	}
	require.Equal(t, 1, stored)
}

// TestLeaderClientHangsUp: the leader's client goes away mid-fetch; the waiters still get
// the result, which is stored, and nothing counts as a failure.
func TestLeaderClientHangsUp(t *testing.T) {
	clk := newClock()
	var runs counter
	var entered counter
	started, release := make(chan struct{}), make(chan struct{})
	var breakerEvents atomic.Int32
	cfg := Config{Engine: testConfig(t, clk)}
	cfg.Engine.OnEvent = func(ev httpfallback.Event) {
		if ev.Kind == httpfallback.EventBreaker {
			breakerEvents.Add(1)
		}
	}
	f := newFixture(t, clk, cfg, []echo.MiddlewareFunc{countRequests(&entered)}, func(e *echo.Echo) {
		e.GET("/items/:id", func(c echo.Context) error {
			runs.inc()
			close(started)
			<-release
			c.Response().Header().Set("Cache-Control", "max-age=60")
			return c.String(http.StatusOK, "shared")
		})
	})

	ctx, hangUp := context.WithCancel(context.Background())
	leaderDone := make(chan error, 1)
	go func() {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, f.srv.URL+"/items/1", nil)
		resp, err := f.srv.Client().Do(req)
		if err == nil {
			resp.Body.Close()
		}
		leaderDone <- err
	}()
	<-started
	const waiters = 5
	var wg sync.WaitGroup
	replies := make([]reply, waiters)
	for i := range waiters {
		wg.Go(func() { replies[i] = f.get(t, "/items/1") })
	}
	require.Eventually(t, func() bool { return f.m.Stats().Waiting == waiters }, 10*time.Second, time.Millisecond)
	hangUp()
	require.Error(t, <-leaderDone)
	close(release)
	wg.Wait()

	for _, r := range replies {
		require.Equal(t, http.StatusOK, r.status)
		require.Equal(t, "shared", r.body)
	}
	require.Equal(t, 1, runs.get())
	hit := f.get(t, "/items/1")
	require.Contains(t, hit.cacheStatus(), "hit", "the leader's result was stored")
	require.Zero(t, f.m.Stats().Errors)
	require.Zero(t, breakerEvents.Load())
}
