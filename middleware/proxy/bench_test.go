package proxy

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"

	"github.com/failsoft/failsoft/internal/benchtest"
	"github.com/failsoft/failsoft/middleware/httpfallback"
)

// proxyHitHandler is a Proxy in front of a loopback upstream serving bareHandler's bytes,
// with the entry already stored.
func proxyHitHandler(b *testing.B) http.Handler {
	up := httptest.NewServer(benchtest.BareHandler())
	b.Cleanup(up.Close)
	p, err := New(Config{Upstream: up.URL, Engine: httpfallback.Config{Name: pxName(b)}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = p.Close() })
	w := benchtest.NewWriter()
	req, _ := http.NewRequest(http.MethodGet, "http://bench.test"+benchtest.Path, nil)
	for range 2 {
		w.Reset()
		p.ServeHTTP(w, req)
	}
	if !strings.Contains(w.H.Get("Cache-Status"), "hit") {
		b.Fatalf("not a hit: %q", w.H.Get("Cache-Status"))
	}
	return p
}

// reverseProxyHandler is httputil.ReverseProxy (no cache) in front of the same upstream.
func reverseProxyHandler(b *testing.B) http.Handler {
	up := httptest.NewServer(benchtest.BareHandler())
	b.Cleanup(up.Close)
	u, _ := url.Parse(up.URL)
	rp := httputil.NewSingleHostReverseProxy(u)
	tr := defaultTransport()
	b.Cleanup(tr.CloseIdleConnections)
	rp.Transport = tr
	return rp
}

// BenchmarkProxy compares, in process, a fresh hit through the Proxy with the bare handler
// writing the same bytes and with httputil.ReverseProxy forwarding every request to a
// loopback upstream (targets: hit >= 0.8x bare throughput, >= 5x ReverseProxy).
func BenchmarkProxy(b *testing.B) {
	b.Run("bare/serial", func(b *testing.B) { benchtest.Serial(b, benchtest.BareHandler()) })
	b.Run("hit/serial", func(b *testing.B) { benchtest.Serial(b, proxyHitHandler(b)) })
	b.Run("reverseproxy/serial", func(b *testing.B) { benchtest.Serial(b, reverseProxyHandler(b)) })
	b.Run("bare/parallel", func(b *testing.B) { benchtest.Parallel(b, benchtest.BareHandler()) })
	b.Run("hit/parallel", func(b *testing.B) { benchtest.Parallel(b, proxyHitHandler(b)) })
	b.Run("reverseproxy/parallel", func(b *testing.B) { benchtest.Parallel(b, reverseProxyHandler(b)) })
}

// BenchmarkProxyOverLoopback is the same comparison with the handler behind a loopback
// server and a client, where the HTTP exchange dominates (target: hit within 5% of bare).
// The bare server sends the bytes the hit sends (benchtest.HitBytesHandler: BareHandler's
// and the hit's Cache-Status and Age):
//
//	go test -run '^$' -bench ProxyOverLoopback -benchmem ./middleware/proxy/
func BenchmarkProxyOverLoopback(b *testing.B) {
	const path = benchtest.Path
	b.Run("bare", func(b *testing.B) { benchtest.Loopback(b, benchtest.HitBytesHandler(), path) })
	b.Run("hit", func(b *testing.B) { benchtest.Loopback(b, proxyHitHandler(b), path) })
	b.Run("reverseproxy", func(b *testing.B) { benchtest.Loopback(b, reverseProxyHandler(b), path) })
}
