package proxy

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/failsoft/failsoft/upstream"
)

// One failing endpoint opens its own route's breaker, not the whole upstream's: after
// failing requests to /bad/..., other paths are still forwarded. With one breaker per
// upstream, 12 failing requests made every uncached path answer 503 circuit-open.
func TestProxyBreakerIsPerRoute(t *testing.T) {
	up := newPxUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/bad/") {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		_, _ = w.Write([]byte("fine"))
	})
	h := newPxHarness(t, up.srv.URL, nil) // the default breaker settings
	for range 12 {                        // 36 attempts: the breaker opens on the way (then 503)
		require.Contains(t, []int{http.StatusInternalServerError, http.StatusServiceUnavailable}, h.get("/bad/x").status)
	}
	// hystrix updates its counts asynchronously: more failures until it has seen them.
	waitFor(t, func() bool {
		if h.routeState("/bad") == upstream.Open {
			return true
		}
		h.get("/bad/x")
		return false
	})
	r := h.get("/bad/y")
	require.Equal(t, http.StatusServiceUnavailable, r.status)
	require.Equal(t, "circuit-open", problemReason(t, r.body))

	calls := up.hits.Load()
	r = h.get("/good/y")
	require.Equal(t, http.StatusOK, r.status, r.body)
	require.Equal(t, "fine", r.body)
	require.Equal(t, calls+1, up.hits.Load(), "forwarded")
	require.Equal(t, upstream.Closed, h.routeState("/good"))
	require.Equal(t, upstream.Closed, h.routeState("*"))
}

// The engine reads the route's breaker: the proxy's attempts run as the engine's command
// of the route (one breaker, whichever side looks at it).
func TestProxyAttemptsRunAsTheEnginesRouteCommand(t *testing.T) {
	up := newPxUpstream(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusBadGateway) })
	h := newPxHarness(t, up.srv.URL, pxFastBreaker(time.Hour, nil))
	waitFor(t, func() bool {
		h.get("/api/x")
		return h.routeState("/api") == upstream.Open
	})
	rn, err := h.p.engine.Runner("/api")
	require.NoError(t, err)
	require.Equal(t, upstream.Open, rn.State())
	require.Equal(t, upstream.Closed, h.p.client.Runner().State(), "the client's own command is not used before Close")
}

// Routes by first path segment are bounded: past SegmentRoutes distinct segments, requests
// share "*"; a configured prefix is always its own route; a long segment is "*".
func TestProxySegmentRoutesAreBounded(t *testing.T) {
	up := newPxUpstream(t, func(w http.ResponseWriter, r *http.Request) {})
	h := newPxHarness(t, up.srv.URL, func(c *Config) {
		c.SegmentRoutes = 2
		c.Routes = []RouteOverride{{Prefix: "/static/", Fresh: time.Minute}}
	})
	route := func(path string) string {
		return h.p.routeOf(httptestRequest(path), path).name
	}
	require.Equal(t, "/a", route("/a/1"))
	require.Equal(t, "/b", route("/b"))
	require.Equal(t, "*", route("/c/1"), "past the bound")
	require.Equal(t, "/a", route("/a/2"), "a known segment keeps its route")
	require.Equal(t, "/static/", route("/static/app.js"))
	require.Equal(t, "*", route("/"+strings.Repeat("x", maxSegmentLen+1)+"/y"))

	one := newPxHarness(t, up.srv.URL, func(c *Config) { c.SegmentRoutes = -1 })
	require.Equal(t, "*", one.p.routeOf(httptestRequest("/a/1"), "/a/1").name, "negative: one route")
}

func httptestRequest(path string) *http.Request {
	r, _ := http.NewRequest(http.MethodGet, "http://proxy.test"+path, nil)
	return r
}

// In proxy mode the breaker that trips is the route's (the engine's command the client's
// attempts run as): its changes reach OnEvent with the route's name.
func TestProxyBreakerChangesReachOnEvent(t *testing.T) {
	up := newPxUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
	})
	onEvent, opened := onBreakerOpen()
	h := newPxHarness(t, up.srv.URL, pxFastBreaker(time.Hour, onEvent))
	ev := untilOpen(t, opened, func() { h.get("/fail") })
	require.Equal(t, "/fail", ev.Route)
}

// With the default BufferBody, a truncated body fails the attempt inside its command: the
// route's breaker counts it and opens (a 200 found broken after the command would not).
func TestProxyTruncatedBodiesOpenTheBreaker(t *testing.T) {
	up := newPxUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "10")
		_, _ = io.WriteString(w, "half")
	})
	onEvent, opened := onBreakerOpen()
	h := newPxHarness(t, up.srv.URL, pxFastBreaker(time.Hour, onEvent))
	untilOpen(t, opened, func() {
		r := h.get("/truncated")
		require.NotEqual(t, http.StatusOK, r.status, "a truncated body is never a 200")
	})
	calls := up.hits.Load()
	r := h.get("/truncated")
	require.Equal(t, "circuit-open", problemReason(t, r.body))
	require.Equal(t, calls, up.hits.Load(), "an open breaker spares the upstream")
}
