package cache

import (
	"strconv"
	"testing"
	"time"
)

// Keys in use keep their entries while a scan of one-off keys passes: 1,000 keys each
// requested twice, then 100,000 keys requested once each, all stored. Every one of the
// 1,000 is still held (the scan went through the unprotected part, and its evictions).
// Before, ristretto's TinyLFU alone decided, and its sampled evictions and periodic
// halving of counts let the scan push out keys in use.
func TestMemoryKeepsKeysInUseThroughScan(t *testing.T) {
	const warm, scan = 1000, 100_000
	c := newClock(t0)
	m, err := New(Config{MaxBytes: 4 << 20, Now: c.Now, SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	warmKey := func(i int) string { return "G|http|api.example|/warm/" + strconv.Itoa(i) }
	request := func(key string) {
		if e, _ := m.Get(bg, key, c.Now()); e == nil {
			m.Set(bg, key, entryAt(t, []byte(`{"ok":true}`)))
		}
	}
	for range 2 {
		for i := range warm {
			request(warmKey(i))
		}
	}
	for i := range scan {
		c.Advance(time.Millisecond) // the scan takes 100 s, within ProtectWindow
		request("G|http|api.example|/scan?id=" + strconv.Itoa(i))
	}
	kept := 0
	for i := range warm {
		if e, _ := m.Get(bg, warmKey(i), c.Now()); e != nil {
			kept++
		}
	}
	st := m.Stats()
	t.Logf("kept %d of %d keys in use after a scan of %d; stats %+v", kept, warm, scan, st)
	equal(t, warm, kept, "keys in use kept")
	if st.Bytes > m.MaxBytes() {
		t.Fatalf("accounted %d bytes over the bound %d", st.Bytes, m.MaxBytes())
	}
}

// ProtectAfter counts requests within ProtectWindow: two requests further apart do not
// protect a key, and a negative ProtectAfter turns the protected part off.
func TestMemoryProtectAfterWindow(t *testing.T) {
	c := newClock(t0)
	m, err := New(Config{MaxBytes: 1 << 20, Now: c.Now, SweepInterval: -1, ProtectAfter: 2, ProtectWindow: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	m.Get(bg, "a", c.Now())
	c.Advance(2 * time.Minute)
	m.Get(bg, "a", c.Now())
	m.Set(bg, "a", entryAt(t, []byte("a")))
	equal(t, int64(0), m.Stats().ProtectedBytes, "requests a window apart")
	c.Advance(30 * time.Second)
	m.Get(bg, "b", c.Now())
	m.Get(bg, "b", c.Now())
	m.Set(bg, "b", entryAt(t, []byte("b")))
	equal(t, charge("b", entryAt(t, []byte("b"))), m.Stats().ProtectedBytes, "two requests within the window")

	off, err := New(Config{MaxBytes: 1 << 20, Now: c.Now, SweepInterval: -1, ProtectAfter: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer off.Close()
	off.Get(bg, "b", c.Now())
	off.Get(bg, "b", c.Now())
	off.Set(bg, "b", entryAt(t, []byte("b")))
	equal(t, int64(0), off.Stats().ProtectedBytes, "no protected part")

	if _, err := New(Config{ProtectWindow: -1}); err == nil {
		t.Fatal("negative ProtectWindow accepted")
	}
}
