package cache_test

import (
	"fmt"
	"net/http"

	"github.com/failsoft/failsoft/cache"
)

// Keying X-Forwarded-Host: requests from the trusted proxy share one key, an attacker's
// value gets a key of its own, and a request without the header keys as before.
func ExampleKeyOptions_Func() {
	key := cache.KeyOptions{Headers: cache.DefaultKeyedHeaders()}.Func()
	req := func(xfh string) *http.Request {
		r, _ := http.NewRequest(http.MethodGet, "http://app.internal:8080/items?id=1", nil)
		if xfh != "" {
			r.Header.Set("X-Forwarded-Host", xfh)
		}
		return r
	}
	fmt.Println(key(req("api.example.com")))
	fmt.Println(key(req("evil.example")))
	fmt.Println(key(req("")))
	// Output:
	// G|http|app.internal:8080|/items?id=1|h|X-Forwarded-Host=api.example.com
	// G|http|app.internal:8080|/items?id=1|h|X-Forwarded-Host=evil.example
	// G|http|app.internal:8080|/items?id=1
}

func ExampleEntry_CopyHeader() {
	e := &cache.Entry{Status: 200, Header: cache.MakeHeader(http.Header{"Content-Type": {"application/json"}})}
	h := http.Header{}
	own := e.CopyHeader(h, 1)
	own[0] = "failsoft; hit; ttl=60"
	h["Cache-Status"] = own[0:1:1]
	fmt.Println(h.Get("Content-Type"), "|", h.Get("Cache-Status"))
	// Output: application/json | failsoft; hit; ttl=60
}
