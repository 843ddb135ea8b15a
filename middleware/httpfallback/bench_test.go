package httpfallback

import (
	"net/http"
	"strings"
	"testing"

	"github.com/failsoft/failsoft/internal/benchtest"
)

// hitHandler is the bare handler behind the engine, with the entry already stored.
func hitHandler(b *testing.B) http.Handler {
	req, _ := http.NewRequest(http.MethodGet, "http://bench.test"+benchtest.Path, nil)
	return hitHandlerFor(b, req)
}

// hitHandlerFor is hitHandler with the entry stored for req.
func hitHandlerFor(b *testing.B, req *http.Request) http.Handler {
	eng, err := New(Config{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = eng.Close() })
	h := eng.Handler(benchtest.BareHandler())
	w := benchtest.NewWriter()
	h.ServeHTTP(w, req)
	w.Reset()
	h.ServeHTTP(w, req)
	if !strings.Contains(w.H.Get("Cache-Status"), "hit") {
		b.Fatalf("not a hit: %q", w.H.Get("Cache-Status"))
	}
	return h
}

// proxiedRequest is a request as it arrives behind a reverse proxy, with a browser's
// usual header fields: the keyed X-Forwarded-Host and X-Forwarded-Proto among them.
func proxiedRequest() *http.Request {
	req, _ := http.NewRequest(http.MethodGet, "http://bench.test"+benchtest.Path, nil)
	for k, v := range map[string]string{
		"Accept":            "application/json",
		"Accept-Encoding":   "gzip, deflate, br",
		"Accept-Language":   "en-GB,en;q=0.9",
		"User-Agent":        "Mozilla/5.0 (X11; Linux x86_64) bench",
		"X-Forwarded-For":   "203.0.113.7",
		"X-Forwarded-Host":  "api.example.com",
		"X-Forwarded-Proto": "https",
	} {
		req.Header.Set(k, v)
	}
	return req
}

// BenchmarkFreshHit compares a fresh hit through Engine.Handler with the bare handler
// writing the same bytes (target: hit <= 1.3x bare ns/op, <= 5 allocs more); "proxied"
// requests carry a browser's header fields and keyed X-Forwarded-* ones:
//
//	go test -run '^$' -bench FreshHit -benchmem ./middleware/httpfallback/
func BenchmarkFreshHit(b *testing.B) {
	b.Run("bare/serial", func(b *testing.B) { benchtest.Serial(b, benchtest.BareHandler()) })
	b.Run("hit/serial", func(b *testing.B) { benchtest.Serial(b, hitHandler(b)) })
	b.Run("bare/serial-proxied", func(b *testing.B) { benchtest.SerialReq(b, benchtest.BareHandler(), proxiedRequest()) })
	b.Run("hit/serial-proxied", func(b *testing.B) {
		benchtest.SerialReq(b, hitHandlerFor(b, proxiedRequest()), proxiedRequest())
	})
	b.Run("bare/parallel", func(b *testing.B) { benchtest.Parallel(b, benchtest.BareHandler()) })
	b.Run("hit/parallel", func(b *testing.B) { benchtest.Parallel(b, hitHandler(b)) })
}

// BenchmarkFreshHitOverLoopback is the same comparison through a real loopback server and
// client, where the network dominates; the bare server sends the bytes the hit sends
// (benchtest.HitBytesHandler: BareHandler's and the hit's Cache-Status and Age):
//
//	go test -run '^$' -bench FreshHitOverLoopback -benchmem ./middleware/httpfallback/
func BenchmarkFreshHitOverLoopback(b *testing.B) {
	b.Run("bare", func(b *testing.B) { benchtest.Loopback(b, benchtest.HitBytesHandler(), "/items/42") })
	b.Run("hit", func(b *testing.B) { benchtest.Loopback(b, hitHandler(b), "/items/42") })
}

// BenchmarkIsStreaming measures the check Engine.Handler (and Echo's default Skipper)
// makes on every request, fresh hits included, for typical Accept values:
//
//	go test -run '^$' -bench IsStreaming -benchmem ./middleware/httpfallback/
func BenchmarkIsStreaming(b *testing.B) {
	for _, c := range []struct{ name, accept string }{
		{"none", ""},
		{"json", "application/json"},
		{"upper", "Application/JSON"},
		{"browser", "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7"},
		{"event-stream", "text/event-stream"},
	} {
		b.Run(c.name, func(b *testing.B) {
			r, _ := http.NewRequest(http.MethodGet, "http://bench.test/", nil)
			if c.accept != "" {
				r.Header.Set("Accept", c.accept)
			}
			want := c.name == "event-stream"
			b.ReportAllocs()
			for b.Loop() {
				if IsStreaming(r) != want {
					b.Fatal("wrong answer")
				}
			}
		})
	}
}
