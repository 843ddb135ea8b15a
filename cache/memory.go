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
	// Now is the store's clock: Set refuses entries already Gone by it, and the sweeper
	// removes entries Gone by it. nil means time.Now.
	Now func() time.Time
	// SweepInterval is how often a background sweep deletes entries that are Gone (past
	// their longest window); 0 means one minute, negative means never (Gone entries then
	// stay until evicted, still counted against MaxBytes, and Get still misses them).
	SweepInterval time.Duration
}

// DefaultSweepInterval is the sweep period used when Config.SweepInterval is 0.
const DefaultSweepInterval = time.Minute

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
	// Evictions counts entries removed to make room for others.
	Evictions uint64
	// Swept counts Gone entries deleted by Sweep.
	Swept uint64
	// Bytes is the accounted size of the entries held now.
	Bytes int64
}

// numStripes is the number of lock/counter stripes: Get and Set take a read lock on one
// stripe chosen by the key's hash, Close takes all of them.
const numStripes = 32

// setRetries bounds how many times Set retries a write that ristretto's buffer dropped.
const setRetries = 8

type stripe struct {
	mu sync.RWMutex
	_  [64 - 24]byte // keep stripes on separate cache lines
}

// slot is what ristretto holds: the entry and its key, so that the sweeper can delete it.
type slot struct {
	key string
	e   *Entry
}

// Memory is the default Store: in-process, ristretto, bounded in bytes. Create it with New
// and Close it when done: ristretto and the sweeper run goroutines until then.
//
// Entries are kept in ristretto without a ristretto TTL: ristretto would read the wall clock
// on every hit of an item with a TTL (over 100 ns on some virtual machines, more than the
// whole hit path otherwise costs) and would use the real clock, not the injected one.
// Instead, Get judges each entry at the caller's now (a Gone entry is a miss) and a sweeper
// goroutine deletes entries Gone by the store's clock every SweepInterval. So an entry lives
// until the end of its longest window, as with a TTL, within one sweep interval.
type Memory struct {
	rc       *ristretto.Cache[string, *slot]
	maxBytes int64
	maxEntry int64
	now      func() time.Time
	seed     maphash.Seed

	stripes [numStripes]stripe
	closed  bool        // written under every stripe's write lock, read under any read lock
	closing atomic.Bool // set before ristretto's Close, whose Clear reports every entry as evicted

	// Counters. ristretto's striped metrics count hits and misses; the Get calls Set makes
	// itself and the entries Gone at the caller's time are subtracted when reporting.
	stored, tooLarge, notAdmitted, dropped, evictions, swept atomic.Uint64
	goneHits, internalHits, internalMisses                   atomic.Uint64

	stopSweep chan struct{}
	stopOnce  sync.Once
	sweepDone chan struct{}
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
	if cfg.SweepInterval == 0 {
		cfg.SweepInterval = DefaultSweepInterval
	}
	rc, err := ristretto.NewCache(&ristretto.Config[string, *slot]{
		NumCounters:        counters,
		MaxCost:            m.maxBytes,
		BufferItems:        64,
		Metrics:            true,
		IgnoreInternalCost: true,
		OnEvict: func(*ristretto.Item[*slot]) {
			if !m.closing.Load() {
				m.evictions.Add(1)
			}
		},
	})
	if err != nil {
		return nil, errors.New("cache: ristretto: " + err.Error())
	}
	m.rc = rc
	if cfg.SweepInterval > 0 {
		m.stopSweep = make(chan struct{})
		m.sweepDone = make(chan struct{})
		go m.sweepLoop(cfg.SweepInterval)
	}
	return m, nil
}

func (m *Memory) sweepLoop(every time.Duration) {
	defer close(m.sweepDone)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-m.stopSweep:
			return
		case <-t.C:
			m.Sweep()
		}
	}
}

// Sweep deletes every entry that is Gone by the store's clock and returns how many it
// deleted. The background sweeper calls it every SweepInterval; callers may too.
func (m *Memory) Sweep() int {
	now := m.now()
	var gone []string
	for i := range m.stripes {
		m.stripes[i].mu.RLock()
	}
	if !m.closed {
		m.rc.IterValues(func(s *slot) bool {
			if s != nil && s.e.State(now) == Gone {
				gone = append(gone, s.key)
			}
			return false
		})
	}
	for i := range m.stripes {
		m.stripes[i].mu.RUnlock()
	}
	n := 0
	for _, k := range gone {
		if m.deleteIf(k, func(e *Entry) bool { return e.State(now) == Gone }) {
			n++
		}
	}
	m.swept.Add(uint64(n))
	return n
}

// deleteIf deletes key when its entry satisfies cond.
func (m *Memory) deleteIf(key string, cond func(*Entry) bool) bool {
	st, open := m.rlock(key)
	defer st.mu.RUnlock()
	if !open {
		return false
	}
	s, ok := m.rc.Get(key)
	m.countInternal(ok)
	if !ok || s == nil || !cond(s.e) {
		return false
	}
	m.rc.Del(key)
	return true
}

func (m *Memory) countInternal(hit bool) {
	if hit {
		m.internalHits.Add(1)
	} else {
		m.internalMisses.Add(1)
	}
}

func (m *Memory) stripe(key string) *stripe {
	return &m.stripes[maphash.String(m.seed, key)%numStripes]
}

// rlock read-locks key's stripe and reports whether the store is still open. The caller
// unlocks the returned stripe.
func (m *Memory) rlock(key string) (*stripe, bool) {
	s := m.stripe(key)
	s.mu.RLock()
	return s, !m.closed
}

// Get returns the entry for key and its state at now; (nil, Gone) when absent, when the entry
// is Gone at now, or after Close. It does not allocate.
func (m *Memory) Get(_ context.Context, key string, now time.Time) (*Entry, State) {
	s, open := m.rlock(key)
	if !open {
		s.mu.RUnlock()
		return nil, Gone
	}
	v, ok := m.rc.Get(key)
	s.mu.RUnlock()
	if !ok || v == nil {
		return nil, Gone
	}
	st := v.e.State(now)
	if st == Gone {
		m.goneHits.Add(1)
		return nil, Gone
	}
	return v.e, st
}

// Set stores e under key until it is Gone (see Memory for how that ends).
//
// Guarantee: when Set returns true, e was admitted and every Get for key that starts after
// Set returned, from any goroutine, sees e until it is replaced, deleted, evicted to make
// room for other entries, or its TTL ends. Set waits for ristretto's asynchronous write to
// be applied to achieve that: it costs microseconds, not nanoseconds.
//
// Set returns false, storing nothing new, when: the store is closed; e is nil; e is already
// Gone by the store's clock (e.Expires() not after Config.Now()); e.Cost() exceeds MaxBytes/2 (RejectedTooLarge); ristretto
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
	if !e.Expires().After(m.now()) {
		return false
	}
	s, open := m.rlock(key)
	defer s.mu.RUnlock()
	if !open {
		return false
	}
	prev, ok := m.rc.Get(key)
	m.countInternal(ok)
	if ok && prev != nil && prev.e.Cost() < cost {
		m.rc.Del(key)
	}
	v := &slot{key: key, e: e}
	set := false
	for range setRetries {
		if set = m.rc.Set(key, v, cost); set {
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
	m.countInternal(ok)
	switch {
	case !ok:
		m.notAdmitted.Add(1)
		return false
	case got != v:
		return false
	}
	m.stored.Add(1)
	return true
}

// Delete removes key. A no-op after Close.
func (m *Memory) Delete(_ context.Context, key string) {
	s, open := m.rlock(key)
	defer s.mu.RUnlock()
	if open {
		m.rc.Del(key)
	}
}

// Close stops ristretto's goroutines and drops every entry. It waits for Get, Set and
// Delete calls in progress; after it, Get misses and Set returns false. Safe to call twice
// and concurrently.
func (m *Memory) Close() error {
	// Stop the sweeper first: a Sweep waiting for a stripe lock must not wait for us.
	if m.stopSweep != nil {
		m.stopOnce.Do(func() { close(m.stopSweep) })
		<-m.sweepDone
	}
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
		Swept:               m.swept.Load(),
	}
	if mt := m.rc.Metrics; mt != nil {
		// Reading the counters one by one can see a Set's internal Get before it is
		// subtracted; clamp rather than wrap.
		gone, ih, im := m.goneHits.Load(), m.internalHits.Load(), m.internalMisses.Load()
		st.Hits = sub(mt.Hits(), ih+gone)
		st.Misses = sub(mt.Misses()+gone, im)
		st.Bytes = int64(mt.CostAdded() - mt.CostEvicted())
	}
	return st
}

func sub(a, b uint64) uint64 {
	if b > a {
		return 0
	}
	return a - b
}

// MaxBytes returns the store's bound on accounted bytes.
func (m *Memory) MaxBytes() int64 { return m.maxBytes }
