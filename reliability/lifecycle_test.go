package reliability

import (
	"context"
	"fmt"
	"hash/crc32"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/failsoft/failsoft/cache"
	"github.com/failsoft/failsoft/internal/faultupstream"
	"github.com/failsoft/failsoft/middleware/httpfallback"
	"github.com/failsoft/failsoft/upstream"
)

// bodyApp answers every path with its deterministic 1 KiB body, cacheable for an hour.
func bodyApp(calls *atomic.Int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Cache-Control", "public, max-age=3600")
		_, _ = w.Write(keyBody(r.URL.Path, 1024))
	})
}

// TestCloseDuringTraffic closes an engine (which owns its store) while 16 goroutines keep
// serving misses and hits through it, and closes it again concurrently. A panic anywhere
// fails the binary; answers before and after Close are either the key's whole body or an
// error status, never a wrong 200; no goroutine survives.
func TestCloseDuringTraffic(t *testing.T) {
	base := runtime.NumGoroutine()
	n := newNames(t)
	var calls atomic.Int64
	eng, err := httpfallback.New(httpfallback.Config{
		Name:     n.next("engine"),
		MaxBytes: 4 * mib,
		Policy:   cache.Policy{StaleWhileRevalidate: time.Hour},
		Common:   upstream.Common{Command: upstream.Settings{Timeout: 5 * time.Second, MaxConcurrent: 64}},
	})
	require.NoError(t, err)
	h := eng.Handler(bodyApp(&calls))

	const workers, perWorker, closeAfter = 16, 600, 2000
	var served atomic.Int64
	closing := make(chan struct{})
	var once sync.Once
	var bad atomic.Value
	var wg sync.WaitGroup
	for wkr := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWorker {
				path := fmt.Sprintf("/c/%d", (wkr*perWorker+i)%700)
				r, _ := http.NewRequest(http.MethodGet, "http://life.example"+path, nil)
				w := &discardWriter{h: http.Header{}}
				h.ServeHTTP(w, r)
				if w.status == http.StatusOK && w.sum != bodySum(path, 1024) {
					bad.CompareAndSwap(nil, fmt.Sprintf("%s: 200 with a wrong body (%d bytes)", path, w.n))
				}
				if w.status != http.StatusOK && w.status < 500 {
					bad.CompareAndSwap(nil, fmt.Sprintf("%s: status %d", path, w.status))
				}
				if served.Add(1) == closeAfter {
					once.Do(func() { close(closing) })
				}
			}
		}()
	}
	<-closing
	var cwg sync.WaitGroup
	closeErrs := make([]error, 3)
	for i := range closeErrs {
		cwg.Add(1)
		go func() { defer cwg.Done(); closeErrs[i] = eng.Close() }()
	}
	cwg.Wait()
	wg.Wait()
	require.Nil(t, bad.Load())
	for _, err := range closeErrs {
		require.NoError(t, err, "Close is safe to call concurrently")
	}
	require.NoError(t, eng.Close(), "and again after")

	// Serve after Close still answers (documented choice of the engine) without a panic.
	r, _ := http.NewRequest(http.MethodGet, "http://life.example/after-close", nil)
	w := &discardWriter{h: http.Header{}}
	h.ServeHTTP(w, r)
	require.NotZero(t, w.status)
	settleGoroutines(t, base+2) // one new circuit: its 2 hystrix monitors
}

// TestProxyCloseDuringTraffic: the same through the reverse proxy on a real server.
func TestProxyCloseDuringTraffic(t *testing.T) {
	base := runtime.NumGoroutine()
	var calls atomic.Int64
	up := httptest.NewServer(bodyApp(&calls))
	n := newNames(t)
	tr := &http.Transport{MaxIdleConnsPerHost: 32}
	p := newProxy(t, up.URL, httpfallback.Config{Name: n.next("engine"), MaxBytes: 4 * mib},
		upstream.ClientConfig{Common: upstream.Common{Command: upstream.Settings{Name: n.next("client"), Timeout: 5 * time.Second}}, Transport: tr})
	srv := &http.Server{Handler: p}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = srv.Serve(ln) }()
	client := testClient(t)
	front := "http://" + ln.Addr().String()

	var served atomic.Int64
	var bad atomic.Value
	var wg sync.WaitGroup
	closed := make(chan struct{})
	var once sync.Once
	for wkr := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				path := fmt.Sprintf("/p/%d", (wkr*200+i)%300)
				a := get(client, front+path, nil)
				if a.err == nil && a.status == http.StatusOK && crc32.ChecksumIEEE(a.body) != bodySum(path, 1024) {
					bad.CompareAndSwap(nil, path+": wrong 200")
				}
				if served.Add(1) == 1000 {
					once.Do(func() { close(closed); _ = p.Close() })
				}
			}
		}()
	}
	wg.Wait()
	<-closed
	require.Nil(t, bad.Load())
	require.NoError(t, srv.Shutdown(t.Context()))
	require.NoError(t, p.Close())
	tr.CloseIdleConnections()
	client.Transport.(*http.Transport).CloseIdleConnections()
	up.Close()
	// hystrix's 2 monitors for each of 3 circuits: the engine's "*" (created by New), the
	// client's own, and the route "/p" every request here ran as.
	settleGoroutines(t, base+2*3)
}

// TestGracefulShutdownDrains: requests in flight when http.Server.Shutdown starts complete
// with their whole bodies; then Engine.Close; nothing is left running.
func TestGracefulShutdownDrains(t *testing.T) {
	base := runtime.NumGoroutine()
	n := newNames(t)
	const inflight = 8
	entered := make(chan struct{}, inflight)
	release := make(chan struct{})
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
			http.Error(w, "gone", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=60")
		_, _ = w.Write(keyBody(r.URL.Path, 4096))
	})
	eng, err := httpfallback.New(httpfallback.Config{
		Name:   n.next("engine"),
		Common: upstream.Common{Command: upstream.Settings{Timeout: 30 * time.Second, MaxConcurrent: 64}},
	})
	require.NoError(t, err)
	srv := &http.Server{Handler: eng.Handler(app)}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	front := "http://" + ln.Addr().String()
	client := testClient(t)

	answers := make(chan answer, inflight)
	for i := range inflight {
		go func() { answers <- get(client, front+"/drain/"+strconv.Itoa(i), nil) }()
	}
	for range inflight {
		select {
		case <-entered:
		case <-time.After(20 * time.Second):
			t.Fatal("requests never reached the handler")
		}
	}
	shutdownErr := make(chan error, 1)
	go func() { shutdownErr <- srv.Shutdown(context.Background()) }()
	// Shutdown has begun once the listener refuses new connections (bounded poll).
	require.Eventually(t, func() bool {
		c, err := net.DialTimeout("tcp", ln.Addr().String(), 100*time.Millisecond)
		if err != nil {
			return true
		}
		_ = c.Close()
		return false
	}, 10*time.Second, 5*time.Millisecond)
	close(release)
	for range inflight {
		a := <-answers
		require.NoError(t, a.err)
		require.Equal(t, http.StatusOK, a.status, "%v", a)
		require.Len(t, a.body, 4096, "the in-flight answer is whole")
	}
	require.NoError(t, <-shutdownErr)
	require.ErrorIs(t, <-serveErr, http.ErrServerClosed)
	require.NoError(t, eng.Close())
	client.Transport.(*http.Transport).CloseIdleConnections()
	settleGoroutines(t, base+2)
}

// TestCloseStopsBackgroundRefresh: a stale-while-revalidate refresh blocked in the handler
// when Close is called is cancelled and waited for: Close returns and nothing leaks.
func TestCloseStopsBackgroundRefresh(t *testing.T) {
	base := runtime.NumGoroutine()
	n := newNames(t)
	clock := newClock()
	var calls atomic.Int64
	refreshing := make(chan struct{}, 1)
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) > 1 { // the refresh: block until cancelled
			refreshing <- struct{}{}
			<-r.Context().Done()
			http.Error(w, "cancelled", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("v1"))
	})
	eng, err := httpfallback.New(httpfallback.Config{
		Name:   n.next("engine"),
		Policy: cache.Policy{FreshFor: time.Second, StaleWhileRevalidate: time.Hour},
		Common: upstream.Common{Command: upstream.Settings{Timeout: time.Minute}, Now: clock.Now},
	})
	require.NoError(t, err)
	h := eng.Handler(app)
	serve := func() *discardWriter {
		r, _ := http.NewRequest(http.MethodGet, "http://refresh.example/x", nil)
		w := &discardWriter{h: http.Header{}}
		h.ServeHTTP(w, r)
		return w
	}
	require.Equal(t, http.StatusOK, serve().status)
	require.Eventually(t, func() bool { return eng.Stats().Store.Stored > 0 }, 5*time.Second, time.Millisecond)
	// Wait until the entry is visible, then make it stale.
	require.Eventually(t, func() bool {
		w := serve()
		return w.h.Get("Cache-Status") != "" && calls.Load() == 1 && w.status == http.StatusOK
	}, 5*time.Second, time.Millisecond)
	clock.Advance(2 * time.Second)
	w := serve()
	require.Equal(t, http.StatusOK, w.status, "stale served at once")
	select {
	case <-refreshing:
	case <-time.After(20 * time.Second):
		t.Fatal("no background refresh started")
	}
	closed := make(chan error, 1)
	go func() { closed <- eng.Close() }()
	select {
	case err := <-closed:
		require.NoError(t, err)
	case <-time.After(20 * time.Second):
		t.Fatal("Close did not cancel the background refresh")
	}
	settleGoroutines(t, base+2)
}

// TestClientHangupsNeverOpenBreaker: many clients hanging up while their fetches are in
// flight (hystrix-go would count the resulting context errors as failures) must neither
// open a breaker nor stop the next clients from being served.
func TestClientHangupsNeverOpenBreaker(t *testing.T) {
	for _, m := range []mountKind{mountProxy, mountMiddleware} {
		t.Run(string(m), func(t *testing.T) {
			const hangups = 40
			n := newNames(t)
			up := startUpstream(t, faultupstream.Config{BodyBytes: 512, Poll: -1})
			require.NoError(t, up.Set(faultupstream.Latency(300*time.Millisecond)))
			events := &eventLog{}
			var opened atomic.Int64
			breaker := upstream.Settings{
				Timeout:                5 * time.Second,
				MaxConcurrent:          256,
				RequestVolumeThreshold: 10,
				ErrorPercentThreshold:  10,
				SleepWindow:            time.Minute,
				OnStateChange: func(_ string, _, to upstream.BreakerState) {
					if to == upstream.Open {
						opened.Add(1)
					}
				},
			}
			engineCfg := httpfallback.Config{Name: n.next("engine"), Common: upstream.Common{Command: breaker}, OnEvent: events.add}
			clientSettings := breaker
			clientSettings.Name = n.next("client")
			tr := &http.Transport{MaxIdleConnsPerHost: hangups}
			t.Cleanup(tr.CloseIdleConnections)
			clientCfg := upstream.ClientConfig{Common: upstream.Common{Command: clientSettings}, Retry: upstream.RetryPolicy{MaxAttempts: 1}, Transport: tr}
			var h http.Handler
			if m == mountProxy {
				h = newProxyMount(t, up.URL(), engineCfg, clientCfg)
			} else {
				eng, err := httpfallback.New(engineCfg)
				require.NoError(t, err)
				t.Cleanup(func() { _ = eng.Close() })
				cl, err := upstream.NewClient(clientCfg)
				require.NoError(t, err)
				t.Cleanup(func() { _ = cl.Close() })
				h = eng.Handler(forwardHandler(cl, up.URL()))
			}
			srv := httptest.NewServer(h)
			t.Cleanup(srv.Close)
			client := testClient(t)

			ctx, cancel := context.WithCancel(t.Context())
			var wg sync.WaitGroup
			for i := range hangups {
				wg.Add(1)
				go func() {
					defer wg.Done()
					req, _ := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s/hang/%d", srv.URL, i), nil)
					if resp, err := client.Do(req); err == nil {
						resp.Body.Close()
					}
				}()
			}
			// Hang up once every fetch has reached the upstream.
			require.Eventually(t, func() bool { return up.Requests() >= hangups }, 20*time.Second, time.Millisecond)
			cancel()
			wg.Wait()

			// The next clients are served (a breaker that opened would refuse them).
			require.NoError(t, up.Set(faultupstream.Healthy()))
			for i := range 20 {
				a := get(client, fmt.Sprintf("%s/after/%d", srv.URL, i), nil)
				require.NoError(t, a.err)
				require.Equal(t, http.StatusOK, a.status, "%v", a)
			}
			require.Zero(t, opened.Load(), "a breaker opened because clients hung up")
			require.Zero(t, events.breakerTo(upstream.Open))
		})
	}
}
