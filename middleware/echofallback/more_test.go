package echofallback

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/stretchr/testify/require"

	"github.com/failsoft/failsoft/cache"
	"github.com/failsoft/failsoft/middleware/httpfallback"
)

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

// TestCircuitOpenWithoutStale: no entry and the circuit open: 503 with Retry-After, as
// application/problem+json, without running the handler.
func TestCircuitOpenWithoutStale(t *testing.T) {
	clk := newClock()
	var runs counter
	cfg := Config{Engine: testConfig(t, clk)}
	cfg.Engine.Command.RequestVolumeThreshold = 3
	cfg.Engine.Command.SleepWindow = time.Hour
	f := newFixture(t, clk, cfg, nil, func(e *echo.Echo) {
		e.GET("/down/:id", func(c echo.Context) error {
			runs.inc()
			return echo.NewHTTPError(http.StatusInternalServerError, "down")
		})
	})
	var r reply
	require.Eventually(t, func() bool {
		r = f.get(t, "/down/1")
		return r.status == http.StatusServiceUnavailable
	}, 10*time.Second, 5*time.Millisecond)
	before := runs.get()
	r = f.get(t, "/down/2")
	require.Equal(t, http.StatusServiceUnavailable, r.status)
	require.Equal(t, before, runs.get())
	require.Equal(t, "3600", r.header.Get("Retry-After"))
	require.Equal(t, "application/problem+json", r.header.Get("Content-Type"))
	require.Contains(t, r.cacheStatus(), "detail=circuit-open")
	var problem struct {
		Status int    `json:"status"`
		Title  string `json:"title"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.body), &problem))
	require.Equal(t, http.StatusServiceUnavailable, problem.Status)
	require.NotEmpty(t, problem.Title)
}

// TestAlternateAndValidator: a body that fails validation is a failure, never stored; the
// alternate answers before the default.
func TestAlternateAndValidator(t *testing.T) {
	clk := newClock()
	var runs, alternates counter
	cfg := Config{Engine: testConfig(t, clk)}
	cfg.Engine.Validate = func(status int, h http.Header, body []byte) error {
		if strings.HasPrefix(h.Get("Content-Type"), "application/json") && !json.Valid(body) {
			return fmt.Errorf("invalid JSON")
		}
		return nil
	}
	cfg.Engine.Alternate = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		alternates.inc()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"from":"mirror"}`)
	})
	cfg.Engine.Default = &httpfallback.Default{Body: []byte("default")}
	f := newFixture(t, clk, cfg, nil, func(e *echo.Echo) {
		e.GET("/items/:id", func(c echo.Context) error {
			runs.inc()
			c.Response().Header().Set("Cache-Control", "max-age=60")
			return c.Blob(http.StatusOK, "application/json", []byte(`{"truncated":`))
		})
	})
	r := f.get(t, "/items/1")
	require.Equal(t, http.StatusOK, r.status)
	require.Equal(t, `{"from":"mirror"}`, r.body)
	require.Contains(t, r.cacheStatus(), "detail=alternate")
	f.get(t, "/items/1")
	require.Equal(t, 2, runs.get(), "the invalid body was not stored")
	require.Equal(t, 2, alternates.get())
}

// TestLargeResponseStreamedNotStored: a body over Policy.MaxBodyBytes reaches the client
// whole, through the original echo.Response (outer middlewares see its size), and is not
// stored.
func TestLargeResponseStreamedNotStored(t *testing.T) {
	clk := newClock()
	var runs counter
	const size = 64 << 10
	cfg := Config{Engine: testConfig(t, clk)}
	cfg.Engine.Policy = cache.Policy{MaxBodyBytes: 4 << 10}
	var sizes []int64
	var mu sync.Mutex
	outer := func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			err := next(c)
			mu.Lock()
			sizes = append(sizes, c.Response().Size)
			mu.Unlock()
			return err
		}
	}
	chunk := []byte(strings.Repeat("x", 1024))
	f := newFixture(t, clk, cfg, []echo.MiddlewareFunc{outer}, func(e *echo.Echo) {
		e.GET("/big", func(c echo.Context) error {
			runs.inc()
			c.Response().Header().Set("Cache-Control", "max-age=60")
			c.Response().WriteHeader(http.StatusOK)
			for range size / len(chunk) {
				if _, err := c.Response().Write(chunk); err != nil {
					return err
				}
			}
			return nil
		})
	})
	for range 2 {
		r := f.get(t, "/big")
		require.Equal(t, http.StatusOK, r.status)
		require.Len(t, r.body, size)
		require.NotContains(t, r.cacheStatus(), "stored")
	}
	require.Equal(t, 2, runs.get())
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, []int64{size, size}, sizes)
}

// TestGroupAndRouteMounts: mounted on a group or a single route, the route is the full
// template, and a background refresh (routed afresh) runs the same chain.
func TestGroupAndRouteMounts(t *testing.T) {
	clk := newClock()
	m, err := New(Config{Engine: testConfig(t, clk)})
	require.NoError(t, err)
	var routes sync.Map
	e := echo.New()
	var runs counter
	h := func(c echo.Context) error {
		n := runs.inc()
		routes.Store(c.Path(), true)
		c.Response().Header().Set("Cache-Control", "max-age=10, stale-while-revalidate=60")
		return c.String(http.StatusOK, fmt.Sprintf("%s v%d", c.Param("id"), n))
	}
	g := e.Group("/api", m.MiddlewareFunc())
	g.GET("/items/:id", h)
	e.GET("/solo/:id", h, m.MiddlewareFunc())
	e.GET("/plain/:id", h)
	srv := newServer(t, e)
	t.Cleanup(func() { require.NoError(t, m.Close()) })
	f := &fixture{e: e, m: m, srv: srv, clk: clk}

	require.Equal(t, "1 v1", f.get(t, "/api/items/1").body)
	require.Equal(t, "2 v2", f.get(t, "/solo/2").body)
	require.Empty(t, f.get(t, "/plain/3").cacheStatus(), "not mounted there")
	require.Equal(t, 3, runs.get())

	clk.Advance(20 * time.Second)
	require.Contains(t, f.get(t, "/api/items/1").cacheStatus(), "stale-while-revalidate")
	require.Contains(t, f.get(t, "/solo/2").cacheStatus(), "stale-while-revalidate")
	require.Eventually(t, func() bool { return m.Stats().Refreshes == 2 }, 10*time.Second, time.Millisecond)
	require.Equal(t, 5, runs.get())
	refreshed := f.get(t, "/api/items/1")
	require.Contains(t, refreshed.cacheStatus(), "hit")
	require.Contains(t, []string{"1 v4", "1 v5"}, refreshed.body, "the refreshed entry")
	for _, p := range []string{"/api/items/:id", "/solo/:id", "/plain/:id"} {
		_, ok := routes.Load(p)
		require.True(t, ok, p)
	}
}

// TestOuterResponseHeadersNotStored: headers that middlewares mounted outside set on the
// response (a request id) belong to each request: they reach the client but are never
// stored and replayed.
func TestOuterResponseHeadersNotStored(t *testing.T) {
	clk := newClock()
	var runs counter
	f := newFixture(t, clk, Config{Engine: testConfig(t, clk)}, []echo.MiddlewareFunc{middleware.RequestID()}, func(e *echo.Echo) {
		e.GET("/items/:id", itemHandler(&runs, "max-age=60"))
	})
	miss := f.get(t, "/items/1")
	hit := f.get(t, "/items/1")
	require.Contains(t, hit.cacheStatus(), "hit")
	missID, hitID := miss.header.Get(echo.HeaderXRequestID), hit.header.Get(echo.HeaderXRequestID)
	require.NotEmpty(t, missID)
	require.NotEmpty(t, hitID)
	require.NotEqual(t, missID, hitID, "the hit carries its own request id, not the stored one")
	require.Len(t, hit.header.Values(echo.HeaderXRequestID), 1)
}
