package echofallback

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/failsoft/failsoft/middleware/httpfallback"
)

// discardWriter is a reusable ResponseWriter for benchmarks.
type discardWriter struct {
	h      http.Header
	status int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) WriteHeader(code int)        { w.status = code }
func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *discardWriter) reset()                      { clear(w.h); w.status = 0 }

var benchBody = []byte(`{"id":42,"name":"gopher","tags":["a","b","c"],"bio":"a reasonably sized JSON document for a hit"}`)

func benchHandler(c echo.Context) error {
	c.Response().Header().Set("Cache-Control", "max-age=3600")
	return c.Blob(http.StatusOK, "application/json", benchBody)
}

// benchConfig is testConfig on the real clock (time.Now is part of a real hit's cost).
func benchConfig(b *testing.B) httpfallback.Config {
	cfg := testConfig(b, nil)
	cfg.Now = nil
	return cfg
}

// BenchmarkFreshHit compares a fresh hit through the middleware with the same Echo handler
// without middleware writing the same bytes, serially and in parallel:
//
//	go test -run '^$' -bench '^BenchmarkFreshHit$' -benchmem ./middleware/echofallback/
func BenchmarkFreshHit(b *testing.B) {
	bare := echo.New()
	bare.GET("/items/:id", benchHandler)

	m, err := New(Config{Engine: benchConfig(b)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = m.Close() })
	wrapped := echo.New()
	wrapped.Use(m.MiddlewareFunc())
	wrapped.GET("/items/:id", benchHandler)

	// As a net/http server builds it: its context carries the connection's local address.
	req := httptest.NewRequest(http.MethodGet, "http://example.test/items/42?x=1", nil)
	req = req.WithContext(context.WithValue(req.Context(), http.LocalAddrContextKey, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 80}))
	prime := httptest.NewRecorder()
	wrapped.ServeHTTP(prime, req)
	check := httptest.NewRecorder()
	wrapped.ServeHTTP(check, req)
	if cs := check.Header().Get("Cache-Status"); len(cs) < 13 || cs[:13] != "failsoft; hit" {
		b.Fatalf("not a fresh hit: Cache-Status %q", cs)
	}

	for _, bc := range []struct {
		name string
		h    http.Handler
	}{{"bare", bare}, {"middleware", wrapped}} {
		b.Run(bc.name+"/serial", func(b *testing.B) {
			w := &discardWriter{h: make(http.Header)}
			b.ReportAllocs()
			for b.Loop() {
				w.reset()
				bc.h.ServeHTTP(w, req)
			}
		})
		b.Run(bc.name+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				w := &discardWriter{h: make(http.Header)}
				for pb.Next() {
					w.reset()
					bc.h.ServeHTTP(w, req)
				}
			})
		})
	}
}

// BenchmarkFreshHitOverLoopback is the same comparison as a client sees it, through a
// loopback server and an HTTP/1.1 keep-alive connection per goroutine:
//
//	go test -run '^$' -bench '^BenchmarkFreshHitOverLoopback$' -benchmem ./middleware/echofallback/
func BenchmarkFreshHitOverLoopback(b *testing.B) {
	bare := echo.New()
	bare.GET("/items/:id", benchHandler)
	m, err := New(Config{Engine: benchConfig(b)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = m.Close() })
	wrapped := echo.New()
	wrapped.Use(m.MiddlewareFunc())
	wrapped.GET("/items/:id", benchHandler)

	for _, bc := range []struct {
		name string
		h    http.Handler
	}{{"bare", bare}, {"middleware", wrapped}} {
		srv := httptest.NewServer(bc.h)
		b.Cleanup(srv.Close)
		get := func(b *testing.B, client *http.Client) {
			resp, err := client.Get(srv.URL + "/items/42")
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		get(b, srv.Client()) // prime the store
		b.Run(bc.name, func(b *testing.B) {
			client := srv.Client()
			b.ReportAllocs()
			for b.Loop() {
				get(b, client)
			}
		})
	}
}
