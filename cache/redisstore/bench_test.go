package redisstore

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// BenchmarkTieredGet compares the three paths of a Tiered Get with a 1 KiB entry: a local hit
// (ristretto, Redis not asked), a stale local hit (Redis asked whether another replica stored a
// newer entry; it has the same one), a remote hit (the local tier keeps nothing, so every Get is a
// Redis GET and a decode) and a miss (local miss, then a Redis GET that finds nothing).
// Run: FAILSOFT_REDIS_ADDR=127.0.0.1:6390 go test -run '^$' -bench TieredGet -benchmem
func BenchmarkTieredGet(b *testing.B) {
	addr := sharedAddr(b)
	cleanPrefix(b, addr)
	clk := newClock()
	ctx := context.Background()
	e := entry(clk.Now(), strings.Repeat("x", 1024), time.Hour, 0, time.Hour)
	k := keyN(1)

	// A generous timeout: on a loaded machine a 50ms call can time out and turn a hit into a miss.
	local := newTiered(b, clk, Config{Addr: addr, Timeout: time.Second})
	require.True(b, local.Set(ctx, k, e))
	stale := entry(clk.Now(), strings.Repeat("x", 1024), 0, time.Hour, time.Hour)
	require.True(b, local.Set(ctx, keyN(3), stale))
	remote, err := New(Config{Addr: addr, Prefix: prefix(b), Now: clk.Now, Timeout: time.Second})
	require.NoError(b, err)
	remoteOnly, err := NewTiered(missStore{}, remote, TieredConfig{})
	require.NoError(b, err)
	b.Cleanup(func() { _ = remoteOnly.Close() })

	for _, bc := range []struct {
		name  string
		store *Tiered
		key   string
		hit   bool
	}{
		{"local-hit", local, k, true},
		{"remote-hit", remoteOnly, k, true},
		{"stale-local", local, keyN(3), true}, // stale: Redis is asked for a newer entry
		{"miss", local, keyN(2), false},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				got, _ := bc.store.Get(ctx, bc.key, clk.Now())
				if (got != nil) != bc.hit {
					b.Fatalf("hit = %v, want %v (remote stats %+v)", got != nil, bc.hit, bc.store.Remote().Stats())
				}
			}
		})
	}
}

// BenchmarkCodec measures Encode and Decode of an entry with a 1 KiB body.
func BenchmarkCodec(b *testing.B) {
	e := fullEntry()
	e.Body = []byte(strings.Repeat("x", 1024))
	data, err := Encode(e)
	require.NoError(b, err)
	b.Run("encode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Encode(e); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Decode(data); err != nil {
				b.Fatal(err)
			}
		}
	})
}
