package cache

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The writes of one key (Set, a Get's promotion, the sweeper's deletion) run one at a
// time: none acts on an entry another has replaced. These tests race two of them per key
// over thousands of keys; each failed on the store before the key lock (measured: about
// 2% of the keys lost their new entry to a promotion; a Sweep lost one in about half the
// runs; the bytes accounted drifted from the entries held and went over MaxBytes).

// entryFor is an entry stored at now, fresh for an hour, with body.
func entryFor(now time.Time, body string) *Entry {
	return &Entry{Status: 200, Header: http200Header(), Body: []byte(body), ResponseTime: now,
		FreshUntil: now.Add(time.Hour), RevalidateUntil: now.Add(time.Hour), ErrorUntil: now.Add(time.Hour)}
}

// A Get that moves a key into the protected part, racing a Set of the key: the Set's
// entry is the one a Get sees afterwards, and the key is held once.
func TestMemoryPromotionKeepsAConcurrentSet(t *testing.T) {
	m, err := New(Config{MaxBytes: 64 << 20, Now: fixedClock(t0), SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	const n = 3000
	lost := 0
	for i := range n {
		k := "k" + strconv.Itoa(i)
		m.Set(bg, k, entryFor(t0, "old"))
		m.Get(bg, k, t0) // the first request: not protected yet
		e := entryFor(t0, "new")
		var ok bool
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); m.Get(bg, k, t0) }() // the second: promotes
		go func() { defer wg.Done(); ok = m.Set(bg, k, e) }()
		wg.Wait()
		if ok && m.peek(k, t0) != e {
			lost++
		}
	}
	equal(t, 0, lost, "keys whose Set returned true and whose entry a Get then did not see")
	m.rc.Wait() // the promotions' deletions from ristretto applied (see Stats.Entries)
	st := m.Stats()
	equal(t, int64(n), st.Entries, "entries (a key held in both parts counts twice)")
}

// A Sweep deleting a key's Gone entry, racing a Set that replaces it with a fresh one: the
// fresh entry stays.
func TestMemorySweepKeepsAConcurrentReplacement(t *testing.T) {
	for _, protect := range []int{-1, 0} {
		c := newClock(t0)
		m, err := New(Config{MaxBytes: 64 << 20, Now: c.Now, SweepInterval: -1, ProtectAfter: protect})
		if err != nil {
			t.Fatal(err)
		}
		const n = 2000
		lost := 0
		for round := range 8 {
			key := func(i int) string { return "k" + strconv.Itoa(round) + "-" + strconv.Itoa(i) }
			for i := range n {
				m.Set(bg, key(i), entryFor(c.Now(), "old"))
			}
			c.Advance(2 * time.Hour) // every entry of the round is Gone
			now := c.Now()
			fresh, ok := make([]*Entry, n), make([]bool, n)
			var wg sync.WaitGroup
			wg.Add(2)
			go func() { defer wg.Done(); m.Sweep() }()
			go func() {
				defer wg.Done()
				for i := range n {
					fresh[i] = entryFor(now, "new")
					ok[i] = m.Set(bg, key(i), fresh[i])
				}
			}()
			wg.Wait()
			for i := range n {
				if got, _ := m.Get(bg, key(i), now); ok[i] && got != fresh[i] {
					lost++
				}
			}
		}
		_ = m.Close()
		equal(t, 0, lost, "ProtectAfter "+strconv.Itoa(protect)+": fresh entries a concurrent Sweep deleted")
	}
}

// Two Sets of one new key at once, a small entry and a large one: the bytes accounted are
// those of the entries held, and never over the bound.
func TestMemoryConcurrentSetsOfAKeyKeepTheBound(t *testing.T) {
	const maxBytes = 1 << 20
	m, err := New(Config{MaxBytes: maxBytes, Now: fixedClock(t0), SweepInterval: -1, ProtectAfter: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	small, big := "s", strings.Repeat("B", 100<<10)
	for i := range 1500 {
		k := fmt.Sprintf("k%05d", i) // one length: every key's charge is its entry's plus the same
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); m.Set(bg, k, entryFor(t0, small)) }()
		go func() { defer wg.Done(); m.Set(bg, k, entryFor(t0, big)) }()
		wg.Wait()
		st := m.Stats()
		var held int64
		m.rc.IterValues(func(v *slot) bool {
			held += charge(k, v.e)
			return false
		})
		if st.Bytes > maxBytes || held != st.Bytes {
			t.Fatalf("after key %d: %d bytes accounted (MaxBytes %d), the entries held cost %d", i, st.Bytes, maxBytes, held)
		}
	}
}

// Close keeps the counters: a last read of Stats after it (a final metrics flush) sees
// the hits, misses and stores counted before, and no entries.
func TestMemoryStatsAfterCloseKeepCounters(t *testing.T) {
	m := newMem(t, 64<<20)
	for i := range 100 {
		m.Set(bg, "k"+strconv.Itoa(i), sharedBodyEntry([]byte("x")))
	}
	for i := range 10 {
		m.Get(bg, "k"+strconv.Itoa(i), t0)
		m.Get(bg, "miss"+strconv.Itoa(i), t0)
	}
	before := m.Stats()
	equal(t, uint64(10), before.Hits, "hits before Close")
	_ = m.Close()
	after := m.Stats()
	equal(t, before.Hits, after.Hits, "hits after Close")
	equal(t, before.Misses, after.Misses, "misses after Close")
	equal(t, before.Stored, after.Stored, "stored after Close")
	equal(t, int64(0), after.Entries, "entries after Close")
	equal(t, int64(0), after.Bytes, "bytes after Close")
}
