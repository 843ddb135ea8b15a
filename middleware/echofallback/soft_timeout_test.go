package echofallback

import (
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/failsoft/failsoft/middleware/httpfallback"
)

// A handler that hangs, ignoring its context, for a key holding a usable entry: the
// client gets the entry at the soft timeout, the handler goes on on an echo.Context of its
// own (route parameters found anew, never the pooled one the request used, which Echo
// recycles when the middleware returns: -race would see it), and its late answer is
// stored.
func TestSoftTimeoutServesStaleWhileTheHandlerHangs(t *testing.T) {
	for _, direct := range []bool{false, true} {
		t.Run(map[bool]string{false: "server", true: "direct"}[direct], func(t *testing.T) {
			clk := newClock()
			cfg := Config{Engine: testConfig(t, clk)}
			cfg.Engine.SoftTimeout = 20 * time.Millisecond
			refreshed := make(chan httpfallback.Event, 4)
			cfg.Engine.OnEvent = func(ev httpfallback.Event) {
				if ev.Kind == httpfallback.EventRefresh {
					refreshed <- ev
				}
			}
			release := make(chan struct{})
			var calls atomic.Int64
			f := newFixture(t, clk, cfg, nil, func(e *echo.Echo) {
				e.GET("/items/:id", func(c echo.Context) error {
					n := calls.Add(1)
					if n == 2 {
						<-release // ignores its context
					}
					c.Response().Header().Set("Cache-Control", "max-age=10, stale-if-error=600")
					return c.String(http.StatusOK, "item "+c.Param("id")+" v"+string(rune('0'+n)))
				})
			})
			f.direct = direct
			require.Equal(t, "item 7 v1", f.get(t, "/items/7").body)
			clk.Advance(15 * time.Second)

			r := f.get(t, "/items/7")
			assert.Equal(t, http.StatusOK, r.status)
			assert.Equal(t, "item 7 v1", r.body)
			assert.Equal(t, "failsoft; fwd=stale; ttl=-5; detail=soft-timeout", r.cacheStatus())

			inflight := f.get(t, "/items/7")
			assert.Equal(t, "failsoft; hit; ttl=-5; detail=in-flight", inflight.cacheStatus())

			close(release)
			<-refreshed
			fresh := f.get(t, "/items/7")
			assert.Equal(t, "item 7 v2", fresh.body, "the hanging handler's late answer was stored")
			assert.EqualValues(t, 2, calls.Load())
		})
	}
}
