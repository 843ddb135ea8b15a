package redisstore

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/failsoft/failsoft/cache"
	"github.com/failsoft/failsoft/internal/fakeclock"
	"github.com/failsoft/failsoft/middleware/httpfallback"
	"github.com/failsoft/failsoft/upstream"
)

// origin is a wrapped handler whose health the test switches.
type origin struct {
	down  atomic.Bool
	calls atomic.Int64
	body  atomic.Value // string
}

func newOrigin(body string) *origin {
	o := &origin{}
	o.body.Store(body)
	return o
}

func (o *origin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	o.calls.Add(1)
	if o.down.Load() {
		http.Error(w, "upstream down", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Cache-Control", "max-age=60, stale-if-error=3600")
	w.Header().Set("Content-Type", "text/plain")
	_, _ = w.Write([]byte(o.body.Load().(string)))
}

// replica is an Engine on a Tiered store, as one process of a replicated service runs it.
type replica struct {
	eng    *httpfallback.Engine
	store  *Tiered
	origin *origin
	h      http.Handler
}

func newReplica(t *testing.T, name string, clk *fakeclock.Clock, addr string, o *origin) *replica {
	t.Helper()
	return newReplicaConfig(t, name, clk, Config{Addr: addr}, o)
}

func newReplicaConfig(t *testing.T, name string, clk *fakeclock.Clock, cfg Config, o *origin) *replica {
	t.Helper()
	ts := newTiered(t, clk, cfg)
	eng, err := httpfallback.New(httpfallback.Config{Name: t.Name() + "/" + name, Store: ts, Common: upstream.Common{Now: clk.Now}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = eng.Close() })
	return &replica{eng: eng, store: ts, origin: o, h: eng.Handler(o)}
}

// close stops the replica the way an exiting process does.
func (r *replica) close(t *testing.T) {
	require.NoError(t, r.eng.Close())
	require.NoError(t, r.store.Close())
}

func (r *replica) do(method, url string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	r.h.ServeHTTP(rec, httptest.NewRequest(method, url, nil))
	return rec
}

const itemURL = "http://api.example.test/items/1"

// Must hold, at the engine level: process A stores entries and exits; process B, with an empty
// local tier and the same Redis, serves them stale while the upstream is down.
func TestEngineRestartServesStaleFromRedis(t *testing.T) {
	addr := sharedAddr(t)
	cleanPrefix(t, addr)
	clk := newClock()
	o := newOrigin("last good")

	a := newReplica(t, "a", clk, addr, o)
	rec := a.do(http.MethodGet, itemURL)
	require.Equal(t, http.StatusOK, rec.Code)
	require.Contains(t, rec.Header().Get("Cache-Status"), "stored")
	a.close(t)

	o.down.Store(true)
	clk.Advance(5 * time.Minute) // stale, within stale-if-error
	b := newReplica(t, "b", clk, addr, o)
	key := cache.Key(httptest.NewRequest(http.MethodGet, itemURL, nil), cache.KeyOptions{})
	e, _ := b.store.Local().Get(context.Background(), key, clk.Now())
	require.Nil(t, e, "B starts with an empty local tier")

	calls := o.calls.Load()
	rec = b.do(http.MethodGet, itemURL)
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, "last good", rec.Body.String())
	cs := rec.Header().Get("Cache-Status")
	assert.Contains(t, cs, "fwd=stale", "served stale: %s", cs)
	assert.Contains(t, cs, "fwd-status=503")
	assert.Equal(t, calls+1, o.calls.Load(), "the upstream was tried and failed")
	assert.Equal(t, "300", rec.Header().Get("Age"))
}

// Must hold, at the engine level: an unsafe-method invalidation on one replica and a purge on
// another are seen by the other replica.
func TestEngineReplicasInvalidate(t *testing.T) {
	addr := sharedAddr(t)
	cleanPrefix(t, addr)
	clk := newClock()
	o := newOrigin("v1")
	a := newReplica(t, "a", clk, addr, o)
	b := newReplica(t, "b", clk, addr, o)
	waitListening(t, a.store, b.store)
	key := cache.Key(httptest.NewRequest(http.MethodGet, itemURL, nil), cache.KeyOptions{})
	ctx := context.Background()

	require.Contains(t, a.do(http.MethodGet, itemURL).Header().Get("Cache-Status"), "stored")
	calls := o.calls.Load()
	rec := b.do(http.MethodGet, itemURL)
	require.Equal(t, "v1", rec.Body.String())
	require.Contains(t, rec.Header().Get("Cache-Status"), "hit", "B is filled from Redis")
	require.Equal(t, calls, o.calls.Load(), "without calling the upstream")

	// An unsafe request through A changes the resource.
	o.body.Store("v2")
	rec = a.do(http.MethodPut, itemURL)
	require.Equal(t, http.StatusOK, rec.Code)
	waitLocalGone(t, b.store, key, clk.Now(), "B's local tier drops the entry")
	rec = b.do(http.MethodGet, itemURL)
	assert.Equal(t, "v2", rec.Body.String(), "B fetches the changed resource")

	// A purge on B is seen by A.
	o.body.Store("v3")
	rec = a.do(http.MethodGet, itemURL)
	require.Equal(t, "v2", rec.Body.String(), "A was filled from Redis with B's fetch")
	b.eng.Purge(ctx, httptest.NewRequest(http.MethodGet, itemURL, nil))
	waitLocalGone(t, a.store, key, clk.Now(), "A's local tier drops the purged entry")
	assert.Equal(t, "v3", a.do(http.MethodGet, itemURL).Body.String())
}

// Must hold, at the engine level: with Redis stuck mid-run, requests keep being answered (fresh
// hits from the local tier, misses from the upstream), none waits on Redis longer than its
// timeout, and the breaker soon spares them even that.
func TestEngineKeepsAnsweringWhileRedisStuck(t *testing.T) {
	srv := startServer(t)
	clk := newClock()
	o := newOrigin("v1")
	const timeout = 100 * time.Millisecond
	const failures = 2
	r := newReplicaConfig(t, "a", clk, Config{
		Addr: srv.addr(), Timeout: timeout, Breaker: BreakerConfig{Failures: failures, OpenFor: time.Hour},
	}, o)
	require.Contains(t, r.do(http.MethodGet, itemURL).Header().Get("Cache-Status"), "stored")
	waitListening(t, r.store) // a subscriber caught connecting by the freeze would hold up Close

	srv.pause()
	defer srv.resume()
	// Counted from here: a call before the pause that ran out of the tight timeout on a
	// loaded machine is not this test's business.
	before := r.store.Remote().Stats()
	do := func(url string) *httptest.ResponseRecorder {
		start := time.Now()
		rec := r.do(http.MethodGet, url)
		require.Less(t, time.Since(start), 10*timeout, "safety net: %s waited on Redis", url)
		return rec
	}
	for i := range 5 {
		rec := do(itemURL)
		assert.Equal(t, "v1", rec.Body.String())
		assert.Contains(t, rec.Header().Get("Cache-Status"), "hit", "fresh hits come from the local tier")

		url := itemURL + "?page=" + string(rune('a'+i))
		rec = do(url)
		assert.Equal(t, http.StatusOK, rec.Code, url)
		assert.Contains(t, rec.Header().Get("Cache-Status"), "stored", "misses are fetched and kept locally")
		assert.Contains(t, do(url).Header().Get("Cache-Status"), "hit", "and then hit locally")
	}
	s := r.store.Remote().Stats()
	assert.EqualValues(t, failures, s.Timeouts-before.Timeouts, "only the first calls waited, each for the timeout")
	assert.Equal(t, BreakerOpen, s.Breaker)
	assert.Positive(t, s.Rejected-before.Rejected, "then the breaker answered for Redis")
}
