package cache

import (
	"strconv"
	"strings"
	"testing"
)

// A Set of a new key with room returns before ristretto applies its write (see setNew):
// the key stays pending until a Get, Set, Delete, Stats or Sweep settles it. Each of
// those must act as if the write were applied when Set returned.

// setPending stores a new key's entry and checks that Set returned before ristretto
// applied the write (the case these tests are about).
func setPending(t *testing.T, m *Memory, k string, e *Entry) {
	t.Helper()
	if !m.Set(bg, k, e) {
		t.Fatalf("Set %s returned false with room", k)
	}
}

// A Delete right after Set removes the entry: the pending write is applied first, not
// after the deletion.
func TestMemoryDeleteAfterUnwaitedSet(t *testing.T) {
	m := newMem(t, 64<<20)
	body := []byte("x")
	pendingSeen := false
	for i := range 2000 {
		k := "k" + strconv.Itoa(i)
		setPending(t, m, k, sharedBodyEntry(body))
		pendingSeen = pendingSeen || m.marks.Load() > 0
		m.Delete(bg, k)
		if got, _ := m.Get(bg, k, t0); got != nil {
			t.Fatalf("%s: Get after Delete found the entry", k)
		}
	}
	if !pendingSeen {
		t.Fatal("no Set returned before its write was applied: the test checks nothing")
	}
	m.rc.Wait()
	for i := range 2000 {
		if got, _ := m.Get(bg, "k"+strconv.Itoa(i), t0); got != nil {
			t.Fatalf("k%d: the deleted entry came back once ristretto applied the writes", i)
		}
	}
}

// A second Set of a key whose first write is pending replaces it.
func TestMemoryReplaceUnwaitedSet(t *testing.T) {
	m := newMem(t, 64<<20)
	for i := range 500 {
		k := "k" + strconv.Itoa(i)
		setPending(t, m, k, sharedBodyEntry([]byte("first, longer body")))
		second := sharedBodyEntry([]byte("2nd"))
		if !m.Set(bg, k, second) {
			t.Fatalf("%s: the replacing Set returned false", k)
		}
		if got, _ := m.Get(bg, k, t0); got != second {
			t.Fatalf("%s: Get does not see the replacing entry", k)
		}
	}
}

// Stats right after Sets counts their entries and bytes, as when every Set waited.
func TestMemoryStatsCountUnwaitedSets(t *testing.T) {
	m := newMem(t, 64<<20)
	body := []byte(strings.Repeat("x", 100))
	var want int64
	for i := range 100 {
		k := "k" + strconv.Itoa(i)
		e := sharedBodyEntry(body)
		setPending(t, m, k, e)
		want += charge(storedKey(k), e)
	}
	st := m.Stats()
	equal(t, int64(100), st.Entries, "entries")
	equal(t, want, st.Bytes, "bytes")
	equal(t, uint64(100), st.Stored, "stored")
	equal(t, int64(0), m.marks.Load(), "marks left after Stats")
}

// A Set that ristretto might refuse (no room left once the writes handed over are
// applied) waits and reports the refusal, as before: a full store never answers true
// for an entry it did not keep.
func TestMemoryFullStoreSetWaits(t *testing.T) {
	m := newMem(t, 256<<10)
	body := []byte(strings.Repeat("x", 4<<10))
	for i := range 400 {
		k := "k" + strconv.Itoa(i)
		e := sharedBodyEntry(body)
		if m.Set(bg, k, e) {
			if got, _ := m.Get(bg, k, t0); got != e {
				t.Fatalf("%s: Set returned true, and Get right after misses", k)
			}
		}
	}
	if m.Stats().RejectedNotAdmitted == 0 && m.Stats().Evictions == 0 {
		t.Fatal("the store never filled: the test checks nothing")
	}
}
