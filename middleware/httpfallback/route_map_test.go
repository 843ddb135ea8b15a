package httpfallback

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestRouteMapGivesEachRouteItsOwnValue: routes requested in turn, many sharing a slot of
// the table of recent nodes (more routes than slots, some of equal length and bytes where
// the slot is picked), each get their own value, the same one every time, and each lists
// every route once with its value.
func TestRouteMapGivesEachRouteItsOwnValue(t *testing.T) {
	var rm routeMap[routeCounters]
	var routes []string
	for i := range 5 * recentRoutes {
		routes = append(routes, fmt.Sprintf("/r%03d/:id", i), fmt.Sprintf("/x%03d/:id", i))
	}
	routes = append(routes, "", "*")
	for round := range 3 {
		for i, r := range routes {
			for range i%3 + 1 { // runs of one route, and routes in turn
				rm.get(r).hits.Add(1)
			}
			if round == 0 {
				require.Nil(t, rm.lookup(r+"?"), "never got")
			}
		}
	}
	seen := 0
	rm.each(func(route string, c *routeCounters) {
		seen++
		i := -1
		for j, r := range routes {
			if r == route {
				i = j
			}
		}
		require.NotEqual(t, -1, i, route)
		require.Equal(t, uint64(3*(i%3+1)), c.hits.Load(), route)
		require.Same(t, c, rm.get(route), route)
		require.Same(t, c, rm.lookup(route), route)
	})
	require.Equal(t, len(routes), seen)
}
