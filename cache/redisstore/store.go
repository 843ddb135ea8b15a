package redisstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/failsoft/failsoft/cache"
)

// ErrBreakerOpen is returned by calls that the breaker around Redis refused: Redis was not
// contacted.
var ErrBreakerOpen = errors.New("redisstore: breaker open, redis not called")

// ErrNotFound is returned by Load when Redis holds no value for the key.
var ErrNotFound = errors.New("redisstore: not found")

// ErrClosed is returned by calls made after Close.
var ErrClosed = errors.New("redisstore: closed")

// Config configures a Store. Every zero value is a documented default.
type Config struct {
	// Client is the Redis client to use; the Store does not close it. For the Timeout to bound
	// every call, the client should have ContextTimeoutEnabled set and few or no retries
	// (MaxRetries -1). nil means a client for Addr, built that way and closed by Close.
	Client redis.UniversalClient
	// Addr is the "host:port" of the Redis server when Client is nil. One of Client or Addr
	// is required.
	Addr string
	// Prefix is prepended to every key in Redis; "" means "failsoft:".
	Prefix string
	// Timeout bounds each Redis call; 0 means 50ms. Negative is an error.
	Timeout time.Duration
	// Breaker configures the breaker around Redis itself.
	Breaker BreakerConfig
	// Channel is the pub/sub channel that Tiered stores use to tell each other about
	// invalidations; "" means Prefix + "invalidate".
	Channel string
	// Now is the clock for key expiry and the breaker; nil means time.Now.
	Now func() time.Time
}

// Stats is a snapshot of a Store's counters.
type Stats struct {
	Hits, Misses       uint64 // Load found a usable entry / found none
	Undecodable        uint64 // values that did not decode (corrupt, foreign, future version): misses
	Sets, Deletes      uint64 // successful writes
	Errors             uint64 // calls that failed (errors, error replies and timeouts)
	Timeouts           uint64 // of Errors, those that ran out of time
	Rejected           uint64 // calls the breaker refused
	BreakerOpened      uint64 // times the breaker opened
	Breaker            BreakerState
	InvalidationsSent  uint64 // published by Tiered stores on this Store
	InvalidationsRecvd uint64 // received from other replicas and applied to a local tier
}

// Store is a cache.Store backed by Redis. Values are entries in this package's binary encoding
// under Prefix + key, expiring when the entry's longest window ends. Every call is bounded by
// Timeout and goes through a breaker: while Redis is down or slow, calls fail fast and Get is a
// miss. A value that does not decode is a miss, never served.
type Store struct {
	client  redis.UniversalClient
	owned   bool
	prefix  string
	channel string
	timeout time.Duration
	now     func() time.Time
	breaker *breaker

	closeOnce sync.Once
	closed    atomic.Bool
	closeErr  error

	hits, misses, undecodable, sets, deletes atomic.Uint64
	errs, timeouts, rejected                 atomic.Uint64
	sent, recvd                              atomic.Uint64
}

var _ cache.Store = (*Store)(nil)

// New validates cfg and returns a Store. It does not contact Redis: a Store built while Redis is
// down works as soon as Redis answers.
func New(cfg Config) (*Store, error) {
	if cfg.Client == nil && cfg.Addr == "" {
		return nil, errors.New("redisstore: Config.Client or Config.Addr is required")
	}
	if cfg.Timeout < 0 {
		return nil, fmt.Errorf("redisstore: Config.Timeout is negative (%v)", cfg.Timeout)
	}
	if cfg.Breaker.Failures < 0 {
		return nil, fmt.Errorf("redisstore: Config.Breaker.Failures is negative (%d)", cfg.Breaker.Failures)
	}
	if cfg.Breaker.OpenFor < 0 {
		return nil, fmt.Errorf("redisstore: Config.Breaker.OpenFor is negative (%v)", cfg.Breaker.OpenFor)
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "failsoft:"
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 50 * time.Millisecond
	}
	if cfg.Breaker.Failures == 0 {
		cfg.Breaker.Failures = 5
	}
	if cfg.Breaker.OpenFor == 0 {
		cfg.Breaker.OpenFor = time.Second
	}
	if cfg.Channel == "" {
		cfg.Channel = cfg.Prefix + "invalidate"
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Store{
		client:  cfg.Client,
		prefix:  cfg.Prefix,
		channel: cfg.Channel,
		timeout: cfg.Timeout,
		now:     cfg.Now,
		breaker: newBreaker(cfg.Breaker, cfg.Now),
	}
	if s.client == nil {
		s.client = redis.NewClient(&redis.Options{
			Addr:                  cfg.Addr,
			DialTimeout:           cfg.Timeout,
			ReadTimeout:           cfg.Timeout,
			WriteTimeout:          cfg.Timeout,
			PoolTimeout:           cfg.Timeout,
			ContextTimeoutEnabled: true,
			MaxRetries:            -1, // the breaker, not retries, deals with trouble
			DialerRetries:         1,
			DisableIdentity:       true,
		})
		s.owned = true
	}
	return s, nil
}

// Client returns the Redis client the Store uses.
func (s *Store) Client() redis.UniversalClient { return s.client }

// Key returns the Redis key under which key is stored: Prefix + key.
func (s *Store) Key(key string) string { return s.prefix + key }

// Load reads and decodes the entry for key. It returns ErrNotFound when Redis has no value,
// an error wrapping ErrForeign, ErrVersion or ErrCorrupt when the value does not decode,
// ErrBreakerOpen when the breaker refused the call, and otherwise the Redis error, which wraps
// context.DeadlineExceeded when the call ran out of Timeout.
func (s *Store) Load(ctx context.Context, key string) (*cache.Entry, error) {
	var data []byte
	err := s.call(ctx, func(ctx context.Context) error {
		var err error
		data, err = s.client.Get(ctx, s.prefix+key).Bytes()
		if errors.Is(err, redis.Nil) {
			return ErrNotFound
		}
		return err
	})
	if redis.HasErrorPrefix(err, "WRONGTYPE") {
		// Someone else's list, hash, ... under our key.
		s.undecodable.Add(1)
		return nil, fmt.Errorf("redisstore: key %q: %w (%v)", key, ErrForeign, err)
	}
	if err != nil {
		return nil, err
	}
	e, err := decode(data, true) // data is this reply's own memory, used by nobody else: the entry may keep it
	if err != nil {
		s.undecodable.Add(1)
		return nil, fmt.Errorf("redisstore: key %q: %w", key, err)
	}
	return e, nil
}

// Put writes e under key, expiring when e's longest window ends (as seen by Config.Now). An
// entry that has already expired is not written, and Put returns nil.
func (s *Store) Put(ctx context.Context, key string, e *cache.Entry) error {
	ttl := e.Expires().Sub(s.now())
	if ttl <= 0 {
		return nil
	}
	if ttl < time.Millisecond {
		ttl = time.Millisecond // PX takes whole milliseconds
	}
	data, err := Encode(e)
	if err != nil {
		return err
	}
	err = s.call(ctx, func(ctx context.Context) error {
		return s.client.Set(ctx, s.prefix+key, data, ttl).Err()
	})
	if err == nil {
		s.sets.Add(1)
	}
	return err
}

// Remove deletes key in Redis.
func (s *Store) Remove(ctx context.Context, key string) error {
	err := s.call(ctx, func(ctx context.Context) error {
		return s.client.Del(ctx, s.prefix+key).Err()
	})
	if err == nil {
		s.deletes.Add(1)
	}
	return err
}

// publish deletes key in Redis and announces the invalidation on the channel, in one round trip.
func (s *Store) removeAndPublish(ctx context.Context, key, message string) error {
	err := s.call(ctx, func(ctx context.Context) error {
		_, err := s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
			p.Del(ctx, s.prefix+key)
			p.Publish(ctx, s.channel, message)
			return nil
		})
		return err
	})
	if err == nil {
		s.deletes.Add(1)
		s.sent.Add(1)
	}
	return err
}

// call runs f against Redis through the breaker with the Store's timeout.
func (s *Store) call(ctx context.Context, f func(context.Context) error) error {
	if s.closed.Load() {
		return ErrClosed
	}
	gen, ok := s.breaker.allow()
	if !ok {
		s.rejected.Add(1)
		return ErrBreakerOpen
	}
	cctx, cancel := context.WithTimeout(ctx, s.timeout)
	err := f(cctx)
	cancel()
	var reply redis.Error
	switch {
	case err == nil || errors.Is(err, ErrNotFound):
		s.breaker.done(gen, success)
	case errors.As(err, &reply):
		// Redis answered, promptly, with an error reply (WRONGTYPE, OOM, LOADING, ...): the
		// call failed, but Redis is not what the breaker guards against (slow or gone).
		s.errs.Add(1)
		s.breaker.done(gen, success)
	case ctx.Err() != nil:
		// The caller gave up or its deadline passed: that says nothing about Redis.
		s.breaker.done(gen, neutral)
	default:
		s.errs.Add(1)
		if errors.Is(err, context.DeadlineExceeded) || isTimeout(err) {
			s.timeouts.Add(1)
		}
		s.breaker.done(gen, failure)
	}
	return err
}

// isTimeout reports whether err is a network timeout (go-redis returns the net error when a
// socket deadline passes).
func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

// Get implements cache.Store: the entry for key and its state at now, or (nil, Gone) when Redis
// has none, it does not decode, it has expired, or Redis could not be asked.
func (s *Store) Get(ctx context.Context, key string, now time.Time) (*cache.Entry, cache.State) {
	e, err := s.Load(ctx, key)
	if err != nil {
		s.misses.Add(1)
		return nil, cache.Gone
	}
	st := e.State(now)
	if st == cache.Gone {
		s.misses.Add(1)
		return nil, cache.Gone
	}
	s.hits.Add(1)
	return e, st
}

// Set implements cache.Store: it reports whether the entry was written to Redis.
func (s *Store) Set(ctx context.Context, key string, e *cache.Entry) bool {
	if e.Expires().Sub(s.now()) <= 0 {
		return false
	}
	return s.Put(ctx, key, e) == nil
}

// Delete implements cache.Store: it deletes key in Redis (best effort).
func (s *Store) Delete(ctx context.Context, key string) { _ = s.Remove(ctx, key) }

// Close closes the Redis client when the Store built it. Safe to call twice and concurrently
// with the other methods, which fail with ErrClosed afterwards.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		if s.owned {
			s.closeErr = s.client.Close()
		}
	})
	return s.closeErr
}

// Stats returns a snapshot of the Store's counters.
func (s *Store) Stats() Stats {
	state, opened := s.breaker.snapshot()
	return Stats{
		Hits:               s.hits.Load(),
		Misses:             s.misses.Load(),
		Undecodable:        s.undecodable.Load(),
		Sets:               s.sets.Load(),
		Deletes:            s.deletes.Load(),
		Errors:             s.errs.Load(),
		Timeouts:           s.timeouts.Load(),
		Rejected:           s.rejected.Load(),
		BreakerOpened:      opened,
		Breaker:            state,
		InvalidationsSent:  s.sent.Load(),
		InvalidationsRecvd: s.recvd.Load(),
	}
}
