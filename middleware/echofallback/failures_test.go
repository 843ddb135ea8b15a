package echofallback

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/stretchr/testify/require"

	"github.com/failsoft/failsoft/middleware/httpfallback"
)

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
