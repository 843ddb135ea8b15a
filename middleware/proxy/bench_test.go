package httpfallback

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"
)

// proxyHitHandler is a Proxy in front of a loopback upstream serving bareHandler's bytes,
// with the entry already stored.
func proxyHitHandler(b *testing.B) http.Handler {
	up := httptest.NewServer(bareHandler())
	b.Cleanup(up.Close)
	p, err := NewProxy(ProxyConfig{Upstream: up.URL, Engine: Config{Name: uniqueName(b)}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = p.Close() })
	w := &benchWriter{h: make(http.Header)}
	req, _ := http.NewRequest(http.MethodGet, "http://bench.test/items/42?b=2&a=1", nil)
	for range 2 {
		w.reset()
		p.ServeHTTP(w, req)
	}
	if !strings.Contains(w.h.Get("Cache-Status"), "hit") {
		b.Fatalf("not a hit: %q", w.h.Get("Cache-Status"))
	}
	return p
}

// reverseProxyHandler is httputil.ReverseProxy (no cache) in front of the same upstream.
func reverseProxyHandler(b *testing.B) http.Handler {
	up := httptest.NewServer(bareHandler())
	b.Cleanup(up.Close)
	u, _ := url.Parse(up.URL)
	rp := httputil.NewSingleHostReverseProxy(u)
	tr := defaultProxyTransport()
	b.Cleanup(tr.CloseIdleConnections)
	rp.Transport = tr
	return rp
}

// BenchmarkProxy compares, in process, a fresh hit through the Proxy with the bare handler
// writing the same bytes and with httputil.ReverseProxy forwarding every request to a
// loopback upstream (targets: hit >= 0.8x bare throughput, >= 5x ReverseProxy).
func BenchmarkProxy(b *testing.B) {
	b.Run("bare/serial", func(b *testing.B) { benchSerial(b, bareHandler()) })
	b.Run("hit/serial", func(b *testing.B) { benchSerial(b, proxyHitHandler(b)) })
	b.Run("reverseproxy/serial", func(b *testing.B) { benchSerial(b, reverseProxyHandler(b)) })
	b.Run("bare/parallel", func(b *testing.B) { benchParallel(b, bareHandler()) })
	b.Run("hit/parallel", func(b *testing.B) { benchParallel(b, proxyHitHandler(b)) })
	b.Run("reverseproxy/parallel", func(b *testing.B) { benchParallel(b, reverseProxyHandler(b)) })
}

// BenchmarkProxyOverLoopback is the same comparison with the handler behind a loopback
// server and a client, where the HTTP exchange dominates.
func BenchmarkProxyOverLoopback(b *testing.B) {
	const path = "/items/42?b=2&a=1"
	b.Run("bare", func(b *testing.B) { benchLoopback(b, bareHandler(), path) })
	b.Run("hit", func(b *testing.B) { benchLoopback(b, proxyHitHandler(b), path) })
	b.Run("reverseproxy", func(b *testing.B) { benchLoopback(b, reverseProxyHandler(b), path) })
}
