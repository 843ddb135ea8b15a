package cache

import (
	"strconv"
	"testing"
	"time"
)

// Stats.Entries counts the entries the store holds, in both parts, through new keys,
// replacements, moves into the protected part, deletes, evictions, sweeps and Close: once
// ristretto has applied its queued writes (m.rc.Wait), it equals the number of keys Get
// finds.
func TestMemoryEntriesCountsWhatGetFinds(t *testing.T) {
	c := newClock(t0)
	m, err := New(Config{MaxBytes: 4 << 20, Now: c.Now, SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	key := func(i int) string { return "G|http|a|/" + strconv.Itoa(i) }
	small := make([]byte, 1<<10)
	var used int // keys 0..used-1 have been set
	found := func() int64 {
		n := int64(0)
		for i := range used {
			if e, _ := m.Get(bg, key(i), c.Now()); e != nil {
				n++
			}
		}
		return n
	}
	settled := func(what string) int64 {
		t.Helper()
		m.rc.Wait()
		got := m.Stats().Entries
		if f := found(); got != f {
			t.Fatalf("%s: Entries %d, Get finds %d", what, got, f)
		}
		m.rc.Wait() // Get may have moved entries into the protected part
		equal(t, got, m.Stats().Entries, what+": after the moves Get made")
		return got
	}

	const n = 100
	for i := range n {
		if !m.Set(bg, key(i), sharedBodyEntry(small)) {
			t.Fatalf("Set %d refused", i)
		}
	}
	used = n
	equal(t, int64(n), m.Stats().Entries, "after Set returned for each new key")
	equal(t, int64(n), settled("stored"), "stored")

	for i := range 10 { // replaced in place: not new entries
		if !m.Set(bg, key(i), sharedBodyEntry(small)) {
			t.Fatalf("replacing %d refused", i)
		}
	}
	equal(t, int64(n), settled("replaced"), "replaced")

	// The Gets above were each key's second request: they moved every entry into the
	// protected part. Store ten new keys in the unprotected part and delete from both.
	if m.Stats().Promoted < n {
		t.Fatalf("only %d entries moved into the protected part", m.Stats().Promoted)
	}
	for i := n; i < n+10; i++ {
		if !m.Set(bg, key(i), sharedBodyEntry(small)) {
			t.Fatalf("Set %d refused", i)
		}
	}
	used = n + 10
	for i := range 5 {
		m.Delete(bg, key(i)) // protected
	}
	for i := n; i < n+5; i++ {
		m.Delete(bg, key(i)) // unprotected
	}
	m.Delete(bg, "never stored")
	equal(t, int64(n), settled("deleted"), "deleted")

	// Fill the unprotected part (2 MiB) with 300 entries of 16 KiB: some are evicted or
	// refused; every one counted is found.
	big := make([]byte, 16<<10)
	for i := used; i < used+300; i++ {
		m.Set(bg, key(i), sharedBodyEntry(big))
	}
	used += 300
	before := m.Stats()
	got := settled("filled past the bound")
	if before.Evictions == 0 {
		t.Fatal("no evictions writing 4.8 MiB into a 2 MiB part")
	}
	if got >= int64(used-10) || got <= n {
		t.Fatalf("Entries %d after filling past the bound: want between %d and %d", got, n, used-10)
	}

	c.Advance(2 * time.Hour) // every entry is Gone (sharedBodyEntry's ErrorUntil)
	if swept := m.Sweep(); int64(swept) != got {
		t.Fatalf("Sweep removed %d of %d entries", swept, got)
	}
	equal(t, int64(0), settled("swept"), "swept")

	c.Set(t0.Add(3 * time.Hour))
	for i := range 3 {
		e := sharedBodyEntry(small)
		e.FreshUntil, e.RevalidateUntil, e.ErrorUntil = c.Now().Add(time.Hour), c.Now().Add(time.Hour), c.Now().Add(time.Hour)
		m.Set(bg, key(i), e)
	}
	equal(t, int64(3), settled("stored after the sweep"), "stored after the sweep")
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	equal(t, int64(0), m.Stats().Entries, "closed")
}
