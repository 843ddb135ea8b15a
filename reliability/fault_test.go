package reliability

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/failsoft/failsoft/cache"
	"github.com/failsoft/failsoft/internal/fakeclock"
	"github.com/failsoft/failsoft/internal/faultupstream"
	"github.com/failsoft/failsoft/middleware/httpfallback"
	"github.com/failsoft/failsoft/upstream"
)

const (
	faultBody      = 16 << 10               // bytes per upstream body: several TCP segments
	faultTimeout   = 500 * time.Millisecond // per-attempt upstream timeout (generous: CI runs with -race)
	faultFreshFor  = 10 * time.Second
	defaultPayload = "default-payload"
)

// rig is failsoft (one mount) -> toxiproxy -> the loopback fault upstream, with an injected
// clock and a store the test can inspect.
type rig struct {
	clock  *fakeclock.Clock
	up     *faultupstream.Server
	toxi   *toxi
	store  *cache.Memory
	front  string       // failsoft's base URL
	client *http.Client // the test's client to failsoft
	events *eventLog
	// upTransport carries failsoft's calls to toxiproxy; idle connections are dropped before a
	// fault so that every fault meets a fresh connection.
	upTransport *http.Transport
}

// mountKind names how failsoft is mounted in front of the upstream.
type mountKind string

const (
	mountProxy      mountKind = "proxy"      // proxy.New
	mountMiddleware mountKind = "middleware" // Engine.Handler over forwardHandler (upstream.Client)
	mountNaive      mountKind = "naive"      // Engine.Handler over naiveStreamHandler
)

type rigOptions struct {
	mount   mountKind
	def     *httpfallback.Default
	timeout time.Duration
	soft    time.Duration // the engine's SoftTimeout; 0: off (-1)
}

func newRig(t *testing.T, opt rigOptions) *rig {
	t.Helper()
	if opt.timeout == 0 {
		opt.timeout = faultTimeout
	}
	n := newNames(t)
	r := &rig{clock: newClock(), events: &eventLog{}}
	r.up = startUpstream(t, faultupstream.Config{BodyBytes: faultBody, Poll: -1})
	r.toxi = startToxi(t, n.next("toxi"), r.up.Addr())
	store, err := cache.New(cache.Config{MaxBytes: 16 << 20, Now: r.clock.Now})
	require.NoError(t, err)
	t.Cleanup(func() { _ = store.Close() })
	r.store = store
	r.upTransport = &http.Transport{MaxIdleConnsPerHost: 16}
	t.Cleanup(r.upTransport.CloseIdleConnections)

	engineCfg := httpfallback.Config{
		Name:  n.next("engine"),
		Store: store,
		Policy: cache.Policy{
			FreshFor:     faultFreshFor,
			StaleIfError: time.Hour,
		},
		Default: opt.def,
		OnEvent: r.events.add,
		Common:  upstream.Common{Now: r.clock.Now},
		// TestFaultInjection checks how each fault is classified and answered when the
		// fetch ends; the soft timeout would answer a slow fault with the stale entry
		// first. It has a test of its own (TestFaultSoftTimeout).
		SoftTimeout: -1,
	}
	if opt.soft != 0 {
		engineCfg.SoftTimeout = opt.soft
	}
	clientCfg := upstream.ClientConfig{
		Common:    upstream.Common{Command: upstream.Settings{Name: n.next("client"), Timeout: opt.timeout}, Now: r.clock.Now},
		Retry:     upstream.RetryPolicy{MaxAttempts: 1},
		Transport: r.upTransport,
	}

	var h http.Handler
	switch opt.mount {
	case mountProxy:
		h = newProxyMount(t, r.toxi.URL(), engineCfg, clientCfg)
	case mountMiddleware, mountNaive:
		// The engine's own command must outlast the client's attempt, so that the
		// failure seen is the upstream's, not the handler's.
		engineCfg.Command = upstream.Settings{Timeout: 4 * opt.timeout}
		eng, err := httpfallback.New(engineCfg)
		require.NoError(t, err)
		t.Cleanup(func() { _ = eng.Close() })
		cl, err := upstream.NewClient(clientCfg)
		require.NoError(t, err)
		t.Cleanup(func() { _ = cl.Close() })
		if opt.mount == mountNaive {
			h = eng.Handler(naiveStreamHandler(cl, r.toxi.URL()))
		} else {
			h = eng.Handler(forwardHandler(cl, r.toxi.URL()))
		}
	default:
		t.Fatalf("unknown mount %q", opt.mount)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	r.front = srv.URL
	r.client = testClient(t)
	return r
}

func (r *rig) get(path string) answer { return get(r.client, r.front+path, nil) }

// fault is one toxic, and what a client must get when nothing else is available.
type fault struct {
	name   string
	typ    string
	stream string
	attrs  map[string]any
	// proxyStatus is the documented error status of the proxy for this fault, and
	// proxyReason the Cache-Status detail naming the failure.
	proxyStatus int
	proxyReason string
	// harmless: the response arrives intact (slicer): it must be served and stored.
	harmless bool
}

func faults() []fault {
	return []fault{
		{name: "latency", typ: "latency", stream: "downstream",
			attrs: map[string]any{"latency": 4 * faultTimeout.Milliseconds()}, proxyStatus: http.StatusGatewayTimeout, proxyReason: "timeout"},
		{name: "timeout", typ: "timeout", stream: "downstream",
			attrs: map[string]any{"timeout": 0}, proxyStatus: http.StatusGatewayTimeout, proxyReason: "timeout"},
		{name: "reset_peer", typ: "reset_peer", stream: "downstream",
			attrs: map[string]any{"timeout": 0}, proxyStatus: http.StatusBadGateway, proxyReason: "connect-error"},
		// Cuts the connection in the middle of the body (headers are a few hundred bytes).
		{name: "limit_data", typ: "limit_data", stream: "downstream",
			attrs: map[string]any{"bytes": faultBody / 2}, proxyStatus: http.StatusBadGateway, proxyReason: "invalid-response"},
		// The request itself is cut: the upstream never gets a whole request.
		{name: "limit_data_request", typ: "limit_data", stream: "upstream",
			attrs: map[string]any{"bytes": 20}, proxyStatus: http.StatusBadGateway, proxyReason: "connect-error"},
		// 4 KB/s: headers and the first part of the body arrive at once, the rest trickles
		// in over about 4 s, past the command's deadline. The proxy reads bodies up to
		// Client.BufferBody (1 MiB) inside the attempt, so the trickle is a timeout there too.
		{name: "bandwidth", typ: "bandwidth", stream: "downstream",
			attrs: map[string]any{"rate": 4}, proxyStatus: http.StatusGatewayTimeout, proxyReason: "timeout"},
		// Slices the response into tiny delayed pieces: slow but intact.
		{name: "slicer", typ: "slicer", stream: "downstream",
			attrs: map[string]any{"average_size": 64, "size_variation": 32, "delay": 50}, harmless: true},
	}
}

// prior is what failsoft has when the fault hits.
type prior string

const (
	priorStale   prior = "stale"   // a good entry, past its freshness, within stale-if-error
	priorDefault prior = "default" // no entry; a default payload configured
	priorNone    prior = "none"    // no entry, no default: the documented error
)

func TestFaultInjection(t *testing.T) {
	// Runs after every parallel subtest (and its proxy) has ended.
	t.Cleanup(func() { waitToxiproxyDrained(t) })
	for _, m := range []mountKind{mountProxy, mountMiddleware, mountNaive} {
		for _, f := range faults() {
			for _, p := range []prior{priorStale, priorDefault, priorNone} {
				t.Run(string(m)+"/"+f.name+"/"+string(p), func(t *testing.T) {
					t.Parallel()
					runFault(t, m, f, p)
				})
			}
		}
	}
}

// TestFaultSoftTimeout: a connection that stops carrying data (toxiproxy's timeout toxic)
// while failsoft holds a stale entry: through every mount the client gets the entry at the
// soft timeout, long before the attempt timeout; the fetch is left to the engine (Close
// ends it).
func TestFaultSoftTimeout(t *testing.T) {
	t.Cleanup(func() { waitToxiproxyDrained(t) })
	for _, m := range []mountKind{mountProxy, mountMiddleware, mountNaive} {
		t.Run(string(m), func(t *testing.T) {
			t.Parallel()
			// The attempt timeout is far beyond the soft timeout: only the latter can
			// answer while the connection is stalled.
			r := newRig(t, rigOptions{mount: m, timeout: 20 * faultTimeout, soft: 50 * time.Millisecond})
			const path = "/doc/soft"
			r.up.SetVersion(1)
			a := r.get(path)
			require.NoError(t, a.err)
			require.Equal(t, http.StatusOK, a.status, "priming: %v", a)
			require.Eventually(t, func() bool { return stored(r.store, r.front, path, r.clock.Now()) != nil },
				5*time.Second, 5*time.Millisecond, "the primed entry is stored")
			r.clock.Advance(faultFreshFor + time.Second)
			r.up.SetVersion(2)
			r.upTransport.CloseIdleConnections()
			r.toxi.add(t, "timeout", "timeout", "downstream", map[string]any{"timeout": 0})

			a = r.get(path)
			require.NoError(t, a.err)
			require.Equal(t, http.StatusOK, a.status, "%v", a)
			v, err := faultupstream.Verify(path, a.body)
			require.NoError(t, err, "%v", a)
			assert.Equal(t, 1, v, "the stored answer")
			assert.Contains(t, a.header.Get("Cache-Status"), "detail=soft-timeout")
		})
	}
}

func runFault(t *testing.T, m mountKind, f fault, p prior) {
	opt := rigOptions{mount: m}
	if f.harmless {
		// Slow but intact: what is under test is that it is served and stored, not how
		// long it takes; a loaded CI machine under -race can push it past 500 ms.
		opt.timeout = 10 * faultTimeout
	}
	if p == priorDefault {
		opt.def = &httpfallback.Default{
			Status: http.StatusOK,
			Header: http.Header{"Content-Type": {"text/plain"}},
			Body:   []byte(defaultPayload),
		}
	}
	r := newRig(t, opt)
	const path = "/doc/1"

	if p == priorStale {
		r.up.SetVersion(1)
		a := r.get(path)
		require.NoError(t, a.err)
		require.Equal(t, http.StatusOK, a.status, "priming: %v", a)
		v, err := faultupstream.Verify(path, a.body)
		require.NoError(t, err, "priming body")
		require.Equal(t, 1, v)
		require.Eventually(t, func() bool { return stored(r.store, r.front, path, r.clock.Now()) != nil },
			5*time.Second, 5*time.Millisecond, "the primed entry is stored")
		r.clock.Advance(faultFreshFor + time.Second) // stale, within stale-if-error
	}
	r.up.SetVersion(2)
	r.upTransport.CloseIdleConnections()
	r.toxi.add(t, f.name, f.typ, f.stream, f.attrs)

	a := r.get(path)
	require.NoError(t, a.err, "the client always gets a whole response: %v", a)
	checkNoCorruptOK(t, path, a)

	harmless := f.harmless
	switch {
	case harmless:
		require.Equal(t, http.StatusOK, a.status, "%v", a)
		v, err := faultupstream.Verify(path, a.body)
		require.NoError(t, err, "%v", a)
		require.Equal(t, 2, v, "the fresh answer is served")
		require.Eventually(t, func() bool {
			e := stored(r.store, r.front, path, r.clock.Now())
			if e == nil {
				return false
			}
			v, err := faultupstream.Verify(path, e.Body)
			return err == nil && v == 2
		}, 5*time.Second, 5*time.Millisecond, "the intact answer is stored")
	case p == priorStale:
		require.Equal(t, http.StatusOK, a.status, "stale expected: %v", a)
		v, err := faultupstream.Verify(path, a.body)
		require.NoError(t, err, "%v", a)
		require.Equal(t, 1, v, "the last good body is served")
		cs := a.header.Get("Cache-Status")
		assert.Contains(t, cs, "fwd=stale", "stale is labelled")
		assert.NotContains(t, cs, "stored")
		if m == mountProxy {
			assert.Contains(t, cs, "detail="+f.proxyReason)
		}
		assert.NotEmpty(t, a.header.Get("Age"), "stale carries Age")
	case p == priorDefault:
		require.Equal(t, http.StatusOK, a.status, "default expected: %v", a)
		require.Equal(t, defaultPayload, string(a.body[:min(len(a.body), 64)]), "%v", a)
		assert.Contains(t, a.header.Get("Cache-Status"), "detail=default")
	default:
		if m == mountProxy {
			require.Equal(t, f.proxyStatus, a.status, "%v", a)
			assert.Contains(t, a.header.Get("Cache-Status"), "detail="+f.proxyReason)
		} else {
			require.Contains(t, []int{http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout},
				a.status, "%v", a)
		}
		assert.NotEmpty(t, a.header.Get("Cache-Status"))
	}

	// Nothing partial was stored: the store holds the primed entry or nothing (or the
	// intact answer), and the next request, with the upstream gone, gets the same verdict.
	r.toxi.remove(t, f.name)
	require.NoError(t, r.up.Set(faultupstream.Outage()))
	r.upTransport.CloseIdleConnections()
	e := stored(r.store, r.front, path, r.clock.Now())
	switch {
	case harmless:
		require.NotNil(t, e)
	case p == priorStale:
		require.NotNil(t, e, "the good entry survives the fault")
		v, err := faultupstream.Verify(path, e.Body)
		require.NoError(t, err, "stored body")
		require.Equal(t, 1, v)
	default:
		require.Nil(t, e, "nothing stored after a failed fetch")
	}
	if e != nil {
		_, err := faultupstream.Verify(path, e.Body)
		require.NoError(t, err, "the store never holds a partial body")
	}
	next := r.get(path)
	require.NoError(t, next.err)
	checkNoCorruptOK(t, path, next)
	switch {
	case harmless || p == priorStale:
		require.Equal(t, http.StatusOK, next.status, "%v", next)
	case p == priorDefault:
		require.Equal(t, defaultPayload, string(next.body[:min(len(next.body), 64)]), "%v", next)
	default:
		require.GreaterOrEqual(t, next.status, 500, "%v", next)
	}
}

// checkNoCorruptOK fails when a 200 carries anything but a complete upstream document or
// the configured default.
func checkNoCorruptOK(t *testing.T, path string, a answer) {
	t.Helper()
	if a.status != http.StatusOK || string(a.body) == defaultPayload {
		return
	}
	_, err := faultupstream.Verify(path, a.body)
	require.NoError(t, err, "a 200 must carry a complete body: %v", a)
	if cl := a.header.Get("Content-Length"); cl != "" {
		require.Equal(t, cl, strings.TrimSpace(cl))
	}
}
