package httpfallback_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/failsoft/failsoft/middleware/httpfallback"
)

// Purge by URL and by tag: the answer of /items/1 carried Surrogate-Key "items item-1".
func ExampleEngine_PurgeTag() {
	eng, err := httpfallback.New(httpfallback.Config{Name: "example-purge"})
	if err != nil {
		panic(err)
	}
	defer eng.Close()
	h := eng.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Surrogate-Key", "items item-1")
		fmt.Fprint(w, "item 1")
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "http://api.example/items/1", nil))

	n, err := eng.PurgeTag(context.Background(), "items")
	fmt.Println("purged by tag:", n, err)
	n, err = eng.PurgeURL(context.Background(), "http://api.example/items/1")
	fmt.Println("purged by URL:", n, err) // already gone
	// Output:
	// purged by tag: 1 <nil>
	// purged by URL: 0 <nil>
}

// Stats marshal to JSON per route, with each route's breaker state.
func ExampleEngine_Stats() {
	eng, err := httpfallback.New(httpfallback.Config{Name: "example-stats"})
	if err != nil {
		panic(err)
	}
	defer eng.Close()
	h := eng.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		fmt.Fprint(w, "ok")
	}))
	for range 2 {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/ok", nil))
	}
	for _, rs := range eng.Stats().Routes {
		fmt.Printf("route %s: breaker %s, hits %d, forwarded %d\n", rs.Route, rs.Breaker, rs.Hits, rs.Forwarded)
	}
	// Output: route *: breaker closed, hits 1, forwarded 1
}
