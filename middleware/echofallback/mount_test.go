package echofallback

import (
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/failsoft/failsoft/middleware/httpfallback"
)

func TestNewRejectsBadConfig(t *testing.T) {
	clk := newClock()

	cfg := Config{Engine: testConfig(t, clk)}
	cfg.Engine.Route = func(*http.Request) string { return "x" }
	_, err := New(cfg)
	require.ErrorIs(t, err, ErrRouteSet)

	cfg = Config{Engine: testConfig(t, clk)}
	cfg.Engine.LockTimeout = -time.Second
	_, err = New(cfg)
	require.Error(t, err)
	require.Contains(t, err.Error(), "LockTimeout")

	_, err = FromEngine(nil, nil)
	require.ErrorIs(t, err, ErrNilEngine)
}

func TestSkipperBypasses(t *testing.T) {
	clk := newClock()
	var runs counter
	cfg := Config{Engine: testConfig(t, clk), Skipper: func(c echo.Context) bool {
		return c.Path() == "/live"
	}}
	f := newFixture(t, clk, cfg, nil, func(e *echo.Echo) {
		e.GET("/live", itemHandler(&runs, "max-age=60"))
		e.GET("/cached", itemHandler(&runs, "max-age=60"))
	})
	for range 3 {
		r := f.get(t, "/live")
		require.Empty(t, r.cacheStatus())
	}
	require.Equal(t, 3, runs.get())
	f.get(t, "/cached")
	f.get(t, "/cached")
	require.Equal(t, 4, runs.get())
}

func TestDefaultSkipperBypassesUpgrades(t *testing.T) {
	clk := newClock()
	var runs counter
	f := newFixture(t, clk, Config{Engine: testConfig(t, clk)}, nil, func(e *echo.Echo) {
		e.GET("/ws", itemHandler(&runs, "max-age=60"))
	})
	for range 2 {
		r := f.get(t, "/ws", "Connection", "keep-alive, Upgrade", "Upgrade", "websocket")
		require.Empty(t, r.cacheStatus())
	}
	require.Equal(t, 2, runs.get())
	require.NotEmpty(t, f.get(t, "/ws").cacheStatus())

	// A Server-Sent Events request is skipped too: never buffered, cached or timed out.
	for range 2 {
		r := f.get(t, "/ws", "Accept", "text/event-stream")
		require.Empty(t, r.cacheStatus())
	}
	require.Equal(t, 5, runs.get())
}

// TestResponseHooksAndStateOnce: outer middlewares see one committed response with the
// final status and size (also when the handler's own answer was a failure replaced by
// stale), their Before/After hooks run once; hooks registered inside the chain shape the
// buffered (and stored) answer.
func TestResponseHooksAndStateOnce(t *testing.T) {
	clk := newClock()
	type seen struct {
		status          int
		size            int64
		committed       bool
		befores, afters int
	}
	var mu sync.Mutex
	var log []seen
	outer := func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			var s seen
			c.Response().Before(func() { s.befores++ })
			c.Response().After(func() { s.afters++ })
			err := next(c)
			s.status, s.size, s.committed = c.Response().Status, c.Response().Size, c.Response().Committed
			mu.Lock()
			log = append(log, s)
			mu.Unlock()
			return err
		}
	}
	inner := func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			c.Response().Before(func() { c.Response().Header().Set("X-Inner", "yes") })
			return next(c)
		}
	}
	var failing atomic.Bool
	f := newFixture(t, clk, Config{Engine: testConfig(t, clk)}, []echo.MiddlewareFunc{outer}, func(e *echo.Echo) {
		e.GET("/items/:id", func(c echo.Context) error {
			if failing.Load() {
				return c.String(http.StatusInternalServerError, "a much longer failure body")
			}
			c.Response().Header().Set("Cache-Control", "max-age=60")
			return c.String(http.StatusCreated, "twelve bytes")
		}, inner)
	})
	miss := f.get(t, "/items/1")
	hit := f.get(t, "/items/1")
	failing.Store(true)
	clk.Advance(2 * time.Minute)
	stale := f.get(t, "/items/1")
	for _, r := range []reply{miss, hit, stale} {
		require.Equal(t, http.StatusCreated, r.status)
		require.Equal(t, "twelve bytes", r.body)
		require.Equal(t, "yes", r.header.Get("X-Inner"))
	}
	require.Contains(t, hit.cacheStatus(), "hit")
	require.Contains(t, stale.cacheStatus(), "fwd=stale")
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, log, 3)
	for _, s := range log {
		assert.Equal(t, seen{status: http.StatusCreated, size: 12, committed: true, befores: 1, afters: 1}, s)
	}
}

// TestFromEngineSharesOneEngine: one engine behind an Echo app and a net/http mux; closing
// the adapter leaves a shared engine open.
func TestFromEngineSharesOneEngine(t *testing.T) {
	clk := newClock()
	eng, err := httpfallback.New(testConfig(t, clk))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, eng.Close()) })
	m, err := FromEngine(eng, nil)
	require.NoError(t, err)
	require.Same(t, eng, m.Engine())

	var runs counter
	e := echo.New()
	e.Use(m.MiddlewareFunc())
	e.GET("/items/:id", itemHandler(&runs, "max-age=60"))
	mux := http.NewServeMux()
	mux.Handle("/plain/{id}", eng.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		runs.inc()
		w.Header().Set("Cache-Control", "max-age=60")
		_, _ = w.Write([]byte("plain"))
	})))
	mux.Handle("/", e)
	f := &fixture{e: e, m: m, clk: clk}
	f.srv = newServer(t, mux)

	f.get(t, "/items/1")
	f.get(t, "/plain/1")
	require.NoError(t, m.Close())
	require.Contains(t, f.get(t, "/items/1").cacheStatus(), "hit", "Close of a FromEngine adapter leaves the engine open")
	require.Contains(t, f.get(t, "/plain/1").cacheStatus(), "hit")
	require.Equal(t, 2, runs.get())
	require.EqualValues(t, 2, eng.Stats().Hits)
	require.EqualValues(t, 2, m.Stats().Hits)
}

// TestServeAfterClose: a closed middleware still answers, from the handler, inline.
func TestServeAfterClose(t *testing.T) {
	clk := newClock()
	var runs counter
	outer := func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			c.Set("tenant", "acme")
			return next(c)
		}
	}
	f := newFixture(t, clk, Config{Engine: testConfig(t, clk)}, []echo.MiddlewareFunc{outer}, func(e *echo.Echo) {
		e.GET("/items/:id", func(c echo.Context) error {
			runs.inc()
			return c.String(http.StatusOK, c.Param("id")+" "+c.Get("tenant").(string))
		})
	})
	require.NoError(t, f.m.Close())
	for range 2 {
		r := f.get(t, "/items/4")
		require.Equal(t, http.StatusOK, r.status)
		require.Equal(t, "4 acme", r.body)
	}
	require.Equal(t, 2, runs.get())
}

func TestCloseTwice(t *testing.T) {
	clk := newClock()
	m, err := New(Config{Engine: testConfig(t, clk)})
	require.NoError(t, err)
	require.NoError(t, m.Close())
	require.NoError(t, m.Close())
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
