package echofallback

import (
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
)

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
