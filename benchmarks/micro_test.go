package benchmarks

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/failsoft/failsoft/internal/benchtest"
	"github.com/failsoft/failsoft/middleware/echofallback"
	"github.com/failsoft/failsoft/middleware/httpfallback"
	"github.com/failsoft/failsoft/middleware/proxy"
	"github.com/failsoft/failsoft/upstream"
)

// The micro benchmarks: each scenario through each mount (net/http middleware, Echo
// middleware, the reverse proxy), serial and parallel, beside a bare handler (for the proxy:
// httputil.ReverseProxy over the same in-memory upstream) serving the bytes the client gets.
// Requests are built in process (httptest.NewRequest): their context lacks the
// http.LocalAddrContextKey a net/http server sets, which no mount's path depends on (the
// Echo adapter's did until it told its own fetches by httpfallback.InBackground alone;
// echofallback's BenchmarkFreshHit measures both kinds of request).
// Names are key=value for benchstat:
//
//	go test -run '^$' -bench . -benchmem -count 6 . | tee new.txt && benchstat new.txt

var (
	microBody   = []byte(strings.Repeat(`{"id":42,"name":"failsoft","tags":["a","b"]}`, 24)) // about 1 KiB
	defaultBody = []byte(`{"id":0,"name":"unavailable","tags":[]}`)
)

// source is the application handler (or, for the proxy, the upstream): it answers
// microBody with cc as Cache-Control, or 503 while failing, and counts its calls. After
// hangNext, its next call never answers (it tells entered and waits) and the calls
// after it fail at once.
type source struct {
	cc    string
	fail  atomic.Bool
	body  []byte
	calls atomic.Int64

	hang    atomic.Bool
	entered chan struct{} // buffered 1: the hanging call entered
	release chan struct{} // closed at cleanup

	step chan struct{} // when set, every call waits for one value (or the close) and fails
}

// hangNext makes the next call hang until release is closed (then it answers 503), or
// until its request's context ends; the later calls fail (503) at once, so that a request
// that should not have called the source fails its check instead of hanging.
func (s *source) hangNext() {
	s.entered, s.release = make(chan struct{}, 1), make(chan struct{})
	s.fail.Store(true)
	s.hang.Store(true)
}

func (s *source) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.calls.Add(1)
	if s.step != nil {
		<-s.step
		http.Error(w, "unavailable", http.StatusServiceUnavailable)
		return
	}
	if s.hang.CompareAndSwap(true, false) {
		s.entered <- struct{}{}
		select {
		case <-s.release:
		case <-r.Context().Done():
		}
		http.Error(w, "unavailable", http.StatusServiceUnavailable)
		return
	}
	if s.fail.Load() {
		http.Error(w, "unavailable", http.StatusServiceUnavailable)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	if s.cc != "" {
		h.Set("Cache-Control", s.cc)
	}
	h.Set("Content-Length", strconv.Itoa(len(s.body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(s.body)
}

// handlerTransport is an in-memory upstream for the proxy: no sockets in the measurement.
type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, r)
	resp := rec.Result()
	resp.Request = r
	return resp, nil
}

// discard is a reusable ResponseWriter: the benchmarks measure the handlers, not a recorder.
type discard struct {
	h      http.Header
	status int
	n      int
}

func (w *discard) Header() http.Header { return w.h }
func (w *discard) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}
func (w *discard) Write(p []byte) (int, error) { w.n += len(p); return len(p), nil }
func (w *discard) reset()                      { clear(w.h); w.status, w.n = 0, 0 }

const microURL = "http://bench.test/items/42"

var mounts = []string{"nethttp", "echo", "proxy"}

// mount puts src behind failsoft (impl "failsoft") or behind nothing ("bare") on the given
// mount. Every failsoft build gets unique command names (hystrix circuits are global).
func mount(b testing.TB, how, impl string, cfg httpfallback.Config, src http.Handler) http.Handler {
	b.Helper()
	cfg.Name = fmt.Sprintf("%s#%d", b.Name(), time.Now().UnixNano())
	switch how + "/" + impl {
	case "nethttp/bare":
		return src
	case "nethttp/failsoft":
		eng, err := httpfallback.New(cfg)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = eng.Close() })
		return eng.Handler(src)
	case "echo/bare", "echo/failsoft":
		e := echo.New()
		if impl == "failsoft" {
			m, err := echofallback.New(echofallback.Config{Engine: cfg})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = m.Close() })
			e.Use(m.MiddlewareFunc())
		}
		e.GET("/items/:id", echo.WrapHandler(src))
		return e
	case "proxy/bare":
		target, _ := url.Parse("http://upstream.test")
		return &httputil.ReverseProxy{
			Rewrite:   func(pr *httputil.ProxyRequest) { pr.SetURL(target) },
			Transport: handlerTransport{src},
		}
	case "proxy/failsoft":
		p, err := proxy.New(proxy.Config{
			Upstream: "http://upstream.test",
			Engine:   cfg,
			Client: upstream.ClientConfig{
				Transport: handlerTransport{src},
				Retry:     upstream.RetryPolicy{MaxAttempts: 1},
			},
		})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = p.Close() })
		return p
	}
	b.Fatalf("unknown mount %s/%s", how, impl)
	return nil
}

// serve sends one request and returns the writer.
func serve(h http.Handler, target string) *discard {
	w := &discard{h: make(http.Header)}
	req := httptest.NewRequest(http.MethodGet, target, nil)
	h.ServeHTTP(w, req)
	return w
}

// expect checks one answer before timing: status, size and, for failsoft, a Cache-Status
// containing want.
func expect(b testing.TB, h http.Handler, impl, want string, size int) {
	b.Helper()
	w := serve(h, microURL)
	cs := w.h.Get("Cache-Status")
	if w.status != http.StatusOK || w.n != size || (impl == "failsoft" && !strings.Contains(cs, want)) {
		b.Fatalf("%s: status %d, %d bytes (want %d), Cache-Status %q (want %q)", impl, w.status, w.n, size, cs, want)
	}
}

// goroutinesCreated is the count of goroutines the process has created (runtime/metrics,
// Go 1.26); ok is false where the runtime does not export it.
func goroutinesCreated() (n uint64, ok bool) {
	s := []metrics.Sample{{Name: "/sched/goroutines-created:goroutines"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0, false
	}
	return s[0].Value.Uint64(), true
}

// run times h on a fixed URL (target nil) or on a URL per iteration, serial or parallel,
// and reports goroutines/op: goroutines created per request (RunParallel's own few are
// spread over b.N), which shows a goroutine started per answer; cpu-ns/op, the
// process's CPU time per request, which a busy machine disturbs less than sec/op; and
// faults/op, the page faults per request (benchtest.ReportFaults), which show the heap
// growing under a store that fills.
func run(b *testing.B, h http.Handler, parallel bool, size int, target func(i uint64) string) {
	runWith(b, h, parallel, size, target, nil)
}

// browserHeader is the header section of a browser's request for an API (~420 bytes, 8
// fields): what every request path reads (the key, the limits, the override and streaming
// checks) costs with it, where the other benchmarks' requests carry no field at all.
var browserHeader = http.Header{
	"User-Agent":      {"Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"},
	"Accept":          {"text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"},
	"Accept-Encoding": {"gzip, deflate, br, zstd"},
	"Accept-Language": {"en-US,en;q=0.5"},
	"Connection":      {"keep-alive"},
	"Referer":         {"http://bench.test/items"},
	"X-Request-Id":    {"4bf92f3577b34da6a3ce929d0e0e4736"},
	"Sec-Fetch-Mode":  {"cors"},
}

// runWith is run with every request carrying header (nil: none).
func runWith(b *testing.B, h http.Handler, parallel bool, size int, target func(i uint64) string, header http.Header) {
	b.ReportAllocs()
	b.SetBytes(int64(size))
	if g0, ok := goroutinesCreated(); ok {
		defer func() {
			g1, _ := goroutinesCreated()
			b.ReportMetric(float64(g1-g0)/float64(max(b.N, 1)), "goroutines/op")
		}()
	}
	defer benchtest.ReportCPU(b, benchtest.ProcessCPU())
	defer benchtest.ReportFaults(b, benchtest.PageFaults())
	var seq atomic.Uint64
	if !parallel {
		hdr := header.Clone() // each goroutine its own: nothing may write another's
		w := &discard{h: make(http.Header)}
		req := httptest.NewRequest(http.MethodGet, microURL, nil)
		for b.Loop() {
			w.reset()
			if target != nil {
				req = httptest.NewRequest(http.MethodGet, target(seq.Add(1)), nil)
			}
			if header != nil {
				req.Header = hdr
			}
			h.ServeHTTP(w, req)
		}
		return
	}
	b.ResetTimer() // the scenario's setup (b.Loop resets it for the serial run)
	b.RunParallel(func(pb *testing.PB) {
		hdr := header.Clone()
		w := &discard{h: make(http.Header)}
		req := httptest.NewRequest(http.MethodGet, microURL, nil)
		for pb.Next() {
			w.reset()
			if target != nil {
				req = httptest.NewRequest(http.MethodGet, target(seq.Add(1)), nil)
			}
			if header != nil {
				req.Header = hdr
			}
			h.ServeHTTP(w, req)
		}
	})
}

// each runs body for every mount, implementation and parallelism.
func each(b *testing.B, body func(b *testing.B, how, impl string, parallel bool)) {
	for _, how := range mounts {
		for _, impl := range []string{"bare", "failsoft"} {
			for _, parallel := range []bool{false, true} {
				name := fmt.Sprintf("mount=%s/impl=%s/par=%t", how, impl, parallel)
				b.Run(name, func(b *testing.B) { body(b, how, impl, parallel) })
			}
		}
	}
}

// neverOpen keeps the breaker closed whatever fails, so every request calls the source.
var neverOpen = upstream.Settings{RequestVolumeThreshold: 1 << 30, Timeout: time.Second}

// scenario builds src behind a mount, brings it to the scenario's state and checks one
// answer; it returns the handler and the size of the answer's body.
type scenario func(tb testing.TB, how, impl string) (http.Handler, int)

// freshHit: the entry is fresh; failsoft answers from the store, the source is not called.
// Bare: the source answers.
func freshHit(tb testing.TB, how, impl string) (http.Handler, int) {
	src := &source{cc: "max-age=3600", body: microBody}
	h := mount(tb, how, impl, httpfallback.Config{}, src)
	serve(h, microURL) // store
	expect(tb, h, impl, "; hit", len(microBody))
	return h, len(microBody)
}

// missStore: (timed with a new URL per request) failsoft fetches from the source, stores
// and answers. Bare: the source answers.
func missStore(tb testing.TB, how, impl string) (http.Handler, int) {
	src := &source{cc: "max-age=3600", body: microBody}
	h := mount(tb, how, impl, httpfallback.Config{}, src)
	expect(tb, h, impl, "stored", len(microBody))
	return h, len(microBody)
}

// staleOnError: the entry is past its freshness (max-age=0) and within stale-if-error; the
// source fails (503) on every call and failsoft answers the stale entry. The breaker never
// opens. Bare: the source answers the same bytes.
func staleOnError(tb testing.TB, how, impl string) (http.Handler, int) {
	src := &source{cc: "max-age=0, stale-if-error=86400", body: microBody}
	h := mount(tb, how, impl, httpfallback.Config{Common: upstream.Common{Command: neverOpen}}, src)
	serve(h, microURL) // store
	if impl == "failsoft" {
		src.fail.Store(true)
	}
	expect(tb, h, impl, "fwd=stale", len(microBody))
	return h, len(microBody)
}

// staleBreakerOpen: as staleOnError, but the breaker is open: failsoft answers the stale
// entry without calling the source.
func staleBreakerOpen(tb testing.TB, how, impl string) (http.Handler, int) {
	src := &source{cc: "max-age=0, stale-if-error=86400", body: microBody}
	h := mount(tb, how, impl, httpfallback.Config{Common: upstream.Common{Command: breakerOpen}}, src)
	serve(h, microURL) // store
	if impl == "failsoft" {
		src.fail.Store(true)
		// hystrix-go's metrics update asynchronously: fail until the circuit reports open.
		deadline := time.Now().Add(5 * time.Second)
		for !strings.Contains(serve(h, microURL).h.Get("Cache-Status"), "circuit-open") {
			if time.Now().After(deadline) {
				tb.Fatal("the breaker did not open")
			}
		}
	}
	expect(tb, h, impl, "circuit-open", len(microBody))
	return h, len(microBody)
}

// defaultPayload: nothing stored, the source fails on every call, failsoft answers the
// configured default payload. Bare: the source answers the default's bytes.
func defaultPayload(tb testing.TB, how, impl string) (http.Handler, int) {
	src := &source{body: defaultBody}
	cfg := httpfallback.Config{Common: upstream.Common{Command: neverOpen}, Default: &httpfallback.Default{
		Header: http.Header{"Content-Type": {"application/json"}}, Body: defaultBody,
	}}
	h := mount(tb, how, impl, cfg, src)
	if impl == "failsoft" {
		src.fail.Store(true)
	}
	expect(tb, h, impl, "detail=default", len(defaultBody))
	return h, len(defaultBody)
}

// breakerOpen is a command whose breaker opens at the first failure and stays open.
var breakerOpen = upstream.Settings{
	RequestVolumeThreshold: 1, ErrorPercentThreshold: 1, SleepWindow: time.Hour, Timeout: time.Second,
}

// defaultBreakerOpen: nothing stored, the source fails and the breaker is open: failsoft
// answers the configured default payload without calling the source. Bare: the source
// answers the default's bytes.
func defaultBreakerOpen(tb testing.TB, how, impl string) (http.Handler, int) {
	src := &source{body: defaultBody}
	cfg := httpfallback.Config{Common: upstream.Common{Command: breakerOpen}, Default: &httpfallback.Default{
		Header: http.Header{"Content-Type": {"application/json"}}, Body: defaultBody,
	}}
	h := mount(tb, how, impl, cfg, src)
	if impl == "failsoft" {
		src.fail.Store(true)
		// hystrix-go's metrics update asynchronously: fail until a request no longer calls
		// the source (the breaker is open).
		deadline := time.Now().Add(5 * time.Second)
		for {
			n := src.calls.Load()
			serve(h, microURL)
			if src.calls.Load() == n {
				break
			}
			if time.Now().After(deadline) {
				tb.Fatal("the breaker did not open")
			}
		}
	}
	n := src.calls.Load()
	expect(tb, h, impl, "detail=default", len(defaultBody))
	if impl == "failsoft" && src.calls.Load() != n {
		tb.Fatal("the breaker is open: the default must be answered without calling the source")
	}
	return h, len(defaultBody)
}

// staleInFlight: the entry is past its freshness and within stale-if-error, and a fetch of
// its key is running (the source hangs: the first request's fetch goes on in the
// background after the soft deadline): failsoft answers the stale entry at once
// (detail=in-flight), without calling the source. The breaker is closed. Bare: the source
// answers the same bytes.
func staleInFlight(tb testing.TB, how, impl string) (http.Handler, int) {
	src := &source{cc: "max-age=0, stale-if-error=86400", body: microBody}
	cfg := httpfallback.Config{
		// The hung fetch must outlast the benchmark; a waiter that found no answer in
		// flight would give up quickly (and fail the check) rather than hang the run.
		Common:      upstream.Common{Command: upstream.Settings{RequestVolumeThreshold: 1 << 30, Timeout: time.Hour}},
		LockTimeout: 50 * time.Millisecond,
	}
	h := mount(tb, how, impl, cfg, src)
	serve(h, microURL) // store
	if impl == "failsoft" {
		src.hangNext()
		leader := make(chan struct{})
		go func() { // answered at the soft deadline; its fetch goes on until the cleanup
			defer close(leader)
			serve(h, microURL)
		}()
		tb.Cleanup(func() { // before the mount's Close (cleanups run last first)
			close(src.release)
			<-leader
		})
		<-src.entered
	}
	n := src.calls.Load()
	expect(tb, h, impl, "detail=in-flight", len(microBody))
	if impl == "failsoft" && src.calls.Load() != n {
		tb.Fatal("a fetch is in flight: the stale entry must be answered without calling the source")
	}
	return h, len(microBody)
}

func bench(b *testing.B, sc scenario, target func(uint64) string) {
	each(b, func(b *testing.B, how, impl string, parallel bool) {
		h, size := sc(b, how, impl)
		run(b, h, parallel, size, target)
	})
}

// BenchmarkFreshHit: see freshHit.
func BenchmarkFreshHit(b *testing.B) { bench(b, freshHit, nil) }

// BenchmarkFreshHitBrowser is BenchmarkFreshHit with a browser's header fields on every
// request (browserHeader).
func BenchmarkFreshHitBrowser(b *testing.B) {
	each(b, func(b *testing.B, how, impl string, parallel bool) {
		h, size := freshHit(b, how, impl)
		runWith(b, h, parallel, size, nil, browserHeader)
	})
}

// BenchmarkMissStore: see missStore; every request is a new URL.
func BenchmarkMissStore(b *testing.B) {
	bench(b, missStore, func(i uint64) string { return microURL + "?n=" + strconv.FormatUint(i, 10) })
}

// fullBytes bounds the store of BenchmarkMissStoreFull.
const fullBytes = 8 << 20

// missStoreFull is missStore with a store of fullBytes already full (twice its bound in
// distinct entries requested before the timing): each miss stores into a store at its
// bound, which evicts, as a long-running service's store does; MissStore's store grows
// instead, and each of its misses touches new heap pages.
func missStoreFull(tb testing.TB, how, impl string) (http.Handler, int) {
	src := &source{cc: "max-age=3600", body: microBody}
	h := mount(tb, how, impl, httpfallback.Config{MaxBytes: fullBytes}, src)
	for i := range 2 * fullBytes / len(microBody) {
		serve(h, microURL+"?fill="+strconv.Itoa(i))
	}
	// At the bound, ristretto admits a new key or not (TinyLFU): not always "stored".
	expect(tb, h, impl, "fwd=uri-miss", len(microBody))
	return h, len(microBody)
}

// BenchmarkMissStoreFull: see missStoreFull; every request is a new URL.
func BenchmarkMissStoreFull(b *testing.B) {
	bench(b, missStoreFull, func(i uint64) string { return microURL + "?n=" + strconv.FormatUint(i, 10) })
}

// BenchmarkStaleOnError: see staleOnError.
func BenchmarkStaleOnError(b *testing.B) { bench(b, staleOnError, nil) }

// BenchmarkStaleBreakerOpen: see staleBreakerOpen.
func BenchmarkStaleBreakerOpen(b *testing.B) { bench(b, staleBreakerOpen, nil) }

// BenchmarkDefaultPayload: see defaultPayload.
func BenchmarkDefaultPayload(b *testing.B) { bench(b, defaultPayload, nil) }

// BenchmarkDefaultBreakerOpen: see defaultBreakerOpen.
func BenchmarkDefaultBreakerOpen(b *testing.B) { bench(b, defaultBreakerOpen, nil) }

// BenchmarkStaleInFlight: see staleInFlight.
func BenchmarkStaleInFlight(b *testing.B) { bench(b, staleInFlight, nil) }

// softTimeoutRig is the stale-soft-timeout scenario: the entry is past its freshness and
// within stale-if-error, the breaker closed, the soft timeout 1 ns; each request starts the
// key's fetch, whose source call blocks on step, so the request is answered stale at the
// soft deadline (detail=soft-timeout) while its fetch goes on in the background. next
// (untimed) lets that fetch fail and waits until it has ended (EventRefresh), so that the
// next request starts a fetch of its own again.
type softTimeoutRig struct {
	h    http.Handler
	size int
	next func()
}

func newSoftTimeoutRig(tb testing.TB, how, impl string) *softTimeoutRig {
	src := &source{cc: "max-age=0, stale-if-error=86400", body: microBody}
	refreshed := make(chan struct{}, 1)
	cfg := httpfallback.Config{
		Common:      upstream.Common{Command: upstream.Settings{RequestVolumeThreshold: 1 << 30, Timeout: time.Minute}},
		SoftTimeout: time.Nanosecond,
		OnEvent: func(ev httpfallback.Event) {
			if ev.Kind == httpfallback.EventRefresh {
				refreshed <- struct{}{}
			}
		},
	}
	h := mount(tb, how, impl, cfg, src)
	serve(h, microURL) // store
	rig := &softTimeoutRig{h: h, size: len(microBody), next: func() {}}
	if impl == "failsoft" {
		step := make(chan struct{})
		src.step = step
		rig.next = func() {
			step <- struct{}{} // the fetch reached the source: let it fail
			<-refreshed        // and end: its flight is gone
		}
		tb.Cleanup(func() { close(step) }) // a fetch still blocked fails; before the mount's Close
	}
	expect(tb, h, impl, "detail=soft-timeout", len(microBody))
	rig.next()
	return rig
}

// BenchmarkStaleSoftTimeout: see softTimeoutRig. Serial only; the untimed part of each
// iteration (letting the background fetch end) is excluded with StopTimer. The time is the
// request's path to its stale answer, starting the background fetch included (one
// goroutine of the Engine's per fetch, and what the fetch itself starts before the answer).
func BenchmarkStaleSoftTimeout(b *testing.B) {
	for _, how := range mounts {
		for _, impl := range []string{"bare", "failsoft"} {
			b.Run(fmt.Sprintf("mount=%s/impl=%s/par=false", how, impl), func(b *testing.B) {
				rig := newSoftTimeoutRig(b, how, impl)
				b.ReportAllocs()
				b.SetBytes(int64(rig.size))
				w := &discard{h: make(http.Header)}
				req := httptest.NewRequest(http.MethodGet, microURL, nil)
				g0, ok := goroutinesCreated()
				for b.Loop() {
					w.reset()
					rig.h.ServeHTTP(w, req)
					b.StopTimer()
					rig.next()
					b.StartTimer()
				}
				if ok {
					g1, _ := goroutinesCreated()
					b.ReportMetric(float64(g1-g0)/float64(max(b.N, 1)), "goroutines/op")
				}
			})
		}
	}
}

// TestMicroScenarios checks, without timing, that every benchmark measures what it says:
// each scenario through each mount answers as expected (the Cache-Status of failsoft's
// answer, the status and size of both), twice in a row.
func TestMicroScenarios(t *testing.T) {
	for name, sc := range map[string]scenario{
		"fresh-hit": freshHit, "miss-store": missStore, "stale-on-error": staleOnError,
		"stale-breaker-open": staleBreakerOpen, "default": defaultPayload,
		"default-breaker-open": defaultBreakerOpen, "stale-in-flight": staleInFlight,
		"stale-soft-timeout": func(tb testing.TB, how, impl string) (http.Handler, int) {
			rig := newSoftTimeoutRig(tb, how, impl)
			if impl == "failsoft" {
				expect(tb, rig.h, impl, "detail=soft-timeout", rig.size) // again: the last fetch ended
				rig.next()
			}
			return rig.h, rig.size
		},
	} {
		for _, how := range mounts {
			for _, impl := range []string{"bare", "failsoft"} {
				t.Run(name+"/"+how+"/"+impl, func(t *testing.T) {
					h, size := sc(t, how, impl)
					if name == "miss-store" {
						w := serve(h, microURL+"?n=1")
						if w.status != http.StatusOK || w.n != size {
							t.Fatalf("a new URL: status %d, %d bytes", w.status, w.n)
						}
						return
					}
					w := serve(h, microURL)
					if w.status != http.StatusOK || w.n != size {
						t.Fatalf("again: status %d, %d bytes", w.status, w.n)
					}
				})
			}
		}
	}
}
