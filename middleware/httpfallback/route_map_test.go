package httpfallback

import (
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestRouteMapGivesEachRouteItsOwnValue: routes requested in turn, many sharing a slot of
// the front table (more routes than slots, some of equal length and bytes where
// the slot is picked), each get their own value, the same one every time, and each lists
// every route once with its value.
func TestRouteMapGivesEachRouteItsOwnValue(t *testing.T) {
	var rm routeMap[routeCounters]
	var routes []string
	for i := range 5 * frontSlots {
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

// TestRouteMapCountsEveryGetFromManyGoroutines: goroutines getting routes in turn (their
// nodes created, published in the map and the front table meanwhile) lose no count.
func TestRouteMapCountsEveryGetFromManyGoroutines(t *testing.T) {
	var rm routeMap[routeCounters]
	routes := make([]string, 3*frontSlots)
	for i := range routes {
		routes[i] = fmt.Sprintf("/g%d", i)
	}
	const goroutines, rounds = 8, 50
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for r := range rounds {
				rm.get(routes[(g+r)%len(routes)]).hits.Add(1)
			}
		})
	}
	wg.Wait()
	var total uint64
	rm.each(func(_ string, c *routeCounters) { total += c.hits.Load() })
	require.EqualValues(t, goroutines*rounds, total)
}
