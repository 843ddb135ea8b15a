package echofallback

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/failsoft/failsoft/internal/benchtest"
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

// benchHitBytesHandler is benchHandler also writing the two fields a fresh hit adds,
// Cache-Status and Age, with values as long as a hit's: a bare app sending the bytes a
// hit sends.
func benchHitBytesHandler(c echo.Context) error {
	h := c.Response().Header()
	h["Cache-Status"] = []string{"failsoft; hit; ttl=3600"}
	h["Age"] = []string{"0"}
	return benchHandler(c)
}

// benchApp is one side of a comparison: an Echo app serving benchHandler at /items/:id.
type benchApp struct {
	name string
	h    http.Handler
}

// benchApps builds the app without middleware and the app behind the fallback middleware
// (closed when the benchmark ends).
func benchApps(b *testing.B) (bare, wrapped benchApp) {
	e := echo.New()
	e.GET("/items/:id", benchHandler)
	m, err := New(Config{Engine: benchConfig(b)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = m.Close() })
	w := echo.New()
	w.Use(m.MiddlewareFunc())
	w.GET("/items/:id", benchHandler)
	return benchApp{"bare", e}, benchApp{"middleware", w}
}

// BenchmarkFreshHit compares a fresh hit through the middleware with the same Echo handler
// without middleware writing the same bytes, serially and in parallel, for a request as a
// net/http server builds it (its context carries the connection's local address); and,
// "direct", serially for a request built in process (httptest.NewRequest, as the
// benchmarks module's micro benchmarks send), which takes the same path:
//
//	go test -run '^$' -bench '^BenchmarkFreshHit$' -benchmem ./middleware/echofallback/
func BenchmarkFreshHit(b *testing.B) {
	bare, wrapped := benchApps(b)

	direct := httptest.NewRequest(http.MethodGet, "http://example.test/items/42?x=1", nil)
	req := direct.WithContext(context.WithValue(direct.Context(), http.LocalAddrContextKey, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 80}))
	prime := httptest.NewRecorder()
	wrapped.h.ServeHTTP(prime, req)
	check := httptest.NewRecorder()
	wrapped.h.ServeHTTP(check, req)
	if cs := check.Header().Get("Cache-Status"); len(cs) < 13 || cs[:13] != "failsoft; hit" {
		b.Fatalf("not a fresh hit: Cache-Status %q", cs)
	}

	for _, bc := range []benchApp{bare, wrapped} {
		b.Run(bc.name+"/serial", func(b *testing.B) {
			w := &discardWriter{h: make(http.Header)}
			b.ReportAllocs()
			for b.Loop() {
				w.reset()
				bc.h.ServeHTTP(w, req)
			}
		})
		b.Run(bc.name+"/serial-direct", func(b *testing.B) {
			w := &discardWriter{h: make(http.Header)}
			b.ReportAllocs()
			for b.Loop() {
				w.reset()
				bc.h.ServeHTTP(w, direct)
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
// loopback server and an HTTP/1.1 keep-alive connection; the bare app sends the bytes the
// hit sends (benchHitBytesHandler):
//
//	go test -run '^$' -bench '^BenchmarkFreshHitOverLoopback$' -benchmem ./middleware/echofallback/
func BenchmarkFreshHitOverLoopback(b *testing.B) {
	_, wrapped := benchApps(b)
	e := echo.New()
	e.GET("/items/:id", benchHitBytesHandler)
	bare := benchApp{"bare", e}
	for _, bc := range []benchApp{bare, wrapped} {
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
			defer benchtest.ReportCPU(b, benchtest.ProcessCPU()) // server and client
			for b.Loop() {
				get(b, client)
			}
		})
	}
}
