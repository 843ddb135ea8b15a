package cache

import (
	"context"
	"math/rand/v2"
	"net/http"
	"time"
)

// Store keeps entries by key. Implementations are safe for concurrent use.
type Store interface {
	// Get returns the entry for key and its state at now; (nil, Gone) when absent or expired.
	Get(ctx context.Context, key string, now time.Time) (*Entry, State)
	// Set stores e under key. It returns true only if the entry is visible to the next Get.
	Set(ctx context.Context, key string, e *Entry) bool
	// Delete removes key.
	Delete(ctx context.Context, key string)
	// Close releases the store. Safe to call twice and concurrently with the others.
	Close() error
}

// Lookup finds the entry for a request: the primary key first, then, when the found entry
// varies and the request's values of the varied headers differ from the values it was
// stored for, the variant key. A variant found must match the request and belong to the
// primary entry's Generation (be stored since the primary key was last deleted or lost),
// else it is a miss (nil, Gone). Without a primary entry it is a miss: variants are never
// looked up on their own.
//
// The state says what the entry may be used for (see State): an entry in Revalidate is
// returned only as the source of validators for a conditional fetch; it must never be
// served, not even when that fetch fails (State.ServableStale is false).
func Lookup(ctx context.Context, s Store, primary string, r *http.Request, now time.Time) (*Entry, State) {
	var h http.Header
	if r != nil {
		h = r.Header
	}
	p, st := s.Get(ctx, primary, now)
	if p == nil || len(p.Vary) == 0 || varyMatches(p, h) {
		return p, st
	}
	e, st := s.Get(ctx, VariantKey(primary, p.Vary, h), now)
	if e == nil || e.Generation != p.Generation || !varyMatches(e, h) {
		return nil, Gone
	}
	return e, st
}

// Save stores e under the primary key and, when it varies, also under its variant key
// (built from e.Vary and e.VaryValues, the storing request's values). It reports whether
// every Set succeeded. r is the request the entry answers; it is not read when e carries its
// Vary values, and may be nil then.
//
// Save first sets e.Generation (see Entry): to the Generation of the entry alive under the
// primary key at e.ResponseTime, or to a new one when there is none. It is the entry's
// publication point: call it once, before e is handed to a Store or to another goroutine,
// never with an entry already stored. It asks s for the primary entry to do so (a Get that
// a Memory store does not count in its Stats; other stores may).
//
// A deletion of the primary key that runs between Save's read of the primary entry and its
// Set is lost for the variants: they stay in that generation. That is the race any write
// of a response fetched before an invalidation has with it.
//
// Variant keys do not name the generation: an entry of the new generation replaces the old
// one under the same key, so retired variants take no room once their variant is fetched
// again. The price, in a tiered store whose local tier answers fresh hits alone: a replica
// still holding a fresh variant of the old generation locally misses it (Lookup refuses it)
// rather than finding the new generation's in the shared tier, once, until its own fetch
// replaces it.
func Save(ctx context.Context, s Store, primary string, r *http.Request, e *Entry) bool {
	if g := generation(ctx, s, primary, e.ResponseTime); e.Generation != g {
		e.Generation = g
	}
	ok := s.Set(ctx, primary, e)
	if len(e.Vary) == 0 {
		return ok
	}
	values := e.VaryValues
	if len(values) != len(e.Vary) && r != nil {
		values = make([]string, len(e.Vary))
		for i, n := range e.Vary {
			values[i] = headerValue(r.Header, n)
		}
	}
	if len(values) != len(e.Vary) {
		return false
	}
	return s.Set(ctx, variantKey(primary, e.Vary, values), e) && ok
}

// generation is the Generation an entry saved under primary at now belongs to: the alive
// primary entry's, else a new one.
func generation(ctx context.Context, s Store, primary string, now time.Time) uint64 {
	var p *Entry
	if m, ok := s.(*Memory); ok {
		p = m.peek(primary, now)
	} else {
		p, _ = s.Get(ctx, primary, now)
	}
	if p != nil && p.Generation != 0 {
		return p.Generation
	}
	return newGeneration()
}

// newGeneration returns a random non-zero generation: 64 random bits, so that two
// generations of one key never meet in practice, whatever the clocks of the replicas
// sharing a store say.
func newGeneration() uint64 {
	for {
		if g := rand.Uint64(); g != 0 {
			return g
		}
	}
}

// peek is Get without counting in Stats (a Save reading the primary entry is not a hit or
// a miss of the cache's users) and without promoting the entry; nil when key holds no
// entry or a Gone one.
func (m *Memory) peek(key string, now time.Time) *Entry {
	sk := storedKey(key)
	h := m.hash(sk)
	st, open := m.rlockHash(h)
	defer st.mu.RUnlock()
	if !open {
		return nil
	}
	var e *Entry
	protected := false
	if m.prot != nil {
		if n := m.prot.load(sk); n != nil {
			e, protected = n.e.Load(), true
		}
	}
	if !protected {
		s, ok := m.lookup(st, sk, h)
		m.countInternal(ok) // not a Get of the cache's users: Stats leaves it out
		if ok && s != nil {
			e = s.e
		}
	}
	if e == nil || e.State(now) == Gone {
		return nil
	}
	return e
}

// varyMatches reports whether h has the values e was stored for.
func varyMatches(e *Entry, h http.Header) bool {
	if len(e.VaryValues) != len(e.Vary) {
		return false
	}
	for i, name := range e.Vary {
		if headerValue(h, name) != e.VaryValues[i] {
			return false
		}
	}
	return true
}
