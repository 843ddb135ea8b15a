package echofallback_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/failsoft/failsoft/middleware/echofallback"
	"github.com/failsoft/failsoft/middleware/httpfallback"
	"github.com/failsoft/failsoft/upstream"
)

// Mount the middleware on an Echo app: the second request is a fresh hit, answered from
// the store without running the handler.
func ExampleNew() {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) // a fixed clock keeps the output stable
	m, err := echofallback.New(echofallback.Config{
		Engine: httpfallback.Config{
			Name:   "example-echo",
			Common: upstream.Common{Now: func() time.Time { return now }},
			Defaults: map[string]*httpfallback.Default{ // keyed by Echo route template
				"/hello/:name": {Status: http.StatusOK, Body: []byte("hello, whoever you are")},
			},
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer m.Close()

	e := echo.New()
	e.Use(m.MiddlewareFunc())
	calls := 0
	e.GET("/hello/:name", func(c echo.Context) error {
		calls++
		c.Response().Header().Set("Cache-Control", "max-age=60")
		return c.String(http.StatusOK, "hello "+c.Param("name"))
	})
	srv := httptest.NewServer(e)
	defer srv.Close()

	for range 2 {
		resp, err := srv.Client().Get(srv.URL + "/hello/gopher")
		if err != nil {
			fmt.Println(err)
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Printf("%d %q %s\n", resp.StatusCode, body, resp.Header.Get("Cache-Status"))
	}
	fmt.Println("handler calls:", calls)
	// Output:
	// 200 "hello gopher" failsoft; fwd=uri-miss; fwd-status=200; stored
	// 200 "hello gopher" failsoft; hit; ttl=60
	// handler calls: 1
}

// One engine (one store, one set of circuits) behind an Echo app and a net/http handler.
func ExampleFromEngine() {
	eng, err := httpfallback.New(httpfallback.Config{Name: "example-shared"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer eng.Close()
	m, err := echofallback.FromEngine(eng, nil) // Close of m would leave eng open
	if err != nil {
		fmt.Println(err)
		return
	}

	e := echo.New()
	e.Use(m.MiddlewareFunc())
	e.GET("/echo/:id", func(c echo.Context) error {
		c.Response().Header().Set("Cache-Control", "max-age=60")
		return c.String(http.StatusOK, "from echo")
	})
	mux := http.NewServeMux()
	mux.Handle("GET /plain/{id}", eng.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		fmt.Fprint(w, "from net/http")
	})))
	mux.Handle("/", e)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	for _, path := range []string{"/echo/1", "/plain/1", "/echo/1", "/plain/1"} {
		resp, err := srv.Client().Get(srv.URL + path)
		if err != nil {
			fmt.Println(err)
			return
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	st := m.Stats() // the shared engine's counters
	fmt.Println("hits:", st.Hits, "stored:", st.Stored)
	// Output:
	// hits: 2 stored: 2
}
