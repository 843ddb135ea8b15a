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
// route's handler on every request; the handler built around it the first time is
// returned again (no allocation), and a different handler gets its own.
func TestMiddlewareFuncReusesTheHandlerBuiltForANext(t *testing.T) {
	m, err := New(Config{Engine: testConfig(t, nil)})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, m.Close()) })
	mw := m.MiddlewareFunc()
	ran := ""
	next := func(echo.Context) error { ran = "next"; return nil }
	other := func(echo.Context) error { ran = "other"; return nil }

	first, second := mw(next), mw(next)
	require.Equal(t, funcIDOf(first), funcIDOf(second), "remembered")
	require.Zero(t, testing.AllocsPerRun(100, func() { _ = mw(next) }))

	c := echo.New().NewContext(httptestRequest(t, "/x", "Upgrade", "websocket", "Connection", "upgrade"), nil)
	require.NoError(t, mw(other)(c)) // the default skipper passes an upgrade to next
	require.Equal(t, "other", ran)
	require.NoError(t, mw(next)(c))
	require.Equal(t, "next", ran)
}

// TestHandlerTableKeepsEachSlotsFirstNext: a slot keeps the first next that came to it; a
// next of another identity in the same slot finds nothing there (and is built around
// each time), and a nil next is never kept.
func TestHandlerTableKeepsEachSlotsFirstNext(t *testing.T) {
	var tab handlers
	var runs []string
	handler := func(name string) echo.HandlerFunc {
		return func(echo.Context) error { runs = append(runs, name); return nil }
	}
	const slot = 7
	a, b := uintptr(0x1000), uintptr(0x2000) // two identities, given the same slot
	tab.remember(0, slot, nil, handler("nil"))
	require.Nil(t, tab.lookup(0, slot), "a nil next is not kept")
	tab.remember(a, slot, handler("next a"), handler("built a"))
	tab.remember(b, slot, handler("next b"), handler("built b"))
	require.Nil(t, tab.lookup(b, slot), "the slot is a's")
	require.Nil(t, tab.lookup(a, slot+1))
	h := tab.lookup(a, slot)
	require.NotNil(t, h)
	require.NoError(t, h(nil))
	require.Equal(t, []string{"built a"}, runs)
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
