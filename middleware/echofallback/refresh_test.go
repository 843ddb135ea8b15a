package echofallback

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/require"

	"github.com/failsoft/failsoft/middleware/httpfallback"
)

// TestStaleWhileRevalidateRefreshesInBackground runs through a server and, direct, through
// e.ServeHTTP (requests whose context has no connection address: the marked path).
func TestStaleWhileRevalidateRefreshesInBackground(t *testing.T) {
	for _, direct := range []bool{false, true} {
		t.Run(fmt.Sprintf("direct=%v", direct), func(t *testing.T) { testStaleWhileRevalidate(t, direct) })
	}
}

func testStaleWhileRevalidate(t *testing.T, direct bool) {
	clk := newClock()
	var runs counter
	refreshed := make(chan string, 4)
	cfg := Config{Engine: testConfig(t, clk)}
	cfg.Engine.OnEvent = func(ev httpfallback.Event) {
		if ev.Kind == httpfallback.EventRefresh {
			refreshed <- ev.Reason
		}
	}
	// The outer middleware records every pooled echo.Context requests get, and stores a
	// value with c.Set: the inline fetch sees it.
	var mu sync.Mutex
	pooled := map[echo.Context]bool{}
	outer := func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			mu.Lock()
			pooled[c] = true
			mu.Unlock()
			c.Set("tenant", "acme")
			return next(c)
		}
	}
	refreshing := make(chan struct{})
	proceed := make(chan struct{})
	var refreshCtx echo.Context
	f := newFixture(t, clk, cfg, []echo.MiddlewareFunc{outer}, func(e *echo.Echo) {
		e.GET("/items/:id", func(c echo.Context) error {
			n := runs.inc()
			if n == 2 { // the background refresh
				refreshCtx = c
				close(refreshing)
				<-proceed
			}
			tenant, _ := c.Get("tenant").(string)
			c.Response().Header().Set("Cache-Control", "max-age=10, stale-while-revalidate=60")
			return c.String(http.StatusOK, fmt.Sprintf("item %s v%d %s", c.Param("id"), n, tenant))
		})
		e.GET("/other", func(c echo.Context) error { return c.String(http.StatusOK, "other") })
	})
	f.direct = direct

	require.Equal(t, "item 3 v1 acme", f.get(t, "/items/3").body)

	clk.Advance(20 * time.Second)
	stale := f.get(t, "/items/3")
	require.Equal(t, http.StatusOK, stale.status)
	require.Equal(t, "item 3 v1 acme", stale.body, "stale within stale-while-revalidate is served at once")
	require.Contains(t, stale.cacheStatus(), "ttl=-10")
	require.Equal(t, "20", stale.header.Get("Age"))

	// While the refresh runs, other requests reuse the pooled contexts (-race would see a
	// refresh using one of them).
	<-refreshing
	for range 3 {
		require.Equal(t, "other", f.get(t, "/other").body)
	}
	close(proceed)
	select {
	case reason := <-refreshed:
		require.Empty(t, reason, "the refresh succeeded")
	case <-time.After(10 * time.Second):
		t.Fatal("no background refresh")
	}
	require.Equal(t, 2, runs.get())
	mu.Lock()
	require.False(t, pooled[refreshCtx], "the background refresh ran on a request's pooled echo.Context")
	mu.Unlock()

	// The refresh was routed afresh (right param) on its own context (no c.Set values).
	fresh := f.get(t, "/items/3")
	require.Contains(t, fresh.cacheStatus(), "hit")
	require.Equal(t, "item 3 v2 ", fresh.body)
	require.Equal(t, 2, runs.get())
}

// TestOneRefreshPerKeyAndCloseStopsIt: stale requests while a refresh runs do not start
// another; Close cancels the running refresh's context and waits for it (goleak checks
// nothing is left).
func TestOneRefreshPerKeyAndCloseStopsIt(t *testing.T) {
	clk := newClock()
	var runs counter
	refreshing := make(chan struct{})
	var refreshErr atomic.Value
	cfg := Config{Engine: testConfig(t, clk)}
	m, err := New(cfg)
	require.NoError(t, err)
	e := echo.New()
	e.Use(m.MiddlewareFunc())
	e.GET("/items/:id", func(c echo.Context) error {
		if runs.inc() == 2 { // the refresh: blocks until its context ends
			close(refreshing)
			<-c.Request().Context().Done()
			refreshErr.Store(c.Request().Context().Err())
			return c.Request().Context().Err()
		}
		c.Response().Header().Set("Cache-Control", "max-age=10, stale-while-revalidate=600")
		return c.String(http.StatusOK, "v1")
	})
	srv := newServer(t, e)
	f := &fixture{e: e, m: m, srv: srv, clk: clk}

	f.get(t, "/items/1")
	clk.Advance(time.Minute)
	for range 5 {
		r := f.get(t, "/items/1")
		require.Equal(t, "v1", r.body)
		require.Contains(t, r.cacheStatus(), "stale-while-revalidate")
	}
	<-refreshing
	require.Equal(t, 2, runs.get(), "one background refresh per key")

	require.NoError(t, m.Close()) // cancels and waits for the refresh
	require.Equal(t, context.Canceled, refreshErr.Load())
}
