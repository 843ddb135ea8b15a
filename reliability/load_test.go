package reliability

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
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

// heapSampler records the peak of runtime.MemStats.HeapInuse, sampled by a goroutine the
// test owns until stop.
type heapSampler struct {
	peak atomic.Uint64
	done chan struct{}
	wg   sync.WaitGroup
}

func startHeapSampler(every time.Duration) *heapSampler {
	s := &heapSampler{done: make(chan struct{})}
	s.sample()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-s.done:
				return
			case <-t.C:
				s.sample()
			}
		}
	}()
	return s
}

func (s *heapSampler) sample() {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	for {
		old := s.peak.Load()
		if ms.HeapInuse <= old || s.peak.CompareAndSwap(old, ms.HeapInuse) {
			return
		}
	}
}

// stop ends sampling and returns the peak HeapInuse in bytes.
func (s *heapSampler) stop() uint64 {
	close(s.done)
	s.wg.Wait()
	s.sample()
	return s.peak.Load()
}

func heapInuse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// heapAlloc is the live heap after a collection.
func heapAlloc() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

const mib = 1 << 20

// TestLoadFlappingUpstream: 64 clients, 500 keys, an upstream that is up and down in turns
// of 200 ms (its listener closed while down). Every 200 must carry a complete body of its
// own key at a version the upstream has served; every other answer is a documented error;
// the breaker must be seen opening and closing; afterwards goroutines return to the
// baseline and the heap is bounded. CI size: 5,000 requests; `-tags long`: 50,000.
func TestLoadFlappingUpstream(t *testing.T) {
	for _, m := range []mountKind{mountProxy, mountMiddleware} {
		t.Run(string(m), func(t *testing.T) { runLoad(t, m) })
	}
}

func runLoad(t *testing.T, m mountKind) {
	total := 5000
	if long {
		total = 50000
	}
	const (
		clients = 64
		keys    = 500
		flap    = 200 * time.Millisecond
		minFlip = 6 // the run lasts at least this many phases, so the breaker has to move
	)
	baseGoroutines := runtime.NumGoroutine()
	baseHeap := heapInuse()

	n := newNames(t)
	up, err := faultupstream.New(faultupstream.Config{BodyBytes: 512, Poll: -1})
	require.NoError(t, err)
	events := &eventLog{}
	var clientOpened, clientClosed atomic.Int64
	breaker := upstream.Settings{
		Timeout:                time.Second,
		MaxConcurrent:          256,
		RequestVolumeThreshold: 20,
		ErrorPercentThreshold:  50,
		SleepWindow:            100 * time.Millisecond,
	}
	engineCfg := httpfallback.Config{
		Name:     n.next("engine"),
		MaxBytes: 32 * mib,
		Policy: cache.Policy{
			FreshFor:     10 * time.Millisecond, // mostly fetches, some hits
			StaleIfError: time.Hour,
		},
		Common:  upstream.Common{Command: breaker},
		OnEvent: events.add,
	}
	clientSettings := breaker
	clientSettings.Name = n.next("client")
	clientSettings.OnStateChange = func(_ string, _, to upstream.BreakerState) {
		switch to {
		case upstream.Open:
			clientOpened.Add(1)
		case upstream.Closed:
			clientClosed.Add(1)
		}
	}
	tr := &http.Transport{MaxIdleConnsPerHost: clients}
	clientCfg := upstream.ClientConfig{
		Common:    upstream.Common{Command: clientSettings},
		Retry:     upstream.RetryPolicy{MaxAttempts: 1},
		Transport: tr,
	}
	var h http.Handler
	var closeFront func()
	if m == mountProxy {
		p := newProxy(t, up.URL(), engineCfg, clientCfg)
		h = p
		closeFront = func() { _ = p.Close() }
	} else {
		eng, err := httpfallback.New(engineCfg)
		require.NoError(t, err)
		cl, err := upstream.NewClient(clientCfg)
		require.NoError(t, err)
		h = eng.Handler(forwardHandler(cl, up.URL()))
		closeFront = func() { _ = eng.Close(); _ = cl.Close() }
	}
	srv := httptest.NewServer(h)
	client := testClient(t)

	// The load generator's own schedule: flip the upstream every 200 ms, and bump the
	// version at each recovery so bodies change over the run.
	var version atomic.Int64
	var flips atomic.Int64
	stopFlap := make(chan struct{})
	flapDone := make(chan struct{})
	go func() {
		defer close(flapDone)
		tick := time.NewTicker(flap)
		defer tick.Stop()
		down := false
		for {
			select {
			case <-stopFlap:
				return
			case <-tick.C:
			}
			down = !down
			if down {
				_ = up.Set(faultupstream.Outage())
			} else {
				v := version.Add(1)
				up.SetVersion(int(v))
				_ = up.Set(faultupstream.Healthy())
			}
			flips.Add(1)
		}
	}()

	sampler := startHeapSampler(10 * time.Millisecond)
	// storedKeys marks keys answered with Cache-Status "stored": from then on the store
	// holds a good entry within stale-if-error (the store is far larger than the key
	// space), so every later answer for the key must be a 200.
	var storedKeys [keys]atomic.Bool
	var (
		sent, ok, errs, lostStale atomic.Int64
		mu                        sync.Mutex
		failures                  []string
		wg                        sync.WaitGroup
	)
	deadline := time.Now().Add(2 * time.Minute) // safety net only
	fail := func(format string, args ...any) {
		mu.Lock()
		if len(failures) < 20 {
			failures = append(failures, fmt.Sprintf(format, args...))
		}
		mu.Unlock()
	}
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := sent.Add(1)
				if (i > int64(total) && flips.Load() >= minFlip) || time.Now().After(deadline) {
					return
				}
				k := (i*7919 + int64(c)) % keys
				path := fmt.Sprintf("/k/%d", k)
				hadEntry := storedKeys[k].Load()
				a := get(client, srv.URL+path, nil)
				if a.err != nil {
					fail("%s: transport error %v", path, a.err)
					continue
				}
				switch a.status {
				case http.StatusOK:
					v, err := faultupstream.Verify(path, a.body)
					if err != nil {
						fail("%s: 200 with a bad body: %v (%v)", path, err, a)
						continue
					}
					if int64(v) > version.Load() {
						fail("%s: version %d never served", path, v)
					}
					if strings.Contains(a.header.Get("Cache-Status"), "stored") {
						storedKeys[k].Store(true)
					}
					ok.Add(1)
				case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
					errs.Add(1)
					if hadEntry {
						lostStale.Add(1)
						fail("%s: error %v although a good entry was stored", path, a)
					}
				default:
					fail("%s: unexpected %v", path, a)
				}
			}
		}()
	}
	wg.Wait()
	close(stopFlap)
	<-flapDone
	peak := sampler.stop()

	srv.Close()
	closeFront()
	tr.CloseIdleConnections()
	client.Transport.(*http.Transport).CloseIdleConnections()
	require.NoError(t, up.Close())

	require.Empty(t, failures)
	done := ok.Load() + errs.Load()
	require.GreaterOrEqual(t, done, int64(total), "every request answered")
	require.Positive(t, ok.Load())
	t.Logf("requests=%d ok=%d errors=%d flips=%d peak HeapInuse=%.1f MiB (baseline %.1f MiB) events: hit=%d stored=%d stale=%d error=%d breaker open=%d closed=%d; client breaker open=%d closed=%d",
		done, ok.Load(), errs.Load(), flips.Load(), float64(peak)/mib, float64(baseHeap)/mib,
		events.count(httpfallback.EventHit), events.count(httpfallback.EventStored), events.count(httpfallback.EventStale),
		events.count(httpfallback.EventError), events.breakerTo(upstream.Open), events.breakerTo(upstream.Closed),
		clientOpened.Load(), clientClosed.Load())

	require.Positive(t, events.count(httpfallback.EventStale), "stale answers served during outages")
	// The upstream client's breaker moves with the flapping; behind the middleware the
	// engine's route command sees the handler's 502s too, and reports through OnEvent.
	require.Positive(t, clientOpened.Load(), "the client's breaker opened")
	require.Positive(t, clientClosed.Load(), "the client's breaker closed again")
	if m == mountMiddleware {
		require.Positive(t, events.breakerTo(upstream.Open), "EventBreaker to open")
		require.Positive(t, events.breakerTo(upstream.Closed), "EventBreaker to closed")
	}

	require.Less(t, peak, baseHeap+256*mib, "heap bounded during the run")
	// Each new circuit leaves hystrix-go's 2 monitors: behind the middleware the engine's
	// route and the client's; through the proxy also the engine's catch-all "*" (created
	// by New), since the proxy runs its attempts on the engine's per-route circuit ("/k")
	// while its client keeps one of its own.
	circuits := 2
	if m == mountProxy {
		circuits = 3
	}
	settleGoroutines(t, baseGoroutines+2*circuits)
	require.Less(t, heapInuse(), baseHeap+64*mib, "heap back near the baseline")
}
