package echofallback

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/failsoft/failsoft/middleware/httpfallback"
	"github.com/failsoft/failsoft/upstream"
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

// itemHandler answers /items/:id with a body naming the id and the handler run.
func itemHandler(runs *counter, cacheControl string) echo.HandlerFunc {
	return func(c echo.Context) error {
		n := runs.inc()
		c.Response().Header().Set("Cache-Control", cacheControl)
		return c.String(http.StatusOK, fmt.Sprintf("item %s v%d", c.Param("id"), n))
	}
}

func TestFreshHitDoesNotRunHandler(t *testing.T) {
	clk := newClock()
	var runs counter
	f := newFixture(t, clk, Config{Engine: testConfig(t, clk)}, nil, func(e *echo.Echo) {
		e.GET("/items/:id", itemHandler(&runs, "max-age=60"))
	})

	first := f.get(t, "/items/7")
	require.Equal(t, http.StatusOK, first.status)
	require.Equal(t, "item 7 v1", first.body)
	require.Contains(t, first.cacheStatus(), "fwd=uri-miss")
	require.Contains(t, first.cacheStatus(), "stored")

	clk.Advance(10 * time.Second)
	hit := f.get(t, "/items/7")
	require.Equal(t, http.StatusOK, hit.status)
	require.Equal(t, "item 7 v1", hit.body)
	require.Equal(t, 1, runs.get(), "a fresh hit must not run the handler")
	require.Equal(t, "failsoft; hit; ttl=50", hit.cacheStatus())
	require.Equal(t, "10", hit.header.Get("Age"))
	require.Equal(t, "max-age=60", hit.header.Get("Cache-Control"))

	// The route's other ids are other keys.
	other := f.get(t, "/items/8")
	require.Equal(t, "item 8 v2", other.body)
	require.EqualValues(t, 1, f.m.Stats().Hits)
}

func TestHeadOnFreshHit(t *testing.T) {
	clk := newClock()
	var runs counter
	f := newFixture(t, clk, Config{Engine: testConfig(t, clk)}, nil, func(e *echo.Echo) {
		e.GET("/items/:id", itemHandler(&runs, "max-age=60"))
		e.HEAD("/items/:id", itemHandler(&runs, "max-age=60"))
	})
	f.get(t, "/items/1")
	head := f.do(t, http.MethodHead, "/items/1")
	require.Equal(t, http.StatusOK, head.status)
	require.Empty(t, head.body)
	require.Contains(t, head.cacheStatus(), "hit")
	require.Equal(t, 1, runs.get())
}

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

// failTimeout is the command timeout of the failKinds tests: the "timeout" kind waits it out,
// and every good answer must beat it, with room for a loaded CI machine (-race, 2 cores).
const failTimeout = 500 * time.Millisecond

// failKind makes a handler fail in one way.
type failKind struct {
	name   string
	detail string // Cache-Status detail expected when stale is served
	fail   func(c echo.Context) error
}

var failKinds = []failKind{
	{"written-5xx", "upstream-5xx", func(c echo.Context) error { return c.String(http.StatusInternalServerError, "boom") }},
	{"echo-http-error", "upstream-5xx", func(c echo.Context) error { return echo.NewHTTPError(http.StatusServiceUnavailable, "down") }},
	{"plain-error", "upstream-5xx", func(c echo.Context) error { return errors.New("db down") }},
	// Not recovered below the middleware: the engine recovers it (Echo's Recover, when
	// mounted outside, never sees it).
	{"panic", "panic", func(c echo.Context) error { panic("handler exploded") }},
	// Echo's Recover mounted inside the middleware turns it into an error (a 500).
	{"panic-recovered-inside", "upstream-5xx", func(c echo.Context) error {
		return middleware.Recover()(func(echo.Context) error { panic("handler exploded") })(c)
	}},
	{"timeout", "timeout", func(c echo.Context) error {
		<-c.Request().Context().Done()
		return c.Request().Context().Err()
	}},
}

// TestFailuresServeStale: every failure kind, with and without Echo's Recover middleware,
// serves the stored entry within stale-if-error, and the server stays up.
func TestFailuresServeStale(t *testing.T) {
	for _, recover := range []bool{false, true} {
		for _, k := range failKinds {
			t.Run(fmt.Sprintf("%s/recover=%v", k.name, recover), func(t *testing.T) {
				clk := newClock()
				var failing atomic.Bool
				cfg := Config{Engine: testConfig(t, clk)}
				cfg.Engine.Command.Timeout = failTimeout
				var outer []echo.MiddlewareFunc
				if recover {
					outer = append(outer, middleware.Recover())
				}
				f := newFixture(t, clk, cfg, outer, func(e *echo.Echo) {
					e.GET("/items/:id", func(c echo.Context) error {
						if failing.Load() {
							return k.fail(c)
						}
						c.Response().Header().Set("Cache-Control", "max-age=10, stale-if-error=600")
						return c.String(http.StatusOK, "good "+c.Param("id"))
					})
				})
				require.Contains(t, f.get(t, "/items/1").cacheStatus(), "stored")

				failing.Store(true)
				clk.Advance(30 * time.Second)
				r := f.get(t, "/items/1")
				require.Equal(t, http.StatusOK, r.status)
				require.Equal(t, "good 1", r.body)
				require.Contains(t, r.cacheStatus(), "fwd=stale")
				require.Contains(t, r.cacheStatus(), "ttl=-20")
				require.Contains(t, r.cacheStatus(), "detail="+k.detail)
				require.Equal(t, "30", r.header.Get("Age"))

				// The failure was not stored: healthy again, the next request fetches.
				failing.Store(false)
				again := f.get(t, "/items/1")
				require.Equal(t, "good 1", again.body)
				require.Contains(t, again.cacheStatus(), "stored")
			})
		}
	}
}

// TestFailuresWithoutStale: no entry and no default: a clear error, never a stored one.
func TestFailuresWithoutStale(t *testing.T) {
	for _, k := range failKinds {
		t.Run(k.name, func(t *testing.T) {
			clk := newClock()
			cfg := Config{Engine: testConfig(t, clk)}
			cfg.Engine.Command.Timeout = failTimeout
			var runs counter
			f := newFixture(t, clk, cfg, nil, func(e *echo.Echo) {
				e.GET("/items/:id", func(c echo.Context) error {
					runs.inc()
					return k.fail(c)
				})
			})
			r := f.get(t, "/items/1")
			require.GreaterOrEqual(t, r.status, 500, r.body)
			require.NotEmpty(t, r.cacheStatus())
			require.NotContains(t, r.cacheStatus(), "stored")
			switch k.name {
			case "timeout":
				require.Equal(t, http.StatusGatewayTimeout, r.status)
				require.Equal(t, "application/problem+json", r.header.Get("Content-Type"))
			case "echo-http-error":
				require.Equal(t, http.StatusServiceUnavailable, r.status, "the handler's own 5xx")
			case "panic":
				require.Equal(t, http.StatusInternalServerError, r.status)
				require.Equal(t, "application/problem+json", r.header.Get("Content-Type"))
				require.Contains(t, r.cacheStatus(), "detail=panic")
			case "written-5xx":
				require.Equal(t, http.StatusInternalServerError, r.status)
				require.Equal(t, "boom", r.body, "the handler's own 5xx as it wrote it")
			}
			// Nothing was stored and the server is still up.
			f.get(t, "/items/1")
			require.Equal(t, 2, runs.get())
		})
	}
}

// breakerFixture serves /b/:id, failing with 502 while failing is set, behind a breaker
// that opens after 3 requests at 50% errors and sleeps for sleep (real time: hystrix-go
// reads its own clock). The first request is stored, then the clock moves a minute on.
// It returns the fixture, the handler's run counter, and channels that receive the
// breaker's openings and closings.
func breakerFixture(t *testing.T, sleep time.Duration, failing *atomic.Bool) (f *fixture, runs *counter, opened, closed <-chan struct{}) {
	t.Helper()
	clk := newClock()
	runs = &counter{}
	op, cl := make(chan struct{}, 16), make(chan struct{}, 16)
	cfg := Config{Engine: testConfig(t, clk)}
	cfg.Engine.Command.RequestVolumeThreshold = 3
	cfg.Engine.Command.ErrorPercentThreshold = 50
	cfg.Engine.Command.SleepWindow = sleep
	cfg.Engine.OnEvent = func(ev httpfallback.Event) {
		if ev.Kind == httpfallback.EventBreaker {
			ch := op
			if ev.To == upstream.Closed {
				ch = cl
			} else if ev.To != upstream.Open {
				return
			}
			select {
			case ch <- struct{}{}:
			default:
			}
		}
	}
	f = newFixture(t, clk, cfg, nil, func(e *echo.Echo) {
		e.GET("/b/:id", func(c echo.Context) error {
			runs.inc()
			if failing.Load() {
				return c.String(http.StatusBadGateway, "bad")
			}
			c.Response().Header().Set("Cache-Control", "max-age=1, stale-if-error=3600")
			return c.String(http.StatusOK, "ok "+c.Param("id"))
		})
	})
	require.Equal(t, "ok 1", f.get(t, "/b/1").body)
	clk.Advance(time.Minute)
	return f, runs, op, cl
}

// failUntilOpen sends failing requests until the breaker reports its opening (hystrix
// metrics are asynchronous: poll).
func failUntilOpen(t *testing.T, f *fixture, opened <-chan struct{}) {
	t.Helper()
	require.Eventually(t, func() bool {
		select {
		case <-opened:
			return true
		default:
			f.get(t, "/b/1")
			return false
		}
	}, 10*time.Second, 5*time.Millisecond)
}

// The breaker tests assert only what no scheduling delay can change: with an hour-long
// sleep window the circuit stays open; with a short one, the first request after the
// window is the probe, and the handler is reached by nothing else.

func TestBreakerOpenServesStaleWithoutHandler(t *testing.T) {
	var failing atomic.Bool
	f, runs, opened, _ := breakerFixture(t, time.Hour, &failing)
	failing.Store(true)
	failUntilOpen(t, f, opened)

	failing.Store(false) // the handler would answer now: only the open circuit keeps it from running
	before := runs.get()
	for range 3 {
		r := f.get(t, "/b/1")
		require.Equal(t, "ok 1", r.body)
		require.Equal(t, "failsoft; hit; ttl=-59; detail=circuit-open", r.cacheStatus())
	}
	require.Equal(t, before, runs.get(), "breaker open: the handler is not called")
}

func TestBreakerProbeAfterSleepWindowCloses(t *testing.T) {
	var failing atomic.Bool
	f, runs, opened, closed := breakerFixture(t, 200*time.Millisecond, &failing)
	failing.Store(true)
	failUntilOpen(t, f, opened)

	// Healthy again: after the sleep window one probe runs, and its success closes the
	// circuit. Requests before it are answered stale without running the handler.
	failing.Store(false)
	before := runs.get()
	var probe reply
	require.Eventually(t, func() bool {
		probe = f.get(t, "/b/1")
		if runs.get() == before {
			assert.Equal(t, "failsoft; hit; ttl=-59; detail=circuit-open", probe.cacheStatus())
			return false
		}
		return true
	}, 10*time.Second, 10*time.Millisecond)
	require.Contains(t, probe.cacheStatus(), "stored")
	require.Equal(t, "ok 1", probe.body)
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("the breaker did not report closing")
	}
	require.Equal(t, before+1, runs.get(), "exactly one probe ran")
}

func TestDefaultsPerRouteTemplate(t *testing.T) {
	clk := newClock()
	cfg := Config{Engine: testConfig(t, clk)}
	cfg.Engine.Defaults = map[string]*httpfallback.Default{
		"/users/:id": {Status: http.StatusOK, Header: http.Header{"Content-Type": {"application/json"}}, Body: []byte(`{"user":"unknown"}`)},
	}
	cfg.Engine.Default = &httpfallback.Default{Func: func(r *http.Request, reason string) (int, http.Header, []byte) {
		return http.StatusOK, http.Header{"Content-Type": {"text/plain"}}, []byte("global " + reason)
	}}
	var healthy atomic.Bool
	var runs counter
	f := newFixture(t, clk, cfg, nil, func(e *echo.Echo) {
		h := func(c echo.Context) error {
			runs.inc()
			if healthy.Load() {
				return c.String(http.StatusOK, "real")
			}
			return echo.NewHTTPError(http.StatusInternalServerError)
		}
		e.GET("/users/:id", h)
		e.GET("/orders/:id", h)
	})

	for _, id := range []string{"1", "2", "3"} {
		r := f.get(t, "/users/"+id)
		require.Equal(t, http.StatusOK, r.status)
		require.Equal(t, `{"user":"unknown"}`, r.body, "the route template's default, whatever the id")
		require.Contains(t, r.cacheStatus(), "default")
	}
	r := f.get(t, "/orders/9")
	require.Equal(t, "global upstream-5xx", r.body)

	// A default is never stored.
	healthy.Store(true)
	before := runs.get()
	require.Equal(t, "real", f.get(t, "/users/1").body)
	require.Equal(t, before+1, runs.get())
}

func TestUnsafeMethodInvalidates(t *testing.T) {
	clk := newClock()
	var runs, posts counter
	f := newFixture(t, clk, Config{Engine: testConfig(t, clk)}, nil, func(e *echo.Echo) {
		e.GET("/items/:id", itemHandler(&runs, "max-age=600"))
		e.POST("/items/:id", func(c echo.Context) error {
			posts.inc()
			return c.String(http.StatusOK, "updated")
		})
		e.PUT("/items/:id", func(c echo.Context) error {
			return echo.NewHTTPError(http.StatusConflict)
		})
	})
	require.Equal(t, "item 5 v1", f.get(t, "/items/5").body)
	require.Contains(t, f.get(t, "/items/5").cacheStatus(), "hit")

	// A rejected PUT (4xx) leaves the entry alone.
	require.Equal(t, http.StatusConflict, f.do(t, http.MethodPut, "/items/5").status)
	require.Contains(t, f.get(t, "/items/5").cacheStatus(), "hit")

	post := f.do(t, http.MethodPost, "/items/5")
	require.Equal(t, http.StatusOK, post.status)
	require.Equal(t, "updated", post.body)
	require.NotContains(t, post.cacheStatus(), "stored")

	after := f.get(t, "/items/5")
	require.Equal(t, "item 5 v2", after.body, "a successful POST invalidates the URL's entry")
	require.Contains(t, after.cacheStatus(), "stored")
	require.Equal(t, 1, posts.get())
}

func TestClientErrorPassesThrough(t *testing.T) {
	clk := newClock()
	var runs counter
	var missing atomic.Bool
	f := newFixture(t, clk, Config{Engine: testConfig(t, clk)}, nil, func(e *echo.Echo) {
		e.GET("/items/:id", func(c echo.Context) error {
			runs.inc()
			if missing.Load() {
				return echo.NewHTTPError(http.StatusNotFound, "no such item")
			}
			c.Response().Header().Set("Cache-Control", "max-age=1, stale-if-error=600")
			return c.String(http.StatusOK, "here")
		})
	})
	require.Equal(t, "here", f.get(t, "/items/1").body)
	missing.Store(true)
	clk.Advance(time.Minute)

	for range 2 {
		r := f.get(t, "/items/1")
		require.Equal(t, http.StatusNotFound, r.status, "a 4xx is the answer, not a failure: no stale")
		require.Contains(t, r.body, "no such item")
		require.NotContains(t, r.cacheStatus(), "stored")
	}
	require.Equal(t, 3, runs.get(), "the 4xx was not stored")
	require.Zero(t, f.m.Stats().Errors)
	require.Zero(t, f.m.Stats().Stale)

	// Unrouted paths are 404s under the route the router matched, answered and not stored.
	nf := f.get(t, "/nowhere")
	require.Equal(t, http.StatusNotFound, nf.status)
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
