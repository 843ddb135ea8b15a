package echofallback

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/require"
)

// TestEachRouteRunsItsOwnHandler: with more routes than the table of built handlers has
// slots, requested in turn and each several times in a row, every request runs its own
// route's handler; so does every request when a middleware mounted after this one wraps
// the handler anew on each request (a next never seen twice).
func TestEachRouteRunsItsOwnHandler(t *testing.T) {
	const routes = 3 * handlerSlots
	for _, after := range []bool{false, true} {
		t.Run(fmt.Sprintf("wrapped-after=%t", after), func(t *testing.T) {
			var wraps counter
			f := newFixture(t, newClock(), Config{Engine: testConfig(t, nil)}, nil, func(e *echo.Echo) {
				if after {
					e.Use(countRequests(&wraps))
				}
				for i := range routes {
					e.GET(fmt.Sprintf("/r%d", i), func(c echo.Context) error {
						c.Response().Header().Set("Cache-Control", "no-store")
						return c.String(http.StatusOK, fmt.Sprintf("route %d", i))
					})
				}
			})
			f.direct = true
			requests := 0
			for _, repeat := range []int{1, 3} {
				for i := range routes {
					for range repeat {
						require.Equal(t, fmt.Sprintf("route %d", i), f.get(t, fmt.Sprintf("/r%d", i)).body)
						requests++
					}
				}
			}
			if after {
				require.Equal(t, requests, wraps.get(), "the middleware after this one ran on every request")
			}
		})
	}
}

// TestMiddlewareFuncReusesTheHandlerBuiltForANext: Echo calls the middleware with the
// route's handler on every request; from the second call with the same handler on, the
// handler built around it is returned again (no allocation), and a different handler gets
// its own.
func TestMiddlewareFuncReusesTheHandlerBuiltForANext(t *testing.T) {
	m, err := New(Config{Engine: testConfig(t, nil)})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, m.Close()) })
	mw := m.MiddlewareFunc()
	ran := ""
	next := func(echo.Context) error { ran = "next"; return nil }
	other := func(echo.Context) error { ran = "other"; return nil }

	first, second, third := mw(next), mw(next), mw(next)
	require.NotEqual(t, funcIDOf(first), funcIDOf(second), "seen once: not remembered")
	require.Equal(t, funcIDOf(second), funcIDOf(third), "remembered once seen twice in a row")
	require.Zero(t, testing.AllocsPerRun(100, func() { _ = mw(next) }))

	o := mw(other)
	require.NotEqual(t, funcIDOf(first), funcIDOf(o))
	c := echo.New().NewContext(httptestRequest(t, "/x", "Upgrade", "websocket", "Connection", "upgrade"), nil)
	require.NoError(t, o(c)) // the default skipper passes an upgrade to next
	require.Equal(t, "other", ran)
	require.NoError(t, mw(next)(c))
	require.Equal(t, "next", ran)
}

// funcIDOf is f's identity.
func funcIDOf(f echo.HandlerFunc) uintptr { id, _ := funcID(f); return id }

// httptestRequest is a GET of path with the header fields kv (name, value...).
func httptestRequest(t *testing.T, path string, kv ...string) *http.Request {
	t.Helper()
	r, err := http.NewRequest(http.MethodGet, "http://example.test"+path, nil)
	require.NoError(t, err)
	for i := 0; i+1 < len(kv); i += 2 {
		r.Header.Set(kv[i], kv[i+1])
	}
	return r
}
