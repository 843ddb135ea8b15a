package httpfallback

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
)

// benchWriter is a reusable ResponseWriter so that the benchmarks measure the handlers,
// not a recorder's allocations.
type benchWriter struct {
	h      http.Header
	status int
	n      int
}

func (w *benchWriter) Header() http.Header { return w.h }
func (w *benchWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}
func (w *benchWriter) Write(p []byte) (int, error) { w.n += len(p); return len(p), nil }
func (w *benchWriter) reset()                      { clear(w.h); w.status, w.n = 0, 0 }

var benchBody = []byte(strings.Repeat(`{"id":42,"name":"failsoft"}`, 40))

// bareHandler writes what the cached entry holds: the same headers and bytes.
func bareHandler() http.Handler {
	cl := strconv.Itoa(len(benchBody))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Cache-Control", "max-age=3600")
		h.Set("Content-Length", cl)
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(benchBody)
	})
}

// hitHandler is the bare handler behind the engine, with the entry already stored.
func hitHandler(b *testing.B) http.Handler {
	eng, err := New(Config{Name: uniqueName(b)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = eng.Close() })
	h := eng.Handler(bareHandler())
	w := &benchWriter{h: make(http.Header)}
	req, _ := http.NewRequest(http.MethodGet, "http://bench.test/items/42?b=2&a=1", nil)
	h.ServeHTTP(w, req)
	w.reset()
	h.ServeHTTP(w, req)
	if !strings.Contains(w.h.Get("Cache-Status"), "hit") {
		b.Fatalf("not a hit: %q", w.h.Get("Cache-Status"))
	}
	return h
}

func benchSerial(b *testing.B, h http.Handler) {
	w := &benchWriter{h: make(http.Header)}
	req, _ := http.NewRequest(http.MethodGet, "http://bench.test/items/42?b=2&a=1", nil)
	b.ReportAllocs()
	b.SetBytes(int64(len(benchBody)))
	for b.Loop() {
		w.reset()
		h.ServeHTTP(w, req)
	}
	if w.n != len(benchBody) {
		b.Fatalf("wrote %d bytes", w.n)
	}
}

func benchParallel(b *testing.B, h http.Handler) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchBody)))
	b.RunParallel(func(pb *testing.PB) {
		w := &benchWriter{h: make(http.Header)}
		req, _ := http.NewRequest(http.MethodGet, "http://bench.test/items/42?b=2&a=1", nil)
		for pb.Next() {
			w.reset()
			h.ServeHTTP(w, req)
		}
	})
}

// BenchmarkHitVsBare compares a fresh hit through Engine.Handler with the bare handler
// writing the same bytes (target: hit <= 1.3x bare ns/op, <= 5 allocs more).
func BenchmarkHitVsBare(b *testing.B) {
	b.Run("bare/serial", func(b *testing.B) { benchSerial(b, bareHandler()) })
	b.Run("hit/serial", func(b *testing.B) { benchSerial(b, hitHandler(b)) })
	b.Run("bare/parallel", func(b *testing.B) { benchParallel(b, bareHandler()) })
	b.Run("hit/parallel", func(b *testing.B) { benchParallel(b, hitHandler(b)) })
}

// BenchmarkHitOverLoopback is the same comparison through a real loopback server and
// client, where the network dominates.
func BenchmarkHitOverLoopback(b *testing.B) {
	run := func(b *testing.B, h http.Handler) {
		srv := httptest.NewServer(h)
		defer srv.Close()
		c := srv.Client()
		url := srv.URL + "/items/42"
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				res, err := c.Get(url)
				if err != nil {
					b.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, res.Body)
				_ = res.Body.Close()
			}
		})
	}
	b.Run("bare", func(b *testing.B) { run(b, bareHandler()) })
	b.Run("hit", func(b *testing.B) {
		run(b, hitHandler(b))
	})
}
