package cache

import (
	"context"
	"errors"
	"hash/maphash"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/ristretto/v2"
	"github.com/dgraph-io/ristretto/v2/z"
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
	// ProtectAfter is how many requests (Get calls, hits or misses) of a key within
	// ProtectWindow make its entry one the store keeps: it is held in the protected part of
	// the store (half of MaxBytes), which only entries of keys requested that often enter,
	// so a scan of one-off URLs never pushes them out; the other half takes every other
	// entry through ristretto's admission (TinyLFU) and evictions. A protected part full of
	// such keys evicts its least recently requested one (CLOCK). 0 means 2; 1 protects every
	// entry (the protected part is then a plain CLOCK cache of half the bound); negative
	// means no protected part: every entry goes through ristretto over the whole MaxBytes.
	ProtectAfter int
	// ProtectWindow is how close together those requests must come; 0 means 10 minutes.
	// Negative is an error.
	ProtectWindow time.Duration
}

// DefaultProtectAfter and DefaultProtectWindow are used when Config.ProtectAfter and
// Config.ProtectWindow are 0.
const (
	DefaultProtectAfter  = 2
	DefaultProtectWindow = 10 * time.Minute
)

// DefaultSweepInterval is the sweep period used when Config.SweepInterval is 0.
const DefaultSweepInterval = time.Minute

// DefaultMaxBytes is the bound used when Config.MaxBytes is 0.
const DefaultMaxBytes = 64 << 20

// Stats is a snapshot of a Memory store's counters.
type Stats struct {
	// Hits and Misses count Get calls; a present entry that is Gone at the given time is a miss.
	Hits   uint64 `json:"hits"`
	Misses uint64 `json:"misses"`
	// Stored counts Set calls that returned true.
	Stored uint64 `json:"stored"`
	// RejectedTooLarge counts entries whose Cost exceeds MaxBytes/2; RejectedNotAdmitted
	// entries the admission policy (TinyLFU) refused because the store was full;
	// RejectedDropped entries whose write ristretto dropped on every retry.
	RejectedTooLarge    uint64 `json:"rejected_too_large"`
	RejectedNotAdmitted uint64 `json:"rejected_not_admitted"`
	RejectedDropped     uint64 `json:"rejected_dropped"`
	// Evictions counts entries removed to make room for others.
	Evictions uint64 `json:"evictions"`
	// Swept counts Gone entries deleted by Sweep.
	Swept uint64 `json:"swept"`
	// Bytes is the accounted size of the entries held now (both parts): for each, its
	// Cost, its key and the store's per-entry bookkeeping (see Memory).
	Bytes int64 `json:"bytes"`
	// ProtectedBytes is the part of Bytes held in the protected part (see
	// Config.ProtectAfter); Promoted counts entries moved or stored into it.
	ProtectedBytes int64  `json:"protected_bytes"`
	Promoted       uint64 `json:"promoted"`
	// Entries is the number of entries held now (both parts), counted where Bytes is: an
	// entry counts from the moment ristretto applies its Set (Stats first applies those
	// of the Sets that returned true) or it enters the protected part, until it is
	// deleted, evicted, swept or the store is closed; replacing an entry does not change
	// it, a refused Set never counts. It is exact once ristretto has applied the writes
	// queued so far; until then, a Delete of an
	// unprotected entry, or its move into the protected part, is still counted (so it
	// exceeds what Get finds by at most the number of those in flight), and a snapshot
	// taken during writes may be off by the writes it races. Like Bytes, it may include
	// entries that are Gone but not yet swept (Get misses them).
	Entries int64 `json:"entries"`
}

// numStripes is the number of lock/counter stripes: Get and Set take a read lock on one
// stripe chosen by the key's hash, Close takes all of them.
const numStripes = 32

// setRetries bounds how many times Set retries a write that ristretto's buffer dropped.
const setRetries = 8

type stripe struct {
	mu sync.RWMutex

	// The keys (by their stripe hash) of the stripe whose write Set handed to ristretto
	// without waiting for it to be applied, each with the generation it was handed in
	// (see Memory.settle); npend is len(pend), read without pmu.
	pmu     sync.Mutex
	npend   atomic.Int32
	forgets atomic.Uint32 // how many times forget dropped marks
	pend    map[uint64]uint64

	_ [64 - 48]byte // keep stripes on separate cache lines
}

// mark records that a write of the key hashed h is handed to ristretto in generation gen;
// false when one is already pending (a concurrent Set of the key, or one not yet settled).
func (s *stripe) mark(h, gen uint64) bool {
	s.pmu.Lock()
	defer s.pmu.Unlock()
	if _, ok := s.pend[h]; ok {
		return false
	}
	if s.pend == nil {
		s.pend = make(map[uint64]uint64)
	}
	s.pend[h] = gen
	s.npend.Store(int32(len(s.pend)))
	return true
}

// pending reports whether a write of the key hashed h may not be applied yet.
func (s *stripe) pending(h uint64) bool {
	if s.npend.Load() == 0 {
		return false
	}
	s.pmu.Lock()
	_, ok := s.pend[h]
	s.pmu.Unlock()
	return ok
}

// forget drops the marks of generations before gen (their writes are applied) and
// returns how many it dropped.
func (s *stripe) forget(gen uint64) int {
	if s.npend.Load() == 0 {
		return 0
	}
	s.pmu.Lock()
	defer s.pmu.Unlock()
	n := len(s.pend)
	for h, g := range s.pend {
		if g < gen {
			delete(s.pend, h)
		}
	}
	s.npend.Store(int32(len(s.pend)))
	if n != len(s.pend) {
		s.forgets.Add(1)
	}
	return n - len(s.pend)
}

// lookup is ristretto's Get of the stored key sk, hashed h, in stripe s (read-locked),
// after the write a Set handed over unwaited for it (see setNew) is applied. Only a miss
// looks further: at a key still pending, settle applies its write; at one whose mark was
// dropped meanwhile (applied since the first look) ristretto is asked again. Each first
// look that missed and was not the answer is counted as internal.
func (m *Memory) lookup(s *stripe, sk string, h uint64) (*slot, bool) {
	forgets := s.forgets.Load()
	v, ok := m.rc.Get(sk)
	if ok {
		return v, ok
	}
	switch {
	case s.pending(h):
		m.settle()
	case s.forgets.Load() == forgets:
		return v, ok
	}
	m.internalMisses.Add(1)
	return m.rc.Get(sk)
}

// slot is what ristretto holds: the entry and ristretto's two hashes of its stored key, so
// that the sweeper can delete it (see hashKey) without the slot holding the key's bytes;
// its charged cost is charge(key, e), computed again when needed rather than held.
type slot struct {
	h1, h2 uint64
	h      uint64 // the stored key's hash (Memory.hash): its stripe and key lock
	e      *Entry
}

// hashMark starts a hashKey, and no stored key (see storedKey).
const hashMark = 1

// hashKey is a key ristretto reads as the hashes h1 and h2 it computes for a stored key
// (see keyToHash): the sweeper deletes an entry under it, from its slot alone.
func hashKey(h1, h2 uint64) string {
	var b [17]byte
	b[0] = hashMark
	for i := range 8 {
		b[1+i], b[9+i] = byte(h1>>(8*i)), byte(h2>>(8*i))
	}
	return string(b[:])
}

// keyToHash is ristretto's KeyToHash: a hashKey's hashes, else ristretto's own of the key.
func keyToHash(k string) (uint64, uint64) {
	if len(k) == 17 && k[0] == hashMark {
		var h1, h2 uint64
		for i := range 8 {
			h1 |= uint64(k[1+i]) << (8 * i)
			h2 |= uint64(k[9+i]) << (8 * i)
		}
		return h1, h2
	}
	return z.KeyToHash(k)
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
//
// What a stored entry holds is charged against MaxBytes: its Cost (body, header map and
// strings, the Entry itself), its key and the store's own per-entry bookkeeping (ristretto's
// or the protected part's maps), measured: see TestMemoryChargesWhatItHolds. A key longer
// than 256 bytes is stored as a 33-byte SHA-256 digest of it, so that a hostile URL costs
// its digest, not its length, while it is kept.
type Memory struct {
	rc       *ristretto.Cache[string, *slot]
	maxBytes int64
	maxEntry int64
	now      func() time.Time
	seed     maphash.Seed

	prot                           *protected // nil when Config.ProtectAfter < 0
	promoted, protHits, protMisses atomic.Uint64

	stripes [numStripes]stripe
	closed  bool                  // written under every stripe's write lock, read under any read lock
	closing atomic.Bool           // set before ristretto's Close, whose Clear reports every entry as evicted
	final   atomic.Pointer[Stats] // the counters at Close (ristretto's Close resets its own)

	// keyMu serialises the writes of one key that run under its stripe's read lock: Set,
	// a Get's promotion into the protected part and the sweeper's deletion each hold the
	// key's lock (keyLock), so that none of them acts on an entry another has replaced.
	keyMu [numKeyLocks]sync.Mutex

	// Counters. ristretto's striped metrics count hits and misses; the Get calls Set makes
	// itself and the entries Gone at the caller's time are subtracted when reporting.
	stored, tooLarge, notAdmitted, dropped, evictions, swept atomic.Uint64
	goneHits, internalHits, internalMisses                   atomic.Uint64

	// Writes Set hands to ristretto without waiting for them (see Set and settle).
	// admitMu is held for reading from a Set's accounting to its handing the write over,
	// and for writing while settle starts a generation or updates base and since.
	// base is ristretto's cost in use when the last settle ended; since is the cost of
	// every write handed over after that settle began: base+since bounds the cost in use
	// once those are applied.
	admitMu   sync.RWMutex
	settleMu  sync.Mutex // one settle at a time
	gen       atomic.Uint64
	marks     atomic.Int64 // pending marks, all stripes
	base      atomic.Int64
	since     atomic.Int64
	probation int64 // ristretto's MaxCost

	stopSweep chan struct{}
	stopOnce  sync.Once
	sweepDone chan struct{}
}

// maxMarks bounds the pending marks: the Set that reaches it settles them all.
const maxMarks = 1024

// numKeyLocks is the number of key locks (Memory.keyMu).
const numKeyLocks = 256

// keyLock is the lock of the stored key hashed h: its top bits, as the stripe takes the
// low ones.
func (m *Memory) keyLock(h uint64) *sync.Mutex { return &m.keyMu[h>>56%numKeyLocks] }

// New returns a Memory store bounded by cfg.MaxBytes.
func New(cfg Config) (*Memory, error) {
	if cfg.MaxBytes < 0 {
		return nil, errors.New("cache: Config.MaxBytes must not be negative, got " + strconv.FormatInt(cfg.MaxBytes, 10))
	}
	if cfg.ProtectWindow < 0 {
		return nil, errors.New("cache: Config.ProtectWindow must not be negative, got " + cfg.ProtectWindow.String())
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
	probation := m.maxBytes
	if cfg.ProtectAfter >= 0 {
		after, window := cfg.ProtectAfter, cfg.ProtectWindow
		if after == 0 {
			after = DefaultProtectAfter
		}
		if window == 0 {
			window = DefaultProtectWindow
		}
		m.prot = newProtected(m.maxBytes/2, after, window, m.maxBytes)
		probation = m.maxBytes - m.prot.max
	}
	m.probation = probation
	if cfg.SweepInterval == 0 {
		cfg.SweepInterval = DefaultSweepInterval
	}
	rc, err := ristretto.NewCache(&ristretto.Config[string, *slot]{
		NumCounters:        counters,
		MaxCost:            probation,
		BufferItems:        64,
		Metrics:            true,
		IgnoreInternalCost: true,
		KeyToHash:          keyToHash,
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
	var gone []*slot
	for i := range m.stripes {
		m.stripes[i].mu.RLock()
	}
	if !m.closed {
		if m.marks.Load() > 0 {
			m.settle() // the writes Set handed over unwaited are swept too, and their marks dropped
		}
		m.rc.IterValues(func(s *slot) bool {
			if s != nil && s.e.State(now) == Gone {
				gone = append(gone, s)
			}
			return false
		})
	}
	for i := range m.stripes {
		m.stripes[i].mu.RUnlock()
	}
	n := 0
	for _, v := range gone {
		if m.sweepOne(v) {
			n++
		}
	}
	if m.prot != nil {
		n += m.prot.sweep(now)
	}
	m.swept.Add(uint64(n))
	return n
}

// sweepOne deletes the unprotected entry Sweep found Gone, slot v, if ristretto still
// holds v under its key: under the key's lock, and once a write of the key handed over
// unwaited is applied, so that a Set storing a new entry for the key between Sweep's look
// and the deletion keeps it. It reports whether it deleted v.
func (m *Memory) sweepOne(v *slot) bool {
	s, open := m.rlockHash(v.h)
	defer s.mu.RUnlock()
	if !open {
		return false
	}
	km := m.keyLock(v.h)
	km.Lock()
	defer km.Unlock()
	if s.pending(v.h) {
		m.settle()
	}
	hk := hashKey(v.h1, v.h2)
	cur, ok := m.rc.Get(hk)
	m.countInternal(ok)
	if !ok || cur != v {
		return false
	}
	m.rc.Del(hk)
	return true
}

func (m *Memory) countInternal(hit bool) {
	if hit {
		m.internalHits.Add(1)
	} else {
		m.internalMisses.Add(1)
	}
}

// hash is the stored key's hash: it picks the stripe and the protected part's request
// counter.
func (m *Memory) hash(sk string) uint64 { return maphash.String(m.seed, sk) }

// rlockHash read-locks the stripe of the stored key hashed h and reports whether the
// store is still open. The caller unlocks the returned stripe.
func (m *Memory) rlockHash(h uint64) (*stripe, bool) {
	s := &m.stripes[h%numStripes]
	s.mu.RLock()
	return s, !m.closed
}

// Get returns the entry for key and its state at now; (nil, Gone) when absent, when the entry
// is Gone at now, or after Close. It does not allocate for keys up to 256 bytes, and keeps
// no reference to key once it returns: key may be a view of a buffer the caller reuses
// (see KeyOptions.AppendFunc).
//
// It counts as a request of key for Config.ProtectAfter: a miss, or a hit in the
// unprotected part, that brings the key's requests within ProtectWindow to ProtectAfter
// moves its entry into the protected part.
func (m *Memory) Get(_ context.Context, key string, now time.Time) (*Entry, State) {
	sk := storedKey(key)
	if e, st, ok := m.getProtected(sk, now); ok {
		return e, st
	}
	h := m.hash(sk)
	s, open := m.rlockHash(h)
	if !open {
		s.mu.RUnlock()
		return nil, Gone
	}
	v, ok := m.lookup(s, sk, h)
	if !ok && m.prot != nil {
		// A promotion (or a protected Set) may have moved the entry between our two
		// lookups: it is stored in the protected part before its copy here is deleted.
		if e, st, ok := m.getProtected(sk, now); ok {
			s.mu.RUnlock()
			m.internalMisses.Add(1) // this Get's miss in ristretto is not a miss
			return e, st
		}
	}
	if p := m.prot; p != nil && p.requested(h, now) >= p.after && ok && v != nil && v.e.State(now) != Gone {
		m.promote(s, sk, h, now)
	}
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

// promote moves the key's entry from ristretto into the protected part, for a Get that
// found it there (s read-locked). It holds the key's lock: a Set of the key that ran
// meanwhile stored either into the protected part (nothing left to move) or into
// ristretto, and the entry held then is the one moved, never an older one over it.
func (m *Memory) promote(s *stripe, sk string, h uint64, now time.Time) {
	km := m.keyLock(h)
	km.Lock()
	defer km.Unlock()
	if m.prot.load(sk) != nil {
		return
	}
	v, ok := m.lookup(s, sk, h)
	m.countInternal(ok)
	if !ok || v == nil || v.e.State(now) == Gone {
		return
	}
	// The protected part keeps the key: its own copy (key may be the caller's buffer).
	if m.prot.add(strings.Clone(sk), v.e, charge(sk, v.e), true) {
		m.promoted.Add(1)
		m.rc.Del(sk)
	}
}

// getProtected is Get's lookup in the protected part; ok reports whether it found the key
// there. It takes no lock: the part's index is a sync.Map and a node's entry an atomic
// pointer, so a Get that runs alongside a Set, Delete or eviction of the key sees the entry
// before or after it, as under the stripe's lock; a Get that starts after Close returned
// finds nothing.
func (m *Memory) getProtected(sk string, now time.Time) (*Entry, State, bool) {
	if m.prot == nil || m.closing.Load() {
		return nil, Gone, false
	}
	n := m.prot.load(sk)
	if n == nil {
		return nil, Gone, false
	}
	e := n.e.Load()
	st := e.State(now)
	if st == Gone {
		m.protMisses.Add(1)
		return nil, Gone, true
	}
	n.touch()
	m.protHits.Add(1)
	return e, st, true
}

// charge is what storing e under the stored key sk costs against MaxBytes: e.Cost(), the
// key and the store's per-entry bookkeeping.
func charge(sk string, e *Entry) int64 {
	return e.Cost() + int64(storeOverhead) + roundUp(int64(len(sk)), 8)
}

// storeOverhead is the store's own per-entry memory besides the Entry and the key's bytes,
// measured (TestMemoryChargesWhatItHolds, go1.26, amd64): ristretto's slot, its store map
// item and its policy's cost map entry, with the maps' growth slack; or the protected
// part's node and map entry; the larger of the two, rounded up.
const storeOverhead = 256

// Set stores e under key until it is Gone (see Memory for how that ends).
//
// Guarantee: when Set returns true, e was admitted and every Get for key that starts after
// Set returned, from any goroutine, sees e until it is replaced, deleted, evicted to make
// room for other entries, or its TTL ends. ristretto applies writes on its own goroutine:
// a new key's entry that ristretto will surely admit (the store has room for it once the
// writes already handed over are applied) is handed over and Set returns at once, the key
// marked pending so that the next Get, Set or Delete of it waits for the write first (and
// Stats and Sweep for all of them); any other Set waits for its write to be applied and
// checks it (microseconds, not nanoseconds).
//
// An entry whose key has been requested Config.ProtectAfter times within ProtectWindow (or
// whose key is already protected) goes into the protected part; any other through
// ristretto's admission.
//
// Set returns false, storing nothing new, when: the store is closed; e is nil; e is already
// Gone by the store's clock (e.Expires() not after Config.Now()); its charge (Cost, key and
// bookkeeping) exceeds MaxBytes/2 (RejectedTooLarge); ristretto
// dropped the write on every retry (RejectedDropped); or the admission policy refused it
// because the store is full (RejectedNotAdmitted). Sets of one key run one at a time.
//
// Replacing a key with a larger entry first removes the old one, so that the new one goes
// through admission and eviction and the byte bound holds; a Get racing that Set may miss.
func (m *Memory) Set(_ context.Context, key string, e *Entry) bool {
	if e == nil {
		return false
	}
	sk := storedKey(key)
	cost := charge(sk, e)
	if cost > m.maxEntry {
		m.tooLarge.Add(1)
		return false
	}
	now := m.now()
	if !e.Expires().After(now) {
		return false
	}
	h := m.hash(sk)
	s, open := m.rlockHash(h)
	defer s.mu.RUnlock()
	if !open {
		return false
	}
	km := m.keyLock(h)
	km.Lock()
	defer km.Unlock()
	if p := m.prot; p != nil && (p.load(sk) != nil || p.requests(h, now) >= p.after) {
		if !p.add(sk, e, cost, false) {
			return false
		}
		m.promoted.Add(1)
		m.rc.Del(sk) // an unprotected copy, if any
		m.stored.Add(1)
		return true
	}
	if s.pending(h) {
		m.settle() // an earlier Set of the key, not applied yet: the one to replace
	}
	prev, ok := m.rc.Get(sk)
	m.countInternal(ok)
	if ok && prev != nil && charge(sk, prev.e) < cost {
		m.rc.Del(sk)
		ok = false
	}
	h1, h2 := keyToHash(sk)
	v := &slot{h1: h1, h2: h2, h: h, e: e}
	if !ok && m.setNew(s, sk, h, v, cost) {
		m.stored.Add(1)
		return true
	}
	set := false
	for range setRetries {
		if set = m.hand(sk, v, cost); set {
			break
		}
		m.rc.Wait()
	}
	if !set {
		m.dropped.Add(1)
		return false
	}
	if m.settleMu.TryLock() {
		m.settleLocked()
		m.settleMu.Unlock()
	} else {
		m.rc.Wait() // another settle is running: not waiting for it, as two Waits run at once
	}
	got, ok := m.rc.Get(sk)
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

// setNew hands the write of a key absent from ristretto (and from the protected part)
// over without waiting for it, when ristretto will surely admit it: its cost fits in what
// is left of MaxCost once every write handed over is applied (base+since), so that
// ristretto's admission, which refuses an entry only to make room, takes it. The key is
// marked pending in its stripe (s, h) so that a Get, Set or Delete of it settles first. It
// reports false, having handed nothing over, when the write might be refused or the key
// is already pending (a concurrent Set of it): Set then waits for ristretto as before.
// s is read-locked.
func (m *Memory) setNew(s *stripe, sk string, h uint64, v *slot, cost int64) bool {
	m.admitMu.RLock()
	if m.base.Load()+m.since.Add(cost) > m.probation || !s.mark(h, m.gen.Load()) {
		m.since.Add(-cost)
		m.admitMu.RUnlock()
		return false
	}
	set := m.rc.Set(sk, v, cost)
	m.admitMu.RUnlock()
	if n := m.marks.Add(1); !set || n >= maxMarks {
		// Dropped (ristretto's buffer is full): the caller retries after settling. Or
		// too many marks: settle them all now.
		m.settle()
	}
	return set
}

// hand passes a write to ristretto (Set), counting its cost in since.
func (m *Memory) hand(sk string, v *slot, cost int64) bool {
	m.admitMu.RLock()
	defer m.admitMu.RUnlock()
	m.since.Add(cost)
	return m.rc.Set(sk, v, cost)
}

// settle waits until ristretto has applied every write handed to it before the call
// (ristretto's Wait), then forgets the marks of the writes setNew handed over until then
// and reads ristretto's cost in use again (base). The caller holds a stripe's read lock
// (ristretto must not be closed meanwhile).
func (m *Memory) settle() {
	m.settleMu.Lock()
	defer m.settleMu.Unlock()
	m.settleLocked()
}

// settleLocked is settle's work; settleMu is held.
func (m *Memory) settleLocked() {
	m.admitMu.Lock()
	gen := m.gen.Add(1) // marks made from here on carry gen: their writes may follow the Wait
	since := m.since.Load()
	m.admitMu.Unlock()
	m.rc.Wait()
	used := m.probation // unknown without ristretto's metrics: no write is handed over unwaited
	if mt := m.rc.Metrics; mt != nil {
		// Read after the writes handed over before the Wait are applied; a write applied
		// since then (or being applied) is counted in since as well.
		used = int64(mt.CostAdded() - mt.CostEvicted())
	}
	m.admitMu.Lock()
	m.base.Store(used)
	m.since.Add(-since)
	m.admitMu.Unlock()
	n := 0
	for i := range m.stripes {
		n += m.stripes[i].forget(gen)
	}
	m.marks.Add(int64(-n))
}

// Delete removes key. A no-op after Close.
func (m *Memory) Delete(_ context.Context, key string) {
	sk := storedKey(key)
	h := m.hash(sk)
	// The stripe's write lock: a Get that promotes the key holds the read lock between
	// reading the entry from ristretto and adding it to the protected part, and would
	// otherwise put back an entry deleted in between.
	s := &m.stripes[h%numStripes]
	s.mu.Lock()
	defer s.mu.Unlock()
	if !m.closed {
		if s.pending(h) {
			m.settle() // else the pending write would be applied after the deletion
		}
		if m.prot != nil {
			m.prot.remove(sk, nil)
		}
		m.rc.Del(sk)
	}
}

// Close stops ristretto's goroutines and drops every entry. It waits for Set and Delete
// calls in progress, and for Gets other than those served from the protected part (which
// take no lock, and read entries that stay valid); after it, Get misses and Set returns
// false. Safe to call twice and concurrently.
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
	if m.marks.Load() > 0 {
		m.settle()
	}
	final := m.counters()
	final.Bytes, final.ProtectedBytes, final.Entries = 0, 0, 0
	m.final.Store(&final)
	m.closed = true
	m.closing.Store(true)
	m.rc.Close()
	if m.prot != nil {
		m.prot.clear()
	}
	return nil
}

// Stats returns a snapshot of the counters. Bytes is the cost accounted for the entries
// held; it is at most MaxBytes, except that replacing an entry in place by a
// smaller-or-equal one never raises it. After Close, the counters are those at Close, and
// Bytes, ProtectedBytes and Entries are 0.
func (m *Memory) Stats() Stats {
	if f := m.final.Load(); f != nil {
		return *f
	}
	if m.marks.Load() > 0 {
		// Writes Set handed over unwaited count once applied, as every Set's did when it returned.
		if s, open := m.rlockHash(0); open {
			m.settle()
			s.mu.RUnlock()
		} else {
			s.mu.RUnlock()
		}
	}
	return m.counters()
}

// counters reads the counters (see Stats).
func (m *Memory) counters() Stats {
	st := Stats{
		Stored:              m.stored.Load(),
		RejectedTooLarge:    m.tooLarge.Load(),
		RejectedNotAdmitted: m.notAdmitted.Load(),
		RejectedDropped:     m.dropped.Load(),
		Evictions:           m.evictions.Load(),
		Swept:               m.swept.Load(),
		Promoted:            m.promoted.Load(),
	}
	if mt := m.rc.Metrics; mt != nil {
		// Reading the counters one by one can see a Set's internal Get before it is
		// subtracted; clamp rather than wrap.
		gone, ih, im := m.goneHits.Load(), m.internalHits.Load(), m.internalMisses.Load()
		st.Hits = sub(mt.Hits(), ih+gone)
		st.Misses = sub(mt.Misses()+gone, im)
		st.Bytes = int64(mt.CostAdded() - mt.CostEvicted())
		// Deletes count as evictions in ristretto's policy, as in CostEvicted.
		st.Entries = int64(sub(mt.KeysAdded(), mt.KeysEvicted()))
	}
	st.Hits += m.protHits.Load()
	st.Misses += m.protMisses.Load()
	if m.prot != nil {
		st.ProtectedBytes = m.prot.usedBytes()
		st.Bytes += st.ProtectedBytes
		st.Entries += m.prot.held.Load()
		st.Evictions += m.prot.evicted.Load()
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
