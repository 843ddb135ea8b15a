package cache

import (
	"context"
	"errors"
	"hash/maphash"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/ristretto/v2"
)

// Config configures the ristretto-backed Memory store.
type Config struct {
	// MaxBytes bounds the accounted bytes (sum of Entry.Cost); 0 means 64 MiB. Negative is
	// an error.
	MaxBytes int64
	// Now is the clock used to compute the TTL of stored entries; nil means time.Now.
	Now func() time.Time
}

// DefaultMaxBytes is the bound used when Config.MaxBytes is 0.
const DefaultMaxBytes = 64 << 20

// Stats is a snapshot of a Memory store's counters.
type Stats struct {
	// Hits and Misses count Get calls; a present entry that is Gone at the given time is a miss.
	Hits, Misses uint64
	// Stored counts Set calls that returned true.
	Stored uint64
	// RejectedTooLarge counts entries whose Cost exceeds MaxBytes/2; RejectedNotAdmitted
	// entries the admission policy (TinyLFU) refused because the store was full;
	// RejectedDropped entries whose write ristretto dropped on every retry.
	RejectedTooLarge, RejectedNotAdmitted uint64
	RejectedDropped                       uint64
	// Evictions counts entries removed to make room or because their TTL ended.
	Evictions uint64
	// Bytes is the accounted size of the entries held now.
	Bytes int64
}

// numStripes is the number of lock/counter stripes: Get and Set take a read lock on one
// stripe chosen by the key's hash, Close takes all of them.
const numStripes = 32

// setRetries bounds how many times Set retries a write that ristretto's buffer dropped.
const setRetries = 8

type stripe struct {
	mu     sync.RWMutex
	hits   atomic.Uint64
	misses atomic.Uint64
	_      [64 - 24 - 16]byte // keep stripes on separate cache lines
}

// Memory is the default Store: in-process, ristretto, bounded in bytes. Create it with New
// and Close it when done: ristretto runs goroutines until then.
type Memory struct {
	rc       *ristretto.Cache[string, *Entry]
	maxBytes int64
	maxEntry int64
	now      func() time.Time
	seed     maphash.Seed

	stripes [numStripes]stripe
	closed  bool        // written under every stripe's write lock, read under any read lock
	closing atomic.Bool // set before ristretto's Close, whose Clear reports every entry as evicted

	stored, tooLarge, notAdmitted, dropped, evictions, goneHits atomic.Uint64
}

// New returns a Memory store bounded by cfg.MaxBytes.
func New(cfg Config) (*Memory, error) {
	if cfg.MaxBytes < 0 {
		return nil, errors.New("cache: Config.MaxBytes must not be negative, got " + strconv.FormatInt(cfg.MaxBytes, 10))
	}
	m := &Memory{
		maxBytes: cfg.MaxBytes,
		now:      cfg.Now,
		seed:     maphash.MakeSeed(),
	}
	if m.maxBytes == 0 {
		m.maxBytes = DefaultMaxBytes
	}
	if m.now == nil {
		m.now = time.Now
	}
	m.maxEntry = m.maxBytes / 2
	// About ten counters per expected item, an item being estimated at 1 KiB.
	counters := min(max(m.maxBytes/1024*10, 1000), 10_000_000)
	rc, err := ristretto.NewCache(&ristretto.Config[string, *Entry]{
		NumCounters:        counters,
		MaxCost:            m.maxBytes,
		BufferItems:        64,
		Metrics:            true,
		IgnoreInternalCost: true,
		OnEvict: func(*ristretto.Item[*Entry]) {
			if !m.closing.Load() {
				m.evictions.Add(1)
			}
		},
	})
	if err != nil {
		return nil, errors.New("cache: ristretto: " + err.Error())
	}
	m.rc = rc
	return m, nil
}

func (m *Memory) stripe(key string) *stripe {
	return &m.stripes[maphash.String(m.seed, key)%numStripes]
}

// Get returns the entry for key and its state at now; (nil, Gone) when absent, when the entry
// is Gone at now, or after Close. It does not allocate.
func (m *Memory) Get(_ context.Context, key string, now time.Time) (*Entry, State) {
	s := m.stripe(key)
	s.mu.RLock()
	if m.closed {
		s.mu.RUnlock()
		return nil, Gone
	}
	e, ok := m.rc.Get(key)
	s.mu.RUnlock()
	if !ok || e == nil {
		s.misses.Add(1)
		return nil, Gone
	}
	st := e.State(now)
	if st == Gone {
		s.misses.Add(1)
		return nil, Gone
	}
	s.hits.Add(1)
	return e, st
}

// Set stores e under key with a TTL that ends at e.Expires().
//
// Guarantee: when Set returns true, e was admitted and every Get for key that starts after
// Set returned, from any goroutine, sees e until it is replaced, deleted, evicted to make
// room for other entries, or its TTL ends. Set waits for ristretto's asynchronous write to
// be applied to achieve that: it costs microseconds, not nanoseconds.
//
// Set returns false, storing nothing new, when: the store is closed; e is nil; e is already
// Gone by the store's clock; e.Cost() exceeds MaxBytes/2 (RejectedTooLarge); ristretto
// dropped the write on every retry (RejectedDropped); the admission policy refused it
// because the store is full (RejectedNotAdmitted); or a concurrent Set of the same key
// replaced it before it could be verified.
//
// Replacing a key with a larger entry first removes the old one, so that the new one goes
// through admission and eviction and the byte bound holds; a Get racing that Set may miss.
func (m *Memory) Set(_ context.Context, key string, e *Entry) bool {
	if e == nil {
		return false
	}
	cost := e.Cost()
	if cost > m.maxEntry {
		m.tooLarge.Add(1)
		return false
	}
	ttl := e.Expires().Sub(m.now())
	if ttl <= 0 {
		return false
	}
	s := m.stripe(key)
	s.mu.RLock()
	defer s.mu.RUnlock()
	if m.closed {
		return false
	}
	if prev, ok := m.rc.Get(key); ok && prev != nil && prev.Cost() < cost {
		m.rc.Del(key)
	}
	set := false
	for range setRetries {
		if set = m.rc.SetWithTTL(key, e, cost, ttl); set {
			break
		}
		m.rc.Wait()
	}
	if !set {
		m.dropped.Add(1)
		return false
	}
	m.rc.Wait()
	got, ok := m.rc.Get(key)
	switch {
	case !ok:
		m.notAdmitted.Add(1)
		return false
	case got != e:
		return false
	}
	m.stored.Add(1)
	return true
}

// Delete removes key. A no-op after Close.
func (m *Memory) Delete(_ context.Context, key string) {
	s := m.stripe(key)
	s.mu.RLock()
	defer s.mu.RUnlock()
	if !m.closed {
		m.rc.Del(key)
	}
}

// Close stops ristretto's goroutines and drops every entry. It waits for Get, Set and
// Delete calls in progress; after it, Get misses and Set returns false. Safe to call twice
// and concurrently.
func (m *Memory) Close() error {
	for i := range m.stripes {
		m.stripes[i].mu.Lock()
	}
	defer func() {
		for i := range m.stripes {
			m.stripes[i].mu.Unlock()
		}
	}()
	if m.closed {
		return nil
	}
	m.closed = true
	m.closing.Store(true)
	m.rc.Close()
	return nil
}

// Stats returns a snapshot of the counters. Bytes is the cost ristretto accounts for the
// entries it holds; it is at most MaxBytes, except that replacing an entry in place by a
// smaller-or-equal one never raises it.
func (m *Memory) Stats() Stats {
	st := Stats{
		Stored:              m.stored.Load(),
		RejectedTooLarge:    m.tooLarge.Load(),
		RejectedNotAdmitted: m.notAdmitted.Load(),
		RejectedDropped:     m.dropped.Load(),
		Evictions:           m.evictions.Load(),
	}
	for i := range m.stripes {
		st.Hits += m.stripes[i].hits.Load()
		st.Misses += m.stripes[i].misses.Load()
	}
	if mt := m.rc.Metrics; mt != nil {
		st.Bytes = int64(mt.CostAdded() - mt.CostEvicted())
	}
	return st
}

// MaxBytes returns the store's bound on accounted bytes.
func (m *Memory) MaxBytes() int64 { return m.maxBytes }
