package httpfallback

import (
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestRouteStatsAreTheSameWithoutObservers: without Config.OnEvent and quiet log, the
// engine counts misses, hits and the answers of an outage (stale, defaults, collapsed
// defaults) without building their events; each route's counters come out as they do
// when every event is built and passed to OnEvent.
func TestRouteStatsAreTheSameWithoutObservers(t *testing.T) {
	observed := outageRouteStats(t, true)
	unobserved := outageRouteStats(t, false)
	require.Equal(t, observed, unobserved)

	byRoute := map[string]RouteStats{}
	for _, rs := range unobserved {
		byRoute[rs.Route] = rs
	}
	stale, dflt := byRoute["stale"], byRoute["dflt"]
	require.EqualValues(t, 1, stale.Hits)
	require.EqualValues(t, 1, stale.Stale)
	require.EqualValues(t, 2, dflt.Defaults, "the leader's and the waiter's")
	require.EqualValues(t, 1, dflt.Collapsed, "the waiter's default is the leader's fetch's")
	require.EqualValues(t, 2, dflt.Misses, "the waiter missed too")
}

// outageRouteStats runs one scenario (route "stale": a miss, a hit, then a stale answer
// while the source fails; route "dflt": a leader and a waiter answered the default when
// the source fails) and returns the routes' stats; observe sets OnEvent.
func outageRouteStats(t *testing.T, observe bool) []RouteStats {
	release := make(chan struct{})
	var fail atomic.Bool
	cfg := heldLeaderConfig(30 * time.Second)
	cfg.Route = routeByFirstSegment
	cfg.Defaults = map[string]*Default{"dflt": {Status: http.StatusOK, Body: []byte("default")}}
	var events atomic.Int64
	if observe {
		cfg.OnEvent = func(Event) { events.Add(1) }
	}
	hs := newEngHarness(t, cfg, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasPrefix(r.URL.Path, "/dflt/"):
			<-release
			w.WriteHeader(http.StatusServiceUnavailable)
		case fail.Load():
			w.WriteHeader(http.StatusServiceUnavailable)
		default:
			w.Header().Set("Cache-Control", "max-age=1, stale-if-error=600")
			fmt.Fprint(w, "ok")
		}
	})
	require.Equal(t, "ok", hs.get("/stale/1").body)
	require.Equal(t, "ok", hs.get("/stale/1").body)
	hs.clock.Advance(2 * time.Second)
	fail.Store(true)
	require.Equal(t, "ok", hs.get("/stale/1").body)

	leader := goGet(hs, "/dflt/1")
	waitFor(t, func() bool { return hs.calls.Load() == 3 })
	waiter := goGet(hs, "/dflt/1")
	waitWaiting(t, hs, 1)
	close(release)
	require.Equal(t, "default", (<-leader).body)
	require.Equal(t, "default", (<-waiter).body)
	require.Equal(t, observe, events.Load() > 0)
	return hs.eng.Stats().Routes
}
