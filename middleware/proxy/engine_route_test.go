package proxy

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// With Engine.Route set, a request under no Routes prefix is the route Engine.Route names
// ("*" for ""), one route (and Fetcher) per name; a Routes prefix still wins.
func TestProxyEngineRouteNamesTheRoute(t *testing.T) {
	up := newPxUpstream(t, func(w http.ResponseWriter, r *http.Request) {})
	h := newPxHarness(t, up.srv.URL, func(c *Config) {
		c.Engine.Route = func(r *http.Request) string { return r.URL.Query().Get("route") }
		c.Routes = []RouteOverride{{Prefix: "/static/", Fresh: time.Minute}}
	})
	route := func(target string) *proxyRoute {
		r := httptestRequest(target)
		return h.p.routeOf(r, r.URL.Path)
	}
	a := route("/x?route=tenant-a")
	require.Equal(t, "tenant-a", a.name)
	require.Same(t, a, route("/y?route=tenant-a"), "one route per name")
	require.Equal(t, "tenant-b", route("/x?route=tenant-b").name)
	require.Same(t, h.p.star, route("/x"), `"" is "*"`)
	require.Equal(t, "/static/", route("/static/app.js?route=tenant-a").name)
}
