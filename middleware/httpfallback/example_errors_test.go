package httpfallback_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/failsoft/failsoft/middleware/httpfallback"
	"github.com/failsoft/failsoft/upstream"
)

// An ErrorHandler that calls WriteError for every error masks the source's failing
// answers (here a handler's 500 with a stack trace) behind the engine's problem+json.
func ExampleEngine_WriteError() {
	var eng *httpfallback.Engine
	eng, err := httpfallback.New(httpfallback.Config{
		Name: "example-mask",
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			eng.WriteError(w, r, err)
		},
	})
	if err != nil {
		panic(err)
	}
	defer eng.Close()
	h := eng.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprint(w, "panic: nil map\ngoroutine 1 [running]")
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/items/1", nil))
	fmt.Println(rec.Code, rec.Header().Get("Content-Type"))
	fmt.Println(rec.Header().Get("Cache-Status"))
	fmt.Println(strings.Contains(rec.Body.String(), "goroutine"))
	// Output:
	// 500 application/problem+json
	// failsoft; fwd=uri-miss; fwd-status=500; detail=upstream-5xx
	// false
}

// A Fetcher refuses a request itself with a *RefusalError: the engine answers it with that
// status, not as the upstream failing.
func ExampleRefusalError() {
	eng, err := httpfallback.New(httpfallback.Config{Name: "example-refusal"})
	if err != nil {
		panic(err)
	}
	defer eng.Close()
	fetch := func(ctx context.Context, w http.ResponseWriter, r *http.Request) error {
		if r.URL.Query().Has("debug") {
			return &httpfallback.RefusalError{Status: http.StatusBadRequest, Detail: "debug is not allowed here."}
		}
		_, err := io.WriteString(w, "ok")
		return err
	}
	rec := httptest.NewRecorder()
	eng.Serve(rec, httptest.NewRequest(http.MethodGet, "/items?debug", nil), "items", fetch)
	fmt.Println(rec.Code, rec.Header().Get("Cache-Status"))
	fmt.Println(rec.Body.String())
	// Output:
	// 400 failsoft; detail=refused
	// {"type":"about:blank","title":"Bad Request","status":400,"detail":"debug is not allowed here.","reason":"refused"}
}

// A Fetcher that calls an upstream with an upstream.Client runs its attempts as the route's
// command, so that the engine and the client share one breaker per route.
func ExampleEngine_Runner() {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
	}))
	defer up.Close()
	eng, err := httpfallback.New(httpfallback.Config{
		Name:   "example-runner",
		Common: upstream.Common{Command: upstream.Settings{RequestVolumeThreshold: 1, ErrorPercentThreshold: 1}},
	})
	if err != nil {
		panic(err)
	}
	defer eng.Close()
	client, err := upstream.NewClient(upstream.ClientConfig{
		Common: upstream.Common{Command: upstream.Settings{Name: "example-runner-client"}},
		Retry:  upstream.RetryPolicy{MaxAttempts: 1},
	})
	if err != nil {
		panic(err)
	}
	defer client.Close()
	fetch := func(ctx context.Context, w http.ResponseWriter, r *http.Request) error {
		rn, _ := eng.Runner("orders") // nil after Close: the client's own command
		req, err := http.NewRequestWithContext(ctx, r.Method, up.URL+r.URL.Path, nil)
		if err != nil {
			return err
		}
		resp, err := client.DoWith(rn, req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		w.WriteHeader(resp.StatusCode)
		_, err = io.Copy(w, resp.Body)
		return err
	}
	rec := httptest.NewRecorder()
	eng.Serve(rec, httptest.NewRequest(http.MethodGet, "/orders/1", nil), "orders", fetch)
	rn, _ := eng.Runner("orders")
	fmt.Println(rec.Code, rec.Header().Get("Cache-Status"))
	fmt.Println(rn.Name())
	// Output:
	// 502 failsoft; fwd=uri-miss; fwd-status=502; detail=upstream-5xx
	// example-runner/orders
}
