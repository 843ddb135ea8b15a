package redisstore

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/failsoft/failsoft/cache"
)

func TestNewValidates(t *testing.T) {
	for field, cfg := range map[string]Config{
		"Config.Client or Config.Addr": {},
		"Config.Timeout":               {Addr: "127.0.0.1:1", Timeout: -1},
		"Config.Breaker.Failures":      {Addr: "127.0.0.1:1", Breaker: BreakerConfig{Failures: -1}},
		"Config.Breaker.OpenFor":       {Addr: "127.0.0.1:1", Breaker: BreakerConfig{OpenFor: -1}},
	} {
		_, err := New(cfg)
		assert.ErrorContains(t, err, field)
	}
	s, err := New(Config{Addr: "127.0.0.1:1"})
	require.NoError(t, err, "New does not contact Redis")
	assert.Equal(t, "failsoft:k", s.Key("k"))
	assert.Equal(t, "failsoft:invalidate", s.channel)
	assert.Equal(t, 50*time.Millisecond, s.timeout)
	require.NoError(t, s.Close())
	require.NoError(t, s.Close(), "Close twice")
	_, err = s.Load(context.Background(), "k")
	assert.ErrorIs(t, err, ErrClosed)
}

func TestStoreRoundTrip(t *testing.T) {
	addr := sharedAddr(t)
	rc := cleanPrefix(t, addr)
	clk := newClock()
	s := newStore(t, Config{Addr: addr, Now: clk.Now})
	ctx := context.Background()
	now := clk.Now()
	e := fullEntry()
	e.FreshUntil = now.Add(time.Minute)
	e.RevalidateUntil = now.Add(2 * time.Minute)
	e.ErrorUntil = now.Add(time.Hour)
	e.ValidateUntil = now.Add(3 * time.Hour)

	require.True(t, s.Set(ctx, "k1", e))
	got, st := s.Get(ctx, "k1", now)
	require.NotNil(t, got)
	assert.Equal(t, cache.Fresh, st)
	assertSameEntry(t, e, got)

	// The key is Prefix + key and expires when the longest window ends.
	ttl, err := rc.PTTL(ctx, prefix(t)+"k1").Result()
	require.NoError(t, err)
	assert.InDelta(t, (3 * time.Hour).Milliseconds(), ttl.Milliseconds(), float64(5*time.Second/time.Millisecond))

	// States follow the entry's windows at the given time.
	_, st = s.Get(ctx, "k1", now.Add(90*time.Second))
	assert.Equal(t, cache.Stale, st)
	_, st = s.Get(ctx, "k1", now.Add(30*time.Minute))
	assert.Equal(t, cache.StaleIfError, st)
	got, st = s.Get(ctx, "k1", now.Add(2*time.Hour))
	assert.NotNil(t, got, "kept for its validators")
	assert.Equal(t, cache.Revalidate, st)
	got, st = s.Get(ctx, "k1", now.Add(4*time.Hour))
	assert.Nil(t, got)
	assert.Equal(t, cache.Gone, st)

	_, err = s.Load(ctx, "absent")
	assert.ErrorIs(t, err, ErrNotFound)

	s.Delete(ctx, "k1")
	got, _ = s.Get(ctx, "k1", now)
	assert.Nil(t, got)
	n, err := rc.Exists(ctx, prefix(t)+"k1").Result()
	require.NoError(t, err)
	assert.Zero(t, n)

	stats := s.Stats()
	assert.EqualValues(t, 4, stats.Hits)
	assert.EqualValues(t, 1, stats.Sets)
	assert.EqualValues(t, 1, stats.Deletes)
	assert.Zero(t, stats.Errors)
	assert.Equal(t, BreakerClosed, stats.Breaker)
}

func TestStoreDoesNotWriteExpired(t *testing.T) {
	addr := sharedAddr(t)
	rc := cleanPrefix(t, addr)
	clk := newClock()
	s := newStore(t, Config{Addr: addr, Now: clk.Now})
	ctx := context.Background()
	e := entry(clk.Now().Add(-time.Hour), "old", time.Minute, 0, time.Minute)
	assert.False(t, s.Set(ctx, "old", e))
	n, err := rc.Exists(ctx, prefix(t)+"old").Result()
	require.NoError(t, err)
	assert.Zero(t, n)
}

func TestStoreCorruptAndForeignValuesAreMisses(t *testing.T) {
	addr := sharedAddr(t)
	rc := cleanPrefix(t, addr)
	clk := newClock()
	s := newStore(t, Config{Addr: addr, Now: clk.Now, Breaker: BreakerConfig{Failures: 1}}) // any failure would open it
	ctx := context.Background()
	now := clk.Now()

	good, err := Encode(entry(now, "good", time.Minute, 0, time.Hour))
	require.NoError(t, err)
	flipped := append([]byte(nil), good...)
	flipped[len(flipped)/2] ^= 0x40
	future := append([]byte(nil), good...)
	future[len(magic)] = version + 1
	values := map[string][]byte{
		"good":      good,
		"corrupt":   flipped,
		"truncated": good[:len(good)-1],
		"trailing":  append(append([]byte(nil), good...), '!'),
		"future":    future,
		"foreign":   []byte(`{"status":200,"body":"someone else's"}`),
		"empty":     {},
	}
	for k, v := range values {
		require.NoError(t, rc.Set(ctx, prefix(t)+k, v, time.Minute).Err())
	}
	values["a hash"] = nil // WRONGTYPE for GET
	require.NoError(t, rc.HSet(ctx, prefix(t)+"a hash", "status", "200").Err())
	for k := range values {
		e, st := s.Get(ctx, k, now)
		if k == "good" {
			require.NotNil(t, e)
			assert.Equal(t, "good", string(e.Body))
			continue
		}
		assert.Nil(t, e, k)
		assert.Equal(t, cache.Gone, st, k)
		_, err := s.Load(ctx, k)
		assert.Error(t, err, k)
		assert.False(t, errors.Is(err, ErrNotFound), k)
	}
	stats := s.Stats()
	assert.EqualValues(t, 2*(len(values)-1), stats.Undecodable)
	assert.EqualValues(t, len(values)-1, stats.Misses)
	assert.EqualValues(t, 2, stats.Errors, "the WRONGTYPE replies")
	assert.Zero(t, stats.Timeouts)
	assert.Equal(t, BreakerClosed, stats.Breaker)
}

func TestStoreUsesGivenClient(t *testing.T) {
	addr := sharedAddr(t)
	rc := cleanPrefix(t, addr)
	clk := newClock()
	s := newStore(t, Config{Client: rc, Now: clk.Now})
	assert.Same(t, rc, s.Client())
	ctx := context.Background()
	require.True(t, s.Set(ctx, "k", entry(clk.Now(), "x", time.Minute, 0, 0)))
	require.NoError(t, s.Close())
	require.NoError(t, rc.Ping(ctx).Err(), "Close leaves a given client open")
}

func TestStoreConcurrentUse(t *testing.T) {
	addr := sharedAddr(t)
	cleanPrefix(t, addr)
	clk := newClock()
	s := newStore(t, Config{Addr: addr, Now: clk.Now, Timeout: time.Second})
	ctx := context.Background()
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 50 {
				k := keyN(i % 5)
				switch (g + i) % 3 {
				case 0:
					s.Set(ctx, k, entry(clk.Now(), k, time.Minute, 0, 0))
				case 1:
					if e, _ := s.Get(ctx, k, clk.Now()); e != nil {
						assert.Equal(t, k, string(e.Body))
					}
				case 2:
					s.Delete(ctx, k)
				}
			}
		})
	}
	wg.Wait()
	assert.Zero(t, s.Stats().Errors)
	assert.Zero(t, s.Stats().Undecodable)
}
