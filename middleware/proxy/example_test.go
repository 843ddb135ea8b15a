package proxy_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"time"

	"github.com/failsoft/failsoft/middleware/httpfallback"
	"github.com/failsoft/failsoft/middleware/proxy"
	"github.com/failsoft/failsoft/upstream"
)

// A Proxy in front of an upstream: the first request is forwarded and stored, the second
// is a hit; when the upstream is gone, the stored response is still served (stale), and an
// uncached path gets a 502 problem.
func ExampleNew() {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		fmt.Fprintf(w, "hello from %s", r.URL.Path)
	}))

	// A clock the example moves, so that ttl and Age are stable.
	var clock atomic.Int64
	clock.Store(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC).UnixNano())
	now := func() time.Time { return time.Unix(0, clock.Load()) }
	p, err := proxy.New(proxy.Config{
		Upstream: up.URL + "/v1",
		Engine:   httpfallback.Config{Name: "example-proxy", Common: upstream.Common{Now: now}},
		Client:   upstream.ClientConfig{Retry: upstream.RetryPolicy{MaxAttempts: 1}},
	})
	if err != nil {
		panic(err)
	}
	defer p.Close()
	srv := httptest.NewServer(p)
	defer srv.Close()

	get := func(path string) {
		res, err := http.Get(srv.URL + path)
		if err != nil {
			panic(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		fmt.Printf("%d %q age=%s\n  %s\n", res.StatusCode, body, res.Header.Get("Age"), res.Header.Get("Cache-Status"))
	}
	get("/greeting")
	get("/greeting")

	up.Close() // the upstream goes away
	clock.Add(int64(90 * time.Second))
	get("/greeting")
	res, _ := http.Get(srv.URL + "/other")
	res.Body.Close()
	fmt.Println(res.StatusCode, res.Header.Get("Content-Type"))
	// Output:
	// 200 "hello from /v1/greeting" age=0
	//   failsoft; fwd=uri-miss; fwd-status=200; stored
	// 200 "hello from /v1/greeting" age=0
	//   failsoft; hit; ttl=60
	// 200 "hello from /v1/greeting" age=90
	//   failsoft; fwd=stale; ttl=-30; detail=connect-error
	// 502 application/problem+json
}
