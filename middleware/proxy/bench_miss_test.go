package proxy

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/failsoft/failsoft/internal/benchtest"
	"github.com/failsoft/failsoft/internal/leaktest"
	"github.com/failsoft/failsoft/middleware/httpfallback"
	"github.com/failsoft/failsoft/upstream"
)

// wrappedTransport is a RoundTripper that is not an *http.Transport: the upstream client
// runs its attempts through Runner.Run (hystrix's DoC) instead of on the caller's
// goroutine.
type wrappedTransport struct{ rt http.RoundTripper }

func (w wrappedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	return w.rt.RoundTrip(r)
}

// BenchmarkProxyMiss is a miss through the Proxy (a new URL per request: fetched from a
// loopback upstream, stored, answered), serially, with the proxy's default transport
// (attempts on the request's goroutine: "inline") and with the same transport behind a
// wrapper ("run": hystrix's DoC, two goroutines per attempt). goroutines/op counts the
// goroutines created per request, the loopback server's included:
//
//	go test -run '^$' -bench ProxyMiss -benchmem ./middleware/proxy/
func BenchmarkProxyMiss(b *testing.B) {
	for _, how := range []string{"inline", "run"} {
		b.Run(how, func(b *testing.B) {
			up := httptest.NewServer(benchtest.BareHandler())
			b.Cleanup(up.Close)
			tr := defaultTransport()
			b.Cleanup(tr.CloseIdleConnections)
			cc := upstream.ClientConfig{Transport: tr}
			if how == "run" {
				cc.Transport = wrappedTransport{tr}
			}
			p, err := New(Config{Upstream: up.URL, Engine: httpfallback.Config{Name: pxName(b)}, Client: cc})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = p.Close() })
			w := benchtest.NewWriter()
			b.ReportAllocs()
			b.SetBytes(int64(len(benchtest.Body)))
			g0 := leaktest.GoroutinesCreated(b)
			cpu0 := benchtest.ProcessCPU()
			i := 0
			for b.Loop() {
				i++
				req, _ := http.NewRequest(http.MethodGet, "http://bench.test/items/"+strconv.Itoa(i), nil)
				w.Reset()
				p.ServeHTTP(w, req)
				if w.Status != http.StatusOK {
					b.Fatalf("status %d", w.Status)
				}
			}
			benchtest.ReportCPU(b, cpu0)
			b.ReportMetric(float64(leaktest.GoroutinesCreated(b)-g0)/float64(b.N), "goroutines/op")
		})
	}
}
