package cache

import (
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// liveHeap is the heap in use after two full collections.
func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// typicalEntry is an entry as the engine builds one: five header fields in the entry's
// compact header, copied once as by a hit (which leaves nothing behind in the entry).
func typicalEntry(t testing.TB, i, body int) *Entry {
	h := http.Header{}
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "public, max-age=3600")
	h.Set("Date", httpDate(t0))
	h.Set("Etag", `"v`+strconv.Itoa(i)+`"`)
	h.Set("Content-Length", strconv.Itoa(body))
	e, err := Policy{}.NewEntry(getReq("http://a/"), 200, h, make([]byte, body), t0, t0)
	if err != nil {
		t.Fatal(err)
	}
	e.CopyHeader(http.Header{}, 2)
	return e
}

// What a Memory store charges against MaxBytes (Stats.Bytes) is what its entries hold on
// the heap: the live heap grows by no more than the charged bytes (and by not much less)
// over many entries, in either part of the store, whatever the key's length. Before, an
// entry of a 2-byte body was charged 473 bytes and held 1,376, and its key was not charged
// at all: a 100 KB URL held 100 KB for 473 charged.
func TestMemoryChargesWhatItHolds(t *testing.T) {
	for _, tc := range []struct {
		name            string
		n, body, keyPad int
		protectAfter    int
	}{
		{"2B body", 5000, 2, 0, -1},
		{"1KiB body", 5000, 1 << 10, 0, -1},
		{"2KB key", 5000, 2, 2000, -1},
		{"100KB key", 1000, 2, 100_000, -1},
		{"protected 2B body", 5000, 2, 0, 1},
		{"protected 2KB key", 5000, 2, 2000, 1},
	} {
		n := tc.n
		t.Run(tc.name, func(t *testing.T) {
			m, err := New(Config{MaxBytes: 1 << 30, Now: fixedClock(t0), SweepInterval: -1, ProtectAfter: tc.protectAfter})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			pad := strings.Repeat("p", tc.keyPad)
			before := liveHeap()
			for i := range n {
				key := "G|http|example.com|/items/" + strconv.Itoa(i) + "?q=" + pad
				m.Get(bg, key, t0) // the request's lookup, a miss
				if !m.Set(bg, key, typicalEntry(t, i, tc.body)) {
					t.Fatalf("entry %d not stored", i)
				}
			}
			grown := float64(liveHeap() - before)
			st := m.Stats()
			charged := float64(st.Bytes)
			if tc.protectAfter > 0 && st.ProtectedBytes != st.Bytes {
				t.Fatalf("want every entry protected, got %d of %d bytes", st.ProtectedBytes, st.Bytes)
			}
			t.Logf("%d entries: heap grew %.0f B/entry, charged %.0f B/entry (%.2f)", n, grown/float64(n), charged/float64(n), grown/charged)
			if grown > 1.1*charged {
				t.Errorf("heap grew %.0f bytes for %.0f charged: the store holds more than it charges", grown, charged)
			}
			if grown < 0.6*charged {
				t.Errorf("heap grew %.0f bytes for %.0f charged: the charge is far above what is held", grown, charged)
			}
		})
	}
}

// A key over 256 bytes is held as its 33-byte digest: distinct long keys stay distinct,
// the same long key finds its entry, and a short key starting with NUL cannot meet a digest.
func TestMemoryStoresLongKeysAsDigests(t *testing.T) {
	long := "G|http|a|/x?pad=" + strings.Repeat("a", 1000)
	equal(t, 33, len(storedKey(long)))
	equal(t, storedKey(long), storedKey(long))
	if storedKey(long) == storedKey(long+"b") {
		t.Fatal("two long keys share a digest")
	}
	short := "G|http|a|/x"
	equal(t, short, storedKey(short))
	nul := string(rune(0)) + "k"
	equal(t, 33, len(storedKey(nul)), "a key starting with NUL is digested too")

	m := newMem(t, 1<<20)
	e1, e2 := entryAt(t, []byte("one")), entryAt(t, []byte("two"))
	if !m.Set(bg, long, e1) || !m.Set(bg, long+"b", e2) {
		t.Fatal("not stored")
	}
	got, _ := m.Get(bg, long, t0)
	equal(t, e1, got)
	got, _ = m.Get(bg, long+"b", t0)
	equal(t, e2, got)
	equal(t, charge(storedKey(long), e1)+charge(storedKey(long+"b"), e2), m.Stats().Bytes)
	m.Delete(bg, long)
	got, _ = m.Get(bg, long, t0)
	equal(t, (*Entry)(nil), got)
}
