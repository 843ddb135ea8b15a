package degrade

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"

	"github.com/afex/hystrix-go/hystrix"
	"github.com/failsafe-go/failsafe-go"
	"github.com/failsafe-go/failsafe-go/cachepolicy"
	"github.com/failsafe-go/failsafe-go/circuitbreaker"
	"github.com/failsafe-go/failsafe-go/fallback"
	"github.com/failsafe-go/failsafe-go/retrypolicy"
	"github.com/failsafe-go/failsafe-go/timeout"
	"github.com/gojek/heimdall/v7"
	heimdallhystrix "github.com/gojek/heimdall/v7/hystrix"
	"github.com/gregjones/httpcache"

	"github.com/failsoft/failsoft/middleware/httpfallback"
	"github.com/failsoft/failsoft/middleware/proxy"
	"github.com/failsoft/failsoft/upstream"
)

// peer is one way of calling the upstream.
type peer interface {
	// Get fetches url; the body is read completely (a read error is returned).
	Get(ctx context.Context, url string) (status int, body []byte, err error)
	Close()
}

type peerFactory func(cfg Config, upstreamURL, name string) (peer, error)

// PeerNames lists the peers in report order.
func PeerNames() []string {
	return []string{"bare", "hystrix", "failsoft", "failsafe-go", "heimdall", "httpcache"}
}

var peers = map[string]peerFactory{
	"bare":        newBare,
	"hystrix":     newHystrix,
	"failsoft":    newFailsoft,
	"failsafe-go": newFailsafe,
	"heimdall":    newHeimdall,
	"httpcache":   newHTTPCache,
}

var errStatus = errors.New("upstream answered 5xx")

// transport is each peer's own connection pool to the upstream.
func transport() *http.Transport {
	return &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 64, DisableCompression: true}
}

func do(ctx context.Context, c *http.Client, url string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// (a) bare: an http.Client with the per-attempt timeout, nothing else.
type bare struct {
	tr *http.Transport
	c  *http.Client
}

func newBare(cfg Config, _, _ string) (peer, error) {
	tr := transport()
	return &bare{tr: tr, c: &http.Client{Transport: tr, Timeout: cfg.Attempt}}, nil
}

func (b *bare) Get(ctx context.Context, url string) (int, []byte, error) { return do(ctx, b.c, url) }
func (b *bare) Close()                                                   { b.tr.CloseIdleConnections() }

// (b) hystrix-go alone: each call a command (timeout, breaker); 5xx is a failure; the body
// is read inside the command; no retries, no cache (hystrix-go has neither).
type hystrixPeer struct {
	name string
	tr   *http.Transport
	c    *http.Client
}

func configureHystrix(cfg Config, name string) {
	hystrix.ConfigureCommand(name, hystrix.CommandConfig{
		Timeout:                int(cfg.Attempt / time.Millisecond),
		MaxConcurrentRequests:  100,
		RequestVolumeThreshold: cfg.BreakerVolume,
		SleepWindow:            int(cfg.BreakerSleep / time.Millisecond),
		ErrorPercentThreshold:  cfg.BreakerPercent,
	})
}

func newHystrix(cfg Config, _, name string) (peer, error) {
	configureHystrix(cfg, name)
	tr := transport()
	// hystrix-go's timeout does not cancel the work: the client's own timeout bounds it.
	return &hystrixPeer{name: name, tr: tr, c: &http.Client{Transport: tr, Timeout: cfg.Attempt}}, nil
}

func (h *hystrixPeer) Get(ctx context.Context, url string) (int, []byte, error) {
	var (
		mu     sync.Mutex
		status int
		body   []byte
	)
	err := hystrix.DoC(ctx, h.name, func(ctx context.Context) error {
		st, b, err := do(ctx, h.c, url)
		if err != nil {
			return err
		}
		if st >= 500 {
			return errStatus
		}
		mu.Lock()
		status, body = st, b
		mu.Unlock()
		return nil
	}, nil)
	if err != nil {
		return 0, nil, err
	}
	mu.Lock()
	defer mu.Unlock()
	return status, body, nil
}

func (h *hystrixPeer) Close() { h.tr.CloseIdleConnections() }

// (c) failsoft: the reverse proxy (proxy.New) in front of the upstream, served
// in-process (no extra network hop): hystrix command, retries, ristretto store, stale.
type failsoftPeer struct {
	p *proxy.Proxy
}

func newFailsoft(cfg Config, upstreamURL, name string) (peer, error) {
	p, err := proxy.New(proxy.Config{
		Upstream: upstreamURL,
		Engine: httpfallback.Config{
			Name:     name,
			MaxBytes: 16 << 20,
			// Timeout 0: the wait for the response headers is bounded by the client's
			// per-attempt timeout times its attempts, plus its backoffs and a tenth of an
			// attempt (the documented default).
			Common: upstream.Common{Command: upstream.Settings{
				MaxConcurrent:          100,
				RequestVolumeThreshold: cfg.BreakerVolume,
				ErrorPercentThreshold:  cfg.BreakerPercent,
				SleepWindow:            cfg.BreakerSleep,
			}},
		},
		Client: upstream.ClientConfig{
			// The other fields of the client's command (its breaker) are the engine's.
			Common: upstream.Common{Command: upstream.Settings{Timeout: cfg.Attempt}},
			Retry: upstream.RetryPolicy{
				MaxAttempts: cfg.Retries + 1,
				BaseDelay:   cfg.BackoffBase,
				MaxDelay:    cfg.BackoffMax,
			},
			Transport: transport(),
		},
		// A body that stalls longer than an attempt's timeout is a failure.
		BodyIdleTimeout: cfg.Attempt,
	})
	if err != nil {
		return nil, err
	}
	return &failsoftPeer{p: p}, nil
}

func (f *failsoftPeer) Get(ctx context.Context, url string) (int, []byte, error) {
	req := httptest.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	rec := httptest.NewRecorder()
	f.p.ServeHTTP(rec, req)
	if err := ctx.Err(); err != nil {
		return 0, nil, err
	}
	return rec.Code, rec.Body.Bytes(), nil
}

func (f *failsoftPeer) Close() { _ = f.p.Close() }

// (d) failsafe-go: Fallback(Cache(Retry(CircuitBreaker(Timeout(GET))))) over a result type
// holding the read body. The cache policy serves entries younger than FreshFor; the
// fallback serves the last good answer of the key from the same cache (stale-if-error),
// else the error.
type answer struct {
	status int
	body   []byte
}

type lastGood struct {
	mu    sync.Mutex
	fresh time.Duration
	m     map[string]lastGoodEntry
}

type lastGoodEntry struct {
	a  *answer
	at time.Time
}

// Get implements cachepolicy.Cache: only entries within their freshness.
func (c *lastGood) Get(key string) (*answer, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[key]
	if !ok || time.Since(e.at) >= c.fresh {
		return nil, false
	}
	return e.a, true
}

// Set implements cachepolicy.Cache.
func (c *lastGood) Set(key string, a *answer) {
	c.mu.Lock()
	c.m[key] = lastGoodEntry{a: a, at: time.Now()}
	c.mu.Unlock()
}

func (c *lastGood) stale(key string) (*answer, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[key]
	return e.a, ok
}

type failsafePeer struct {
	tr    *http.Transport
	c     *http.Client
	cache *lastGood
	exec  failsafe.Executor[*answer]
}

type cacheKeyCtx struct{}

func newFailsafe(cfg Config, _, _ string) (peer, error) {
	tr := transport()
	p := &failsafePeer{tr: tr, c: &http.Client{Transport: tr}, cache: &lastGood{fresh: cfg.FreshFor, m: map[string]lastGoodEntry{}}}
	fb := fallback.NewWithFunc(func(exec failsafe.Execution[*answer]) (*answer, error) {
		if key, ok := exec.Context().Value(cacheKeyCtx{}).(string); ok {
			if a, ok := p.cache.stale(key); ok {
				return a, nil
			}
		}
		return nil, exec.LastError()
	})
	cp := cachepolicy.NewBuilder[*answer](p.cache).
		CacheIf(func(a *answer, err error) bool { return err == nil && a != nil && a.status/100 == 2 }).
		Build()
	rp := retrypolicy.NewBuilder[*answer]().
		HandleIf(func(_ *answer, err error) bool { return err != nil }).
		AbortOnErrors(context.Canceled, circuitbreaker.ErrOpen). // an open breaker is not retried
		WithMaxRetries(cfg.Retries).
		WithBackoff(cfg.BackoffBase, cfg.BackoffMax).
		WithJitterFactor(0.5).
		ReturnLastFailure().
		Build()
	cb := circuitbreaker.NewBuilder[*answer]().
		HandleIf(func(_ *answer, err error) bool { return err != nil }).
		WithFailureRateThreshold(float64(cfg.BreakerPercent)/100, uint(cfg.BreakerVolume), 10*time.Second).
		WithDelay(cfg.BreakerSleep).
		Build()
	to := timeout.New[*answer](cfg.Attempt)
	p.exec = failsafe.With[*answer](fb, cp, rp, cb, to)
	return p, nil
}

func (f *failsafePeer) Get(ctx context.Context, url string) (int, []byte, error) {
	ctx = context.WithValue(cachepolicy.ContextWithCacheKey(ctx, url), cacheKeyCtx{}, url)
	a, err := f.exec.WithContext(ctx).GetWithExecution(func(exec failsafe.Execution[*answer]) (*answer, error) {
		st, b, err := do(exec.Context(), f.c, url)
		if err != nil {
			return nil, err
		}
		if st >= 500 {
			return nil, fmt.Errorf("%w: %d", errStatus, st)
		}
		return &answer{status: st, body: b}, nil
	})
	if err != nil {
		return 0, nil, err
	}
	return a.status, a.body, nil
}

func (f *failsafePeer) Close() { f.tr.CloseIdleConnections() }

// (e) heimdall's hystrix client: hystrix command per attempt, retries with exponential
// backoff, 5xx counted as a failure and returned as the response; no cache.
type heimdallPeer struct {
	tr *http.Transport
	c  *heimdallhystrix.Client
}

func newHeimdall(cfg Config, _, name string) (peer, error) {
	tr := transport()
	backoff := heimdall.NewExponentialBackoff(cfg.BackoffBase, cfg.BackoffMax, 2, cfg.BackoffBase/2)
	c := heimdallhystrix.NewClient(
		heimdallhystrix.WithHTTPClient(&http.Client{Transport: tr, Timeout: cfg.Attempt}),
		heimdallhystrix.WithCommandName(name),
		heimdallhystrix.WithHystrixTimeout(cfg.Attempt),
		heimdallhystrix.WithMaxConcurrentRequests(100),
		heimdallhystrix.WithErrorPercentThreshold(cfg.BreakerPercent),
		heimdallhystrix.WithSleepWindow(int(cfg.BreakerSleep/time.Millisecond)),
		heimdallhystrix.WithRequestVolumeThreshold(cfg.BreakerVolume),
		heimdallhystrix.WithRetryCount(cfg.Retries),
		heimdallhystrix.WithRetrier(heimdall.NewRetrier(backoff)),
	)
	return &heimdallPeer{tr: tr, c: c}, nil
}

func (h *heimdallPeer) Get(ctx context.Context, url string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, nil, err
	}
	resp, err := h.c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

func (h *heimdallPeer) Close() { h.tr.CloseIdleConnections() }

// (f) gregjones/httpcache: its memory cache transport over a transport whose response
// header timeout is the per-attempt timeout (so a hung upstream is an error the cache can
// answer with stale-if-error); the client's timeout is the whole deadline. No retries, no
// breaker.
type httpcachePeer struct {
	tr *http.Transport
	c  *http.Client
}

func newHTTPCache(cfg Config, _, _ string) (peer, error) {
	tr := transport()
	tr.ResponseHeaderTimeout = cfg.Attempt
	ct := httpcache.NewMemoryCacheTransport()
	ct.Transport = tr
	return &httpcachePeer{tr: tr, c: &http.Client{Transport: ct, Timeout: cfg.Deadline}}, nil
}

func (h *httpcachePeer) Get(ctx context.Context, url string) (int, []byte, error) {
	return do(ctx, h.c, url)
}

func (h *httpcachePeer) Close() { h.tr.CloseIdleConnections() }
