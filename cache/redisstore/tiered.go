package redisstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/failsoft/failsoft/cache"
)

// TieredConfig configures a Tiered store. Every zero value is a documented default.
type TieredConfig struct {
	// InstanceID names this replica in invalidation messages, so that it ignores its own;
	// "" means 16 random bytes in hex. It must not contain a newline.
	InstanceID string
	// ReconnectMin and ReconnectMax bound the backoff between attempts to resubscribe to the
	// invalidation channel after the connection broke; 0 means 10ms and 1s.
	ReconnectMin, ReconnectMax time.Duration
}

// Tiered is a two-tier cache.Store: a local store (normally a *cache.Memory) in front of a
// Redis Store shared by every replica.
//
//   - Get answers a fresh local hit without contacting Redis. Otherwise (a local miss or a
//     stale local entry) it asks Redis, bounded by the Store's Timeout and breaker, and when
//     Redis holds a newer entry it fills the local tier with it and returns it.
//   - Set writes the local tier, then Redis (synchronously, bounded by the Timeout).
//   - Delete deletes in both tiers and publishes the key on the invalidation channel; a
//     subscriber goroutine, stopped by Close, deletes keys that other replicas publish from the
//     local tier.
//
// While Redis is down or slow, the breaker fails its calls fast and Tiered works from the local
// tier alone. Invalidations are best effort: one made while Redis is unreachable deletes only
// the local copy (the other replicas' copies and Redis's stay until they expire), and one
// published while this replica was disconnected from the channel is lost to it.
type Tiered struct {
	local  cache.Store
	remote *Store
	id     string

	ps        *redis.PubSub
	cancel    context.CancelFunc
	done      chan struct{}
	listening atomic.Bool
	closeOnce sync.Once
	closeErr  error
}

var _ cache.Store = (*Tiered)(nil)

// NewTiered returns a Tiered store over local and remote and starts its invalidation subscriber.
// It does not wait for Redis: the subscriber keeps trying to subscribe until Close. The Tiered
// store owns both tiers: its Close closes them.
func NewTiered(local cache.Store, remote *Store, cfg TieredConfig) (*Tiered, error) {
	if local == nil {
		return nil, errors.New("redisstore: NewTiered: local store is nil")
	}
	if remote == nil {
		return nil, errors.New("redisstore: NewTiered: remote store is nil")
	}
	if strings.Contains(cfg.InstanceID, "\n") {
		return nil, errors.New("redisstore: TieredConfig.InstanceID contains a newline")
	}
	if cfg.ReconnectMin < 0 || cfg.ReconnectMax < 0 {
		return nil, fmt.Errorf("redisstore: TieredConfig.ReconnectMin/ReconnectMax negative (%v, %v)", cfg.ReconnectMin, cfg.ReconnectMax)
	}
	if cfg.ReconnectMin == 0 {
		cfg.ReconnectMin = 10 * time.Millisecond
	}
	if cfg.ReconnectMax == 0 {
		cfg.ReconnectMax = time.Second
	}
	if cfg.ReconnectMax < cfg.ReconnectMin {
		return nil, fmt.Errorf("redisstore: TieredConfig.ReconnectMax (%v) below ReconnectMin (%v)", cfg.ReconnectMax, cfg.ReconnectMin)
	}
	if cfg.InstanceID == "" {
		var b [16]byte
		_, _ = rand.Read(b[:]) // never fails (crypto/rand panics rather than return an error)
		cfg.InstanceID = hex.EncodeToString(b[:])
	}
	ctx, cancel := context.WithCancel(context.Background())
	t := &Tiered{
		local:  local,
		remote: remote,
		id:     cfg.InstanceID,
		ps:     remote.client.Subscribe(ctx), // no channel yet: no network call here
		cancel: cancel,
		done:   make(chan struct{}),
	}
	go t.listen(ctx, cfg.ReconnectMin, cfg.ReconnectMax)
	return t, nil
}

// InstanceID returns the name of this replica in invalidation messages.
func (t *Tiered) InstanceID() string { return t.id }

// Listening reports whether Redis has confirmed the subscription to the invalidation channel
// (and the connection has not broken since): only then are other replicas' invalidations seen.
func (t *Tiered) Listening() bool { return t.listening.Load() }

// Local returns the local tier.
func (t *Tiered) Local() cache.Store { return t.local }

// Remote returns the Redis tier.
func (t *Tiered) Remote() *Store { return t.remote }

// Stats returns the local tier's counters when it keeps them (a *cache.Memory does), so that an
// engine over a Tiered store reports them; Remote().Stats() has the Redis tier's.
func (t *Tiered) Stats() cache.Stats {
	if s, ok := t.local.(interface{ Stats() cache.Stats }); ok {
		return s.Stats()
	}
	return cache.Stats{}
}

// Get implements cache.Store. A fresh local hit returns at once; otherwise Redis is asked (see
// Tiered) and a newer remote entry fills the local tier.
func (t *Tiered) Get(ctx context.Context, key string, now time.Time) (*cache.Entry, cache.State) {
	e, st := t.local.Get(ctx, key, now)
	if st == cache.Fresh {
		return e, st
	}
	re, rst := t.remote.Get(ctx, key, now)
	if re == nil || (e != nil && !re.ResponseTime.After(e.ResponseTime)) {
		return e, st
	}
	t.local.Set(ctx, key, re)
	return re, rst
}

// Set implements cache.Store: it writes the local tier, then Redis, and reports whether either
// holds the entry.
func (t *Tiered) Set(ctx context.Context, key string, e *cache.Entry) bool {
	ok := t.local.Set(ctx, key, e)
	return t.remote.Set(ctx, key, e) || ok
}

// Delete implements cache.Store: it deletes key from the local tier and from Redis, and tells
// the other replicas to drop it from their local tiers.
func (t *Tiered) Delete(ctx context.Context, key string) {
	t.local.Delete(ctx, key)
	_ = t.remote.removeAndPublish(ctx, key, t.id+"\n"+key)
}

// Close stops the subscriber, waits for it, and closes both tiers. Safe to call twice and
// concurrently with the other methods.
func (t *Tiered) Close() error {
	t.closeOnce.Do(func() {
		t.cancel()
		err := t.ps.Close()
		<-t.done
		t.listening.Store(false)
		t.closeErr = errors.Join(err, t.local.Close(), t.remote.Close())
	})
	return t.closeErr
}

// listen applies other replicas' invalidations to the local tier until ctx ends, resubscribing
// with backoff whenever the connection breaks.
func (t *Tiered) listen(ctx context.Context, minWait, maxWait time.Duration) {
	defer close(t.done)
	// Subscribe records the channel even when it fails, and every reconnect inside Receive
	// resubscribes to it.
	sctx, cancel := context.WithTimeout(ctx, t.remote.timeout)
	_ = t.ps.Subscribe(sctx, t.remote.channel)
	cancel()
	wait := minWait
	for ctx.Err() == nil {
		msg, err := t.ps.Receive(ctx)
		if err != nil {
			t.listening.Store(false)
			if ctx.Err() != nil {
				return
			}
			timer := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				timer.Stop()
				return
			case <-timer.C:
			}
			wait = min(2*wait, maxWait)
			continue
		}
		wait = minWait
		switch m := msg.(type) {
		case *redis.Subscription:
			t.listening.Store(m.Kind == "subscribe" && m.Channel == t.remote.channel)
		case *redis.Message:
			t.apply(ctx, m.Payload)
		}
	}
}

// apply handles one invalidation message: "instance-id\nkey".
func (t *Tiered) apply(ctx context.Context, payload string) {
	from, key, ok := strings.Cut(payload, "\n")
	if !ok || from == t.id {
		return
	}
	t.local.Delete(ctx, key)
	t.remote.recvd.Add(1)
}
