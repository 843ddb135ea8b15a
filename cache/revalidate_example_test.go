package cache_test

import (
	"fmt"
	"net/http"
	"time"

	"github.com/failsoft/failsoft/cache"
)

// A must-revalidate response with a validator is kept past its freshness for revalidation
// only: an engine sends its ETag upstream, and never serves it stale when that fails.
// A 404 stored for its explicit freshness is served while fresh, never stale (unless
// Policy.StaleNon2xx).
func ExampleState_ServableStale() {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	req, _ := http.NewRequest(http.MethodGet, "http://example.com/", nil)
	for _, r := range []struct {
		status int
		h      http.Header
	}{
		{http.StatusOK, http.Header{"Cache-Control": {"max-age=60"}, "Etag": {`"v1"`}}},
		{http.StatusOK, http.Header{"Cache-Control": {"max-age=60, must-revalidate"}, "Etag": {`"v1"`}}},
		{http.StatusNotFound, http.Header{"Cache-Control": {"max-age=60"}, "Etag": {`"v1"`}}},
	} {
		e, err := cache.Policy{}.NewEntry(req, r.status, r.h, []byte("hello"), t0, t0)
		if err != nil {
			fmt.Println(err)
			continue
		}
		st := e.State(t0.Add(2 * time.Minute))
		fmt.Println(r.status, r.h.Get("Cache-Control"), "->", st, st.ServableStale())
	}
	// Output:
	// 200 max-age=60 -> stale-if-error true
	// 200 max-age=60, must-revalidate -> revalidate false
	// 404 max-age=60 -> revalidate false
}

func ExamplePolicy_Stores() {
	var p cache.Policy
	fmt.Println(p.Stores(http.StatusOK, http.Header{}))
	fmt.Println(p.Stores(http.StatusNotFound, http.Header{}))
	fmt.Println(p.Stores(http.StatusNotFound, http.Header{"Cache-Control": {"max-age=60"}}))
	fmt.Println(p.Stores(http.StatusPartialContent, http.Header{"Cache-Control": {"max-age=60"}}))
	// Output:
	// true
	// false
	// true
	// false
}

func ExamplePolicy_StaleAllowed() {
	fmt.Println(cache.Policy{}.StaleAllowed(http.StatusOK), cache.Policy{}.StaleAllowed(http.StatusNotFound))
	fmt.Println(cache.Policy{StaleNon2xx: true}.StaleAllowed(http.StatusNotFound))
	// Output:
	// true false
	// true
}
