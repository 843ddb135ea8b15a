package cache

import (
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// protected is the part of a Memory store that keeps the entries of keys in use: an entry
// enters it only when its key has been requested Config.ProtectAfter times within
// Config.ProtectWindow (counted in a fixed-size table of request counters), so a scan of
// one-off URLs, which goes through ristretto in the other part, never evicts it. Bounded in
// bytes by max; when full, the least recently requested entry leaves (CLOCK: a requested
// entry gets a second chance).
//
// Lookups are lock-free (sync.Map); changes of the CLOCK list and of used happen under mu.
// Lock order: a Memory stripe, then mu, then a seen segment's lock never held with mu.
type protected struct {
	max    int64
	after  int
	window uint32 // seconds

	nodes   sync.Map // stored key -> *pnode
	mu      sync.Mutex
	ring    pnode // sentinel of the CLOCK list: ring.next is the oldest
	count   int   // nodes in the list
	used    atomic.Int64
	held    atomic.Int64 // entries held: changed with nodes, under mu
	evicted atomic.Uint64

	seen [numStripes]seenSeg
}

// pnode is one protected entry.
type pnode struct {
	key        string
	e          atomic.Pointer[Entry]
	ref        atomic.Bool // requested since the CLOCK hand last passed
	cost       int64       // under mu
	prev, next *pnode      // under mu
}

// touch marks n requested (a plain load first: no write, no cache-line bouncing, when set).
func (n *pnode) touch() {
	if !n.ref.Load() {
		n.ref.Store(true)
	}
}

// seenSeg is one segment of the request counters, with its own lock: sets of seenWays
// slots, a key's slot found in the set its hash picks.
type seenSeg struct {
	mu    sync.Mutex
	slots []seenSlot
	_     [64 - 32]byte
}

// seenSlot counts the requests of the key whose hash it holds since first (Unix seconds,
// modulo 2^32).
type seenSlot struct {
	hash  uint64
	first uint32
	n     uint32
}

// seenWays is the number of slots in a set: a key loses its count only when 8 other keys
// hashed to its set are counted after it (and before its next request).
const seenWays = 8

// seenSlots is the number of request counters for a store of maxBytes: one per 256 bytes
// of the bound (about four per entry it can hold), between 16,384 and 4,194,304 (16 bytes
// each: 4 MiB for the default 64 MiB).
func seenSlots(maxBytes int64) int {
	want := min(max(maxBytes/256, 16<<10), 4<<20)
	n := 1
	for int64(n) < want {
		n <<= 1
	}
	return n
}

func newProtected(maxProt int64, after int, window time.Duration, maxBytes int64) *protected {
	p := &protected{max: maxProt, after: after, window: uint32(min((window+time.Second-1)/time.Second, math.MaxUint32>>1))}
	p.ring.next, p.ring.prev = &p.ring, &p.ring
	per := seenSlots(maxBytes) / numStripes
	for i := range p.seen {
		p.seen[i].slots = make([]seenSlot, per)
	}
	return p
}

// slot returns h's counter in seg (locked by the caller): the slot holding h in its set,
// else (claim) the set's slot to reuse: one whose window is over, else the one counted
// least, oldest first; nil when not found and not claimed.
func (p *protected) slot(seg *seenSeg, h uint64, t uint32, claim bool) *seenSlot {
	sets := len(seg.slots) / seenWays
	i := (int(h/numStripes) & (sets - 1)) * seenWays
	set := seg.slots[i : i+seenWays : i+seenWays]
	var victim *seenSlot
	for j := range set {
		sl := &set[j]
		if sl.hash == h && sl.n > 0 {
			if t-sl.first > p.window {
				sl.n = 0 // its window is over: count afresh
			}
			return sl
		}
		if !claim {
			continue
		}
		switch {
		case sl.n == 0 || t-sl.first > p.window:
			if victim == nil || victim.n > 0 {
				victim = sl
			}
		case victim == nil, victim.n > sl.n, victim.n == sl.n && t-sl.first > t-victim.first:
			victim = sl
		}
	}
	if victim != nil {
		victim.hash, victim.n = h, 0
	}
	return victim
}

// requested counts a request of the key hashed h at now and returns its requests within
// the window, this one included.
func (p *protected) requested(h uint64, now time.Time) int {
	t := uint32(now.Unix())
	seg := &p.seen[h%numStripes]
	seg.mu.Lock()
	sl := p.slot(seg, h, t, true)
	if sl.n == 0 {
		sl.first = t
	}
	if sl.n < math.MaxUint32 {
		sl.n++
	}
	n := sl.n
	seg.mu.Unlock()
	return int(n)
}

// requests returns the requests of the key hashed h within the window at now.
func (p *protected) requests(h uint64, now time.Time) int {
	t := uint32(now.Unix())
	seg := &p.seen[h%numStripes]
	seg.mu.Lock()
	defer seg.mu.Unlock()
	if sl := p.slot(seg, h, t, false); sl != nil {
		return int(sl.n)
	}
	return 0
}

func (p *protected) load(sk string) *pnode {
	v, ok := p.nodes.Load(sk)
	if !ok {
		return nil
	}
	return v.(*pnode)
}

// add stores e (charged cost) under sk, evicting others as needed. With onlyNew (a
// promotion) it does nothing when sk is already protected. It reports whether it stored e.
func (p *protected) add(sk string, e *Entry, cost int64, onlyNew bool) bool {
	if cost > p.max {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	n := p.load(sk)
	switch {
	case n != nil && onlyNew:
		return false
	case n != nil:
		p.used.Add(cost - n.cost)
		n.cost = cost
		n.e.Store(e)
		n.touch()
	default:
		n = &pnode{key: sk, cost: cost}
		n.e.Store(e)
		p.pushBack(n)
		p.nodes.Store(sk, n)
		p.used.Add(cost)
		p.held.Add(1)
	}
	p.evictFor(n)
	return true
}

// evictFor evicts entries other than keep until used fits max: the CLOCK hand clears the
// mark of a requested entry and passes it, and evicts the first unmarked one. After two
// rounds it evicts whatever it finds (requests racing it could keep every mark set).
func (p *protected) evictFor(keep *pnode) {
	for passed := 0; p.used.Load() > p.max; passed++ {
		n := p.ring.next
		if n == &p.ring || p.count == 1 && n == keep {
			return
		}
		if n == keep || n.ref.Load() && passed < 2*p.count {
			n.ref.Store(false)
			p.unlink(n)
			p.pushBack(n)
			continue
		}
		p.drop(n)
		p.evicted.Add(1)
	}
}

func (p *protected) pushBack(n *pnode) {
	n.prev, n.next = p.ring.prev, &p.ring
	p.ring.prev.next = n
	p.ring.prev = n
	p.count++
}

func (p *protected) unlink(n *pnode) {
	n.prev.next, n.next.prev = n.next, n.prev
	n.prev, n.next = nil, nil
	p.count--
}

// drop removes n (under mu).
func (p *protected) drop(n *pnode) {
	p.unlink(n)
	p.nodes.CompareAndDelete(n.key, n)
	p.used.Add(-n.cost)
	p.held.Add(-1)
}

// remove removes the entry under sk (only if it is want, when want is not nil); it reports
// whether it removed one.
func (p *protected) remove(sk string, want *pnode) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := p.load(sk)
	if n == nil || want != nil && n != want || n.next == nil {
		return false
	}
	p.drop(n)
	return true
}

// sweep removes the entries Gone at now and returns how many.
func (p *protected) sweep(now time.Time) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	k := 0
	for n := p.ring.next; n != &p.ring; {
		next := n.next
		if n.e.Load().State(now) == Gone {
			p.drop(n)
			k++
		}
		n = next
	}
	return k
}

// clear removes every entry.
func (p *protected) clear() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.ring.next != &p.ring {
		p.drop(p.ring.next)
	}
}

func (p *protected) usedBytes() int64 { return p.used.Load() }
