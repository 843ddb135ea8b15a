package cache

import (
	"testing"
	"time"
)

// The unprotected part keeps only ristretto's hashes of a key: the sweeper still deletes
// a Gone entry from them, a key that looks like such a hash key is stored under its digest
// and so reaches no other entry, and a Get of it finds only its own.
func TestMemoryKeepsHashesNotKeysAndSweepsByThem(t *testing.T) {
	clock := newClock(t0)
	m, err := New(Config{MaxBytes: 1 << 20, Now: clock.Now, SweepInterval: -1, ProtectAfter: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	e := entryAt(t, []byte("hello"))
	if !m.Set(bg, "G|http|a|/x", e) {
		t.Fatal("not stored")
	}
	h1, h2 := keyToHash("G|http|a|/x")
	lookalike := hashKey(h1, h2)
	equal(t, 33, len(storedKey(lookalike)), "a key starting with the hash mark is digested")
	if got, _ := m.Get(bg, lookalike, t0); got != nil {
		t.Fatal("a key that looks like another key's hashes found its entry")
	}
	other := entryAt(t, []byte("other"))
	if !m.Set(bg, lookalike, other) {
		t.Fatal("lookalike not stored")
	}
	if got, _ := m.Get(bg, "G|http|a|/x", t0); got != e {
		t.Fatal("the lookalike's Set replaced the entry it looks like")
	}

	clock.Set(t0.Add(3 * time.Hour)) // past every window of both
	equal(t, 2, m.Sweep())
	m.rc.Wait() // ristretto applies deletions asynchronously
	equal(t, int64(0), m.Stats().Entries)
}
