package redisstore

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/failsoft/failsoft/cache"
	"github.com/failsoft/failsoft/internal/fakeclock"
)

func TestNewTieredValidates(t *testing.T) {
	remote, err := New(Config{Addr: "127.0.0.1:1"})
	require.NoError(t, err)
	defer remote.Close()
	_, err = NewTiered(nil, remote, TieredConfig{})
	assert.ErrorContains(t, err, "local")
	_, err = NewTiered(missStore{}, nil, TieredConfig{})
	assert.ErrorContains(t, err, "remote")
	_, err = NewTiered(missStore{}, remote, TieredConfig{InstanceID: "a\nb"})
	assert.ErrorContains(t, err, "TieredConfig.InstanceID")
	_, err = NewTiered(missStore{}, remote, TieredConfig{ReconnectMin: -1})
	assert.ErrorContains(t, err, "TieredConfig.ReconnectMin")
	_, err = NewTiered(missStore{}, remote, TieredConfig{ReconnectMin: time.Second, ReconnectMax: time.Millisecond})
	assert.ErrorContains(t, err, "TieredConfig.ReconnectMax")
}

// Must hold: process A stores entries and exits; process B, with an empty local tier and the
// same Redis, serves them (stale, as the upstream is down).
func TestTieredRestart(t *testing.T) {
	addr := sharedAddr(t)
	cleanPrefix(t, addr)
	clk := newClock()
	ctx := context.Background()

	a := newTiered(t, clk, Config{Addr: addr})
	for i := range 5 {
		require.True(t, a.Set(ctx, keyN(i), entry(clk.Now(), fmt.Sprint("body ", i), time.Minute, 0, time.Hour)))
	}
	require.NoError(t, a.Close())

	clk.Advance(10 * time.Minute) // past fresh, within stale-if-error
	b := newTiered(t, clk, Config{Addr: addr})
	for i := range 5 {
		got, st := b.Local().Get(ctx, keyN(i), clk.Now())
		require.Nil(t, got, "B's local tier starts empty")
		require.Equal(t, cache.Gone, st)

		e, st := b.Get(ctx, keyN(i), clk.Now())
		require.NotNil(t, e, keyN(i))
		assert.Equal(t, cache.StaleIfError, st)
		assert.Equal(t, fmt.Sprint("body ", i), string(e.Body))

		local, _ := b.Local().Get(ctx, keyN(i), clk.Now())
		require.NotNil(t, local, "a remote hit fills the local tier")
		assert.Equal(t, e.Body, local.Body)
	}
	assert.EqualValues(t, 5, b.Remote().Stats().Hits)
}

// Must hold: a purge or an unsafe-method invalidation (both are Store.Delete) on one replica
// is seen by the other.
func TestTieredTwoReplicasInvalidate(t *testing.T) {
	clk, a, b := twoReplicas(t)
	ctx := context.Background()
	require.NotEqual(t, a.InstanceID(), b.InstanceID())
	waitListening(t, a, b)

	k1, k2 := keyN(1), keyN(2)
	require.True(t, a.Set(ctx, k1, entry(clk.Now(), "one", time.Minute, 0, time.Hour)))
	require.True(t, a.Set(ctx, k2, entry(clk.Now(), "two", time.Minute, 0, time.Hour)))
	for _, k := range []string{k1, k2} {
		e, st := b.Get(ctx, k, clk.Now())
		require.NotNil(t, e)
		require.Equal(t, cache.Fresh, st)
		local, _ := b.Local().Get(ctx, k, clk.Now())
		require.NotNil(t, local, "B holds %s locally", k)
	}

	a.Delete(ctx, k1)
	local, _ := a.Local().Get(ctx, k1, clk.Now())
	assert.Nil(t, local, "A's own local tier")
	waitLocalGone(t, b, k1, clk.Now(), "B drops the key A invalidated")
	e, st := b.Get(ctx, k1, clk.Now())
	assert.Nil(t, e, "and Redis no longer has it either")
	assert.Equal(t, cache.Gone, st)
	e, _ = b.Get(ctx, k2, clk.Now())
	assert.NotNil(t, e, "other keys stay")

	// The other way round. Redis delivers A's own message to A before B's, so when A has
	// applied exactly one invalidation, it ignored its own.
	b.Delete(ctx, k2)
	waitLocalGone(t, a, k2, clk.Now(), "A drops the key B invalidated")
	require.Eventually(t, func() bool { return a.Remote().Stats().InvalidationsRecvd == 1 },
		10*time.Second, 5*time.Millisecond)
	assert.EqualValues(t, 1, a.Remote().Stats().InvalidationsSent)
	assert.EqualValues(t, 1, b.Remote().Stats().InvalidationsRecvd)
}

func TestTieredStaleLocalTakesNewerRemote(t *testing.T) {
	clk, a, b := twoReplicas(t)
	ctx := context.Background()
	k := keyN(0)

	require.True(t, b.Set(ctx, k, entry(clk.Now(), "v1", time.Minute, time.Hour, time.Hour)))
	clk.Advance(2 * time.Minute)
	e, st := b.Get(ctx, k, clk.Now())
	require.Equal(t, cache.Stale, st)
	require.Equal(t, "v1", string(e.Body), "Redis holds the same entry: the local one is kept")

	// Replica A refreshed the entry: B's stale local copy gives way to it.
	require.True(t, a.Set(ctx, k, entry(clk.Now(), "v2", time.Minute, time.Hour, time.Hour)))
	e, st = b.Get(ctx, k, clk.Now())
	require.Equal(t, cache.Fresh, st)
	assert.Equal(t, "v2", string(e.Body))
	local, lst := b.Local().Get(ctx, k, clk.Now())
	require.Equal(t, cache.Fresh, lst)
	assert.Equal(t, "v2", string(local.Body), "and fills B's local tier")
}

// Must hold: a fresh local hit never waits on Redis — it does not even ask it.
func TestTieredFreshLocalHitNeverAsksRedis(t *testing.T) {
	srv := startServer(t)
	clk := newClock()
	ctx := context.Background()
	ts := newTiered(t, clk, Config{Addr: srv.addr(), Timeout: time.Minute})
	// Subscribed before Redis freezes: a subscriber still connecting when it does waits out
	// the minute, and Close with it (seen once in six runs under load; reported, not this
	// test's subject).
	waitListening(t, ts)
	k := keyN(0)
	require.True(t, ts.Set(ctx, k, entry(clk.Now(), "hot", time.Minute, 0, time.Hour)))
	calls := func() uint64 {
		s := ts.Remote().Stats()
		return s.Hits + s.Misses + s.Errors + s.Rejected + s.Sets
	}
	before := calls()

	srv.pause() // a Redis that answers nothing: any call would wait the whole minute
	for range 100 {
		e, st := ts.Get(ctx, k, clk.Now())
		require.Equal(t, cache.Fresh, st)
		require.Equal(t, "hot", string(e.Body))
	}
	assert.Equal(t, before, calls(), "no Redis call on a fresh local hit")
	assert.EqualValues(t, 100, ts.Stats().Hits, "Stats are the local tier's")
	require.NoError(t, ts.Close(), "Close does not wait on a Redis that answers nothing")
	srv.resume()
}

// Must hold: with Redis stopped mid-run, requests keep being answered from the local tier, no
// request waits longer than the Redis timeout, and after Redis returns writes reach it again.
func TestTieredRedisStoppedMidRun(t *testing.T) {
	srv := startServer(t)
	rc := cleanPrefix(t, srv.addr())
	pfx := prefix(t) // the subtests below have names of their own
	clk := newClock()
	ctx := context.Background()
	const timeout = 100 * time.Millisecond
	const failures = 3
	openFor := time.Second
	ts := newTiered(t, clk, Config{
		Addr: srv.addr(), Prefix: pfx, Timeout: timeout,
		Breaker: BreakerConfig{Failures: failures, OpenFor: openFor},
	})
	waitListening(t, ts)

	hot := keyN(0)
	require.True(t, ts.Set(ctx, hot, entry(clk.Now(), "hot", time.Minute, 0, time.Hour)))
	// Entries only Redis has (another replica wrote them).
	other := newStore(t, Config{Addr: srv.addr(), Prefix: pfx, Now: clk.Now})
	const cold = 10
	for i := 1; i <= cold; i++ {
		require.True(t, other.Set(ctx, keyN(i), entry(clk.Now(), "cold", time.Minute, 0, time.Hour)))
	}
	e, _ := ts.Get(ctx, keyN(1), clk.Now())
	require.NotNil(t, e, "reachable before the trouble")
	ts.Local().Delete(ctx, keyN(1))

	// get does one Get and fails the test if it took longer than a generous safety bound; the
	// mechanism (timeouts, then the breaker's refusals) is asserted on the counters.
	get := func(k string) (*cache.Entry, cache.State) {
		start := time.Now()
		e, st := ts.Get(ctx, k, clk.Now())
		require.Less(t, time.Since(start), 10*timeout, "Get %s waited on Redis", k)
		return e, st
	}

	t.Run("slow", func(t *testing.T) {
		srv.pause()
		defer srv.resume()
		before := ts.Remote().Stats()
		for i := 1; i <= cold; i++ {
			e, st := get(keyN(i))
			assert.Nil(t, e, "Redis does not answer: a miss")
			assert.Equal(t, cache.Gone, st)
			e, st = get(hot)
			require.NotNil(t, e, "the local tier keeps answering")
			assert.Equal(t, cache.Fresh, st)
		}
		// A write goes to the local tier, and the breaker keeps it from waiting on Redis.
		require.True(t, ts.Set(ctx, keyN(100), entry(clk.Now(), "new", time.Minute, 0, time.Hour)))
		e, _ = get(keyN(100))
		require.NotNil(t, e)

		s := ts.Remote().Stats()
		assert.EqualValues(t, failures, s.Timeouts-before.Timeouts, "the first calls ran out of the timeout")
		assert.EqualValues(t, failures, s.Errors-before.Errors)
		assert.EqualValues(t, cold-failures+1, s.Rejected-before.Rejected, "then the breaker refused the rest without calling")
		assert.Equal(t, BreakerOpen, s.Breaker)
		assert.EqualValues(t, 1, s.BreakerOpened-before.BreakerOpened)
	})

	t.Run("stopped", func(t *testing.T) {
		srv.stop()
		before := ts.Remote().Stats()
		clk.Advance(openFor) // the next call probes, and finds Redis gone
		e, _ := get(keyN(1))
		assert.Nil(t, e)
		e, _ = get(keyN(2))
		assert.Nil(t, e)
		e, st := get(hot)
		require.NotNil(t, e)
		assert.Equal(t, cache.Fresh, st)
		s := ts.Remote().Stats()
		assert.EqualValues(t, 1, s.Errors-before.Errors, "one probe")
		assert.EqualValues(t, 1, s.Rejected-before.Rejected, "then refusals")
		assert.Equal(t, BreakerOpen, s.Breaker)
	})

	t.Run("restarted", func(t *testing.T) {
		srv.start() // empty: no persistence
		k := keyN(200)
		// The breaker's probe lets a write through once OpenFor has passed; go-redis may
		// still be backing off its dials for a moment, so keep probing.
		require.Eventually(t, func() bool {
			clk.Advance(openFor)
			ts.Set(ctx, k, entry(clk.Now(), "after", time.Minute, 0, time.Hour))
			n, err := rc.Exists(ctx, pfx+k).Result()
			return err == nil && n == 1
		}, 10*time.Second, 10*time.Millisecond, "writes reach Redis again")
		assert.Equal(t, BreakerClosed, ts.Remote().Stats().Breaker)

		k2 := keyN(201)
		require.True(t, ts.Set(ctx, k2, entry(clk.Now(), "after2", time.Minute, 0, time.Hour)))
		raw, err := rc.Get(ctx, pfx+k2).Bytes()
		require.NoError(t, err)
		e, err := Decode(raw)
		require.NoError(t, err)
		assert.Equal(t, "after2", string(e.Body))
		waitListening(t, ts) // the subscriber resubscribes
	})
}

// Two replicas used concurrently, then closed while still in use: no race, no panic, no leak,
// and no entry that Get returns ever has another key's body.
func TestTieredConcurrentUseAndClose(t *testing.T) {
	clk, a, b := twoReplicas(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for g, ts := range []*Tiered{a, b, a, b} {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				k := keyN(i % 7)
				switch (g + i) % 4 {
				case 0, 1:
					if e, _ := ts.Get(ctx, k, clk.Now()); e != nil {
						assert.Equal(t, k, string(e.Body))
					}
				case 2:
					ts.Set(ctx, k, entry(clk.Now(), k, time.Minute, 0, time.Hour))
				case 3:
					ts.Delete(ctx, k)
				}
				if i == 200 && g == 0 {
					close(stop)
				}
			}
		})
	}
	<-stop
	var closers sync.WaitGroup
	for _, ts := range []*Tiered{a, b, a} {
		closers.Go(func() { _ = ts.Close() })
	}
	closers.Wait()
	wg.Wait()
	e, st := a.Get(ctx, keyN(0), clk.Now())
	assert.Nil(t, e, "a closed store answers misses")
	assert.Equal(t, cache.Gone, st)
}

// twoReplicas returns two Tiered stores on the shared Redis with the test's prefix, as two
// replicas of a service have, and their clock.
func twoReplicas(t *testing.T) (*fakeclock.Clock, *Tiered, *Tiered) {
	addr := sharedAddr(t)
	cleanPrefix(t, addr)
	clk := newClock()
	return clk, newTiered(t, clk, Config{Addr: addr}), newTiered(t, clk, Config{Addr: addr})
}
