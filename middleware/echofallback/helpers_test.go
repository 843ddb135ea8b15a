package echofallback

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/require"

	"github.com/failsoft/failsoft/internal/fakeclock"
	"github.com/failsoft/failsoft/internal/leaktest"
	"github.com/failsoft/failsoft/middleware/httpfallback"
	"github.com/failsoft/failsoft/upstream"
)

func TestMain(m *testing.M) { leaktest.Main(m) }

// clock is the fake clock the tests advance by hand.
type clock = fakeclock.Clock

func newClock() *clock { return fakeclock.New() }

// testConfig is an engine configuration for tests: the fake clock clk (nil: the real one),
// a generous timeout (so that slow CI never turns a waiter into a fetcher) and a breaker
// that does not open unless a test asks for it.
func testConfig(t testing.TB, clk *clock) httpfallback.Config {
	cfg := httpfallback.Config{
		MaxBytes: 8 << 20,
		// Off unless the test is about it: a busy machine must not turn a quick fetch
		// into a soft-timeout answer in tests that check other paths.
		SoftTimeout: -1,
		Common: upstream.Common{Command: upstream.Settings{
			Timeout:                10 * time.Second,
			MaxConcurrent:          1000,
			RequestVolumeThreshold: 1 << 20,
		}},
	}
	if clk != nil {
		cfg.Now = clk.Now
	}
	return cfg
}

// fixture is an Echo app behind the middleware, served by a loopback httptest server.
type fixture struct {
	e   *echo.Echo
	m   *Middleware
	srv *httptest.Server
	clk *clock
	// direct: requests go straight to e.ServeHTTP, without a server (their context has
	// no connection address), instead of through srv.
	direct bool
}

// newFixture builds the middleware from cfg, lets routes register handlers (with outer
// middlewares mounted before the fallback middleware by outer) and starts the server.
func newFixture(t testing.TB, clk *clock, cfg Config, outer []echo.MiddlewareFunc, routes func(e *echo.Echo)) *fixture {
	t.Helper()
	m, err := New(cfg)
	require.NoError(t, err)
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.Use(outer...)
	e.Use(m.MiddlewareFunc())
	routes(e)
	srv := httptest.NewServer(e)
	f := &fixture{e: e, m: m, srv: srv, clk: clk}
	t.Cleanup(func() {
		srv.Close()
		require.NoError(t, m.Close())
	})
	return f
}

// reply is what a client saw.
type reply struct {
	status int
	header http.Header
	body   string
}

func (r reply) cacheStatus() string { return r.header.Get("Cache-Status") }

func (f *fixture) do(t testing.TB, method, path string, hdr ...string) reply {
	t.Helper()
	req, err := http.NewRequest(method, f.srv.URL+path, nil)
	require.NoError(t, err)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	if f.direct {
		rec := httptest.NewRecorder()
		f.e.ServeHTTP(rec, req)
		return reply{status: rec.Code, header: rec.Result().Header, body: rec.Body.String()}
	}
	resp, err := f.srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return reply{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

func (f *fixture) get(t testing.TB, path string, hdr ...string) reply {
	t.Helper()
	return f.do(t, http.MethodGet, path, hdr...)
}

// counter counts handler runs.
type counter struct {
	mu sync.Mutex
	n  int
}

func (c *counter) inc() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n++
	return c.n
}

func (c *counter) get() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// countRequests is an outer middleware counting the requests that enter the app.
func countRequests(n *counter) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			n.inc()
			return next(c)
		}
	}
}

// newServer serves h on loopback until the test ends.
func newServer(t testing.TB, h http.Handler) *httptest.Server {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// itemHandler answers /items/:id with a body naming the id and the handler run.
func itemHandler(runs *counter, cacheControl string) echo.HandlerFunc {
	return func(c echo.Context) error {
		n := runs.inc()
		c.Response().Header().Set("Cache-Control", cacheControl)
		return c.String(http.StatusOK, fmt.Sprintf("item %s v%d", c.Param("id"), n))
	}
}
