package upstream

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// Benchmarks: one call through the Client vs a bare http.Client on the same loopback
// upstream, and Runner.Run vs calling the function directly. Run with
//
//	go test -run '^$' -bench . -benchmem ./upstream/

func benchName(b *testing.B) string { return fmt.Sprint(b.Name(), "@", time.Now().UnixNano()) }

func benchServer(b *testing.B) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `{"ok":true}`)
	}))
	b.Cleanup(srv.Close)
	return srv
}

func get(b *testing.B, do func(*http.Request) (*http.Response, error), url string) {
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	resp, err := do(req)
	if err != nil {
		b.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}

func BenchmarkBareHTTPClient(b *testing.B) {
	srv := benchServer(b)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr}
	b.ReportAllocs()
	for b.Loop() {
		get(b, hc.Do, srv.URL)
	}
}

func BenchmarkClientDo(b *testing.B) {
	srv := benchServer(b)
	c, err := NewClient(ClientConfig{Common: Common{Command: Settings{Name: benchName(b), Timeout: 5 * time.Second}}})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	b.ReportAllocs()
	for b.Loop() {
		get(b, c.Do, srv.URL)
	}
}

func BenchmarkDirectCall(b *testing.B) {
	ctx := context.Background()
	fn := func(ctx context.Context) error { return ctx.Err() }
	b.ReportAllocs()
	for b.Loop() {
		if err := fn(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRunnerRun(b *testing.B) {
	r, err := NewRunner(Settings{Name: benchName(b), Timeout: 5 * time.Second, RequestVolumeThreshold: 1 << 30})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	ctx := context.Background()
	fn := func(ctx context.Context) error { return ctx.Err() }
	b.ReportAllocs()
	for b.Loop() {
		if err := r.Run(ctx, fn); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRunnerAdmit(b *testing.B) {
	r, err := NewRunner(Settings{Name: benchName(b), Timeout: 5 * time.Second, RequestVolumeThreshold: 1 << 30})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		_, done, err := r.Admit(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if err := done(nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHystrixDoC is hystrix-go alone (what Runner.Run builds on), for the overhead of
// the Runner's own bookkeeping.
func BenchmarkHystrixDoC(b *testing.B) {
	s, _ := Settings{Name: benchName(b), Timeout: 5 * time.Second, RequestVolumeThreshold: 1 << 30}.withDefaults()
	h, err := newHystrixBreaker(s)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	fn := func(ctx context.Context) error { return ctx.Err() }
	b.ReportAllocs()
	for b.Loop() {
		if err := h.do(ctx, fn); err != nil {
			b.Fatal(err)
		}
	}
}
