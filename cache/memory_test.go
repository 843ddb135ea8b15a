package cache

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var bg = context.Background()

func fixedClock(t time.Time) func() time.Time { return func() time.Time { return t } }

func newMem(t testing.TB, maxBytes int64) *Memory {
	t.Helper()
	m, err := New(Config{MaxBytes: maxBytes, Now: fixedClock(t0)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	return m
}

// entryAt builds a storable entry at t0, fresh for an hour, with body.
func entryAt(t testing.TB, body []byte) *Entry {
	t.Helper()
	e, err := Policy{}.NewEntry(getReq("http://a/"), 200, hdr("Cache-Control", "max-age=3600"), body, t0, t0)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// sharedBodyEntry is a cheap entry whose Body aliases body (tests only: entries are immutable).
func sharedBodyEntry(body []byte) *Entry {
	e := &Entry{Status: 200, Header: http200Header(), Body: body, ResponseTime: t0,
		FreshUntil: t0.Add(time.Hour), RevalidateUntil: t0.Add(time.Hour), ErrorUntil: t0.Add(2 * time.Hour)}
	return e
}

func http200Header() Header { return MakeHeader(map[string][]string{"Content-Type": {"text/plain"}}) }

func TestNewConfig(t *testing.T) {
	_, err := New(Config{MaxBytes: -1})
	if err == nil || !strings.Contains(err.Error(), "MaxBytes") {
		t.Fatalf("want an error naming MaxBytes, got %v", err)
	}
	m, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	equal(t, int64(DefaultMaxBytes), m.MaxBytes())
}

func TestMemorySetGet(t *testing.T) {
	m := newMem(t, 1<<20)
	e := entryAt(t, []byte("hello"))
	if got, st := m.Get(bg, "k", t0); got != nil || st != Gone {
		t.Fatal("hit on empty store")
	}
	if !m.Set(bg, "k", e) {
		t.Fatal("Set failed with room")
	}
	got, st := m.Get(bg, "k", t0)
	if got != e || st != Fresh {
		t.Fatalf("Get = %v, %v", got, st)
	}
	if _, st := m.Get(bg, "k", t0.Add(90*time.Minute)); st != StaleIfError {
		t.Fatalf("state later = %v", st)
	}
	// Past every window, the entry is a miss even though ristretto still holds it.
	if got, st := m.Get(bg, "k", t0.Add(3*time.Hour)); got != nil || st != Gone {
		t.Fatalf("Gone entry returned: %v %v", got, st)
	}
	s := m.Stats()
	equal(t, uint64(2), s.Hits, "hits")
	equal(t, uint64(2), s.Misses, "misses")
	equal(t, uint64(1), s.Stored, "stored")
	// The second request promoted the entry into the protected part; ristretto applies the
	// removal of its own copy asynchronously.
	eventually(t, func() bool { return m.Stats().Bytes == charge("k", e) }, "bytes")

	m.Delete(bg, "k")
	if got, _ := m.Get(bg, "k", t0); got != nil {
		t.Fatal("hit after Delete")
	}
	eventually(t, func() bool { return m.Stats().Bytes == 0 }, "bytes back to 0 after Delete")
}

func TestMemoryRefusals(t *testing.T) {
	m := newMem(t, 64<<10)
	if m.Set(bg, "nil", nil) {
		t.Fatal("nil entry stored")
	}
	big := entryAt(t, make([]byte, 40<<10)) // over MaxBytes/2
	if m.Set(bg, "big", big) {
		t.Fatal("too large entry stored")
	}
	equal(t, uint64(1), m.Stats().RejectedTooLarge)
	gone := sharedBodyEntry([]byte("x"))
	gone.FreshUntil, gone.RevalidateUntil, gone.ErrorUntil = t0, t0, t0 // Gone by the store's clock
	if m.Set(bg, "gone", gone) {
		t.Fatal("expired entry stored")
	}
	if got, _ := m.Get(bg, "gone", t0.Add(-time.Hour)); got != nil {
		t.Fatal("expired entry visible")
	}
}

func TestMemoryReplace(t *testing.T) {
	m := newMem(t, 1<<20)
	small := entryAt(t, []byte("a"))
	large := entryAt(t, make([]byte, 4000))
	smaller := entryAt(t, []byte("b"))
	for i, e := range []*Entry{small, large, smaller} {
		if !m.Set(bg, "k", e) {
			t.Fatalf("%d: Set failed", i)
		}
		if got, _ := m.Get(bg, "k", t0); got != e {
			t.Fatalf("%d: Get sees an old entry", i)
		}
		eventually(t, func() bool { return m.Stats().Bytes == charge("k", e) }, "bytes follow the replacement")
	}
}

// After Set returns true, a Get from any goroutine hits: 10,000 distinct keys from 8
// goroutines, with room for all of them.
func TestMemorySetVisibleConcurrently(t *testing.T) {
	const goroutines, keys = 8, 10_000
	m := newMem(t, 64<<20)
	body := []byte(strings.Repeat("x", 100))
	var wg sync.WaitGroup
	var failedSet, missedOwn atomic.Int64
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; i < keys; i += goroutines {
				k := "key-" + strconv.Itoa(i)
				e := sharedBodyEntry(body)
				if !m.Set(bg, k, e) {
					failedSet.Add(1)
					continue
				}
				if got, _ := m.Get(bg, k, t0); got != e {
					missedOwn.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	equal(t, int64(0), failedSet.Load(), "Set returned false with room")
	equal(t, int64(0), missedOwn.Load(), "own Get missed right after Set")
	missing := 0
	for i := range keys {
		if got, _ := m.Get(bg, "key-"+strconv.Itoa(i), t0); got == nil {
			missing++
		}
	}
	equal(t, 0, missing, "keys missing from another goroutine")
	equal(t, uint64(keys), m.Stats().Stored)
}

// Writing 200 MiB of distinct entries into a 32 MiB store never accounts more than 32 MiB.
func TestMemoryByteBound(t *testing.T) {
	const maxBytes = 32 << 20
	const bodySize = 64 << 10
	const total = 200 << 20
	// Every key is new: without a protected part (Config.ProtectAfter), so that all of
	// MaxBytes is ristretto's.
	m, err := New(Config{MaxBytes: maxBytes, Now: fixedClock(t0), ProtectAfter: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	body := make([]byte, bodySize)
	var stored atomic.Int64
	n := 0
	for n*bodySize < total {
		var wg sync.WaitGroup
		for g := range 4 {
			wg.Add(1)
			go func(base int) {
				defer wg.Done()
				for i := range 16 {
					if m.Set(bg, "k"+strconv.Itoa(base+i), sharedBodyEntry(body)) {
						stored.Add(1)
					}
				}
			}(n + g*16)
		}
		wg.Wait()
		n += 64
		if b := m.Stats().Bytes; b > maxBytes || b < 0 {
			t.Fatalf("after %d entries: accounted bytes %d outside [0, %d]", n, b, maxBytes)
		}
	}
	s := m.Stats()
	if s.Evictions == 0 {
		t.Fatal("no evictions while writing 200 MiB into 32 MiB")
	}
	if stored.Load() < maxBytes/(bodySize+4<<10) { // each charged body, header and bookkeeping
		t.Fatalf("only %d entries stored", stored.Load())
	}
	equal(t, uint64(stored.Load()), s.Stored)
	t.Logf("stored %d, not admitted %d, dropped %d, evictions %d, bytes %d",
		s.Stored, s.RejectedNotAdmitted, s.RejectedDropped, s.Evictions, s.Bytes)
}

// Get, Set, Delete and Close racing: no panic, no leak (TestMain), and a closed store is
// inert.
func TestMemoryConcurrentClose(t *testing.T) {
	for round := range 20 {
		m, err := New(Config{MaxBytes: 1 << 20, Now: fixedClock(t0)})
		if err != nil {
			t.Fatal(err)
		}
		e := sharedBodyEntry([]byte("v"))
		var wg sync.WaitGroup
		start := make(chan struct{})
		for g := range 6 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				for i := range 200 {
					k := strconv.Itoa((g*7 + i) % 50)
					switch i % 4 {
					case 0:
						m.Set(bg, k, e)
					case 1:
						m.Get(bg, k, t0)
					case 2:
						m.Delete(bg, k)
					default:
						if g == 0 {
							m.Sweep()
						}
					}
				}
			}()
		}
		for range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				if err := m.Close(); err != nil {
					t.Error(err)
				}
			}()
		}
		close(start)
		wg.Wait()
		if m.Set(bg, "after", e) {
			t.Fatalf("round %d: Set after Close returned true", round)
		}
		if got, _ := m.Get(bg, "0", t0); got != nil {
			t.Fatalf("round %d: Get after Close hit", round)
		}
		m.Delete(bg, "0")
		_ = m.Stats()
		if err := m.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestLookupSaveVary(t *testing.T) {
	m := newMem(t, 1<<20)
	p := Policy{}
	vary := hdr("Cache-Control", "max-age=60", "Vary", "Accept-Language")
	en := getReq("http://a/x", "Accept-Language", "en")
	fr := getReq("http://a/x", "Accept-Language", "fr")
	de := getReq("http://a/x", "Accept-Language", "de")
	primary := Key(en, KeyOptions{})
	equal(t, primary, Key(fr, KeyOptions{}))

	eEn, _ := p.NewEntry(en, 200, vary, []byte("hello"), t0, t0)
	eFr, _ := p.NewEntry(fr, 200, vary, []byte("bonjour"), t0, t0)
	if !Save(bg, m, primary, en, eEn) || !Save(bg, m, primary, fr, eFr) {
		t.Fatal("Save failed")
	}
	// The primary slot holds the last saved (fr); en is found through its variant.
	if got, st := Lookup(bg, m, primary, en, t0); got != eEn || st != Fresh {
		t.Fatalf("en: %v %v", got, st)
	}
	if got, _ := Lookup(bg, m, primary, fr, t0); got != eFr {
		t.Fatal("fr not found")
	}
	if got, st := Lookup(bg, m, primary, de, t0); got != nil || st != Gone {
		t.Fatal("de got another language's body")
	}
	// A non-varying entry is found by primary alone.
	plain, _ := p.NewEntry(en, 200, hdr("Cache-Control", "max-age=60"), []byte("p"), t0, t0)
	if !Save(bg, m, "other", nil, plain) {
		t.Fatal("Save plain failed")
	}
	if got, _ := Lookup(bg, m, "other", de, t0); got != plain {
		t.Fatal("plain entry not found")
	}
}

func TestMemorySweep(t *testing.T) {
	c := newClock(t0)
	m, err := New(Config{MaxBytes: 1 << 20, Now: c.Now, SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	short := sharedBodyEntry([]byte("short")) // Gone at t0+2h
	long := sharedBodyEntry([]byte("long"))
	long.ErrorUntil = t0.Add(5 * time.Hour)
	if !m.Set(bg, "short", short) || !m.Set(bg, "long", long) {
		t.Fatal("Set failed")
	}
	equal(t, 0, m.Sweep(), "nothing Gone yet")
	c.Advance(2*time.Hour - time.Nanosecond)
	equal(t, 0, m.Sweep(), "short is still usable on error")
	c.Advance(time.Nanosecond)
	equal(t, 1, m.Sweep(), "short is Gone")
	if got, _ := m.Get(bg, "short", t0); got != nil {
		t.Fatal("swept entry still present")
	}
	if got, _ := m.Get(bg, "long", t0); got != long {
		t.Fatal("live entry swept")
	}
	eventually(t, func() bool { return m.Stats().Bytes == charge("long", long) }, "swept bytes released")
	equal(t, uint64(1), m.Stats().Swept)
}

func TestMemoryBackgroundSweep(t *testing.T) {
	c := newClock(t0)
	m, err := New(Config{MaxBytes: 1 << 20, Now: c.Now, SweepInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if !m.Set(bg, "k", sharedBodyEntry([]byte("v"))) {
		t.Fatal("Set failed")
	}
	c.Advance(3 * time.Hour)
	eventually(t, func() bool { return m.Stats().Swept == 1 && m.Stats().Bytes == 0 }, "background sweep")
}
