package httpfallback_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/failsoft/failsoft/middleware/httpfallback"
	"github.com/failsoft/failsoft/upstream"
)

// The middleware stores the handler's good answer and serves it from the store while it
// is fresh, without running the handler.
func ExampleEngine_Handler() {
	// A fixed clock keeps the output stable (ttl counts down with real time).
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	eng, err := httpfallback.New(httpfallback.Config{Name: "example-handler", Common: upstream.Common{Now: func() time.Time { return now }}})
	if err != nil {
		panic(err)
	}
	defer eng.Close()

	calls := 0
	items := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		w.Header().Set("Cache-Control", "max-age=60")
		fmt.Fprint(w, `{"id":42}`)
	})
	mux := http.NewServeMux()
	mux.Handle("GET /items/{id}", eng.Handler(items))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	for range 2 {
		res, err := http.Get(srv.URL + "/items/42")
		if err != nil {
			panic(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		fmt.Println(res.StatusCode, string(body), res.Header.Get("Cache-Status"))
	}
	fmt.Println("handler calls:", calls)
	// Output:
	// 200 {"id":42} failsoft; fwd=uri-miss; fwd-status=200; stored
	// 200 {"id":42} failsoft; hit; ttl=60
	// handler calls: 1
}

// When the handler fails and nothing is stored, the route's default payload answers.
func ExampleDefault() {
	eng, err := httpfallback.New(httpfallback.Config{
		Name: "example-default",
		Defaults: map[string]*httpfallback.Default{
			"GET /prices": {
				Header: http.Header{"Content-Type": {"application/json"}},
				Body:   []byte(`{"prices":[]}`),
			},
		},
	})
	if err != nil {
		panic(err)
	}
	defer eng.Close()

	failing := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "database down", http.StatusInternalServerError)
	})
	mux := http.NewServeMux()
	mux.Handle("GET /prices", eng.Handler(failing))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	res, err := http.Get(srv.URL + "/prices")
	if err != nil {
		panic(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	fmt.Println(res.StatusCode, string(body))
	fmt.Println(res.Header.Get("Cache-Status"))
	// Output:
	// 200 {"prices":[]}
	// failsoft; fwd=uri-miss; fwd-status=500; detail=default
}

// With no stale entry and no default, a failure becomes an RFC 9457 problem.
func ExampleEngine_Serve() {
	eng, err := httpfallback.New(httpfallback.Config{Name: "example-serve"})
	if err != nil {
		panic(err)
	}
	defer eng.Close()

	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "http://svc.test/report", nil)
	eng.Serve(rec, req, "GET /report", func(ctx context.Context, w http.ResponseWriter, r *http.Request) error {
		return upstream.ErrTimeout
	})
	fmt.Println(rec.Code, rec.Header().Get("Content-Type"))
	fmt.Println(rec.Header().Get("Cache-Status"))
	// Output:
	// 504 application/problem+json
	// failsoft; fwd=uri-miss; detail=timeout
}

// A GET carrying a method-override field naming POST is treated as a POST: passed through,
// never stored; MethodOverrideRefuse answers it 400 instead.
func ExampleMethodOverrideMode() {
	eng, err := httpfallback.New(httpfallback.Config{Name: "example-override", MethodOverride: httpfallback.MethodOverrideRefuse})
	if err != nil {
		panic(err)
	}
	defer eng.Close()
	h := eng.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ran") }))

	req := httptest.NewRequest(http.MethodGet, "/orders", nil)
	req.Header.Set("X-HTTP-Method-Override", "POST")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	fmt.Println(rec.Code, rec.Header().Get("Content-Type"))
	// Output: 400 application/problem+json
}
