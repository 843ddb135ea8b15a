package cache

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"
)

// langEntry builds the answer to a GET of http://a/ with Accept-Language lang, varying on
// it, received at at and fresh for fresh (stale-if-error one hour).
func langEntry(t testing.TB, lang, body string, at time.Time, fresh time.Duration) (*http.Request, *Entry) {
	t.Helper()
	r := getReq("http://a/", "Accept-Language", lang)
	h := hdr("Vary", "Accept-Language", "Cache-Control", "max-age="+strconv.Itoa(int(fresh/time.Second)), "Date", at.Format(http.TimeFormat))
	e, err := Policy{}.NewEntry(r, 200, h, []byte(body), at, at)
	if err != nil {
		t.Fatal(err)
	}
	return r, e
}

// lookupBody is the body Lookup finds for lang at now, "" for a miss.
func lookupBody(t testing.TB, s Store, key, lang string, now time.Time) string {
	t.Helper()
	e, st := Lookup(bg, s, key, getReq("http://a/", "Accept-Language", lang), now)
	if e == nil {
		if st != Gone {
			t.Fatalf("nil entry with state %v", st)
		}
		return ""
	}
	return string(e.Body)
}

func save(t testing.TB, s Store, key string, r *http.Request, e *Entry) {
	t.Helper()
	if !Save(bg, s, key, r, e) {
		t.Fatalf("Save of %q failed", e.Body)
	}
}

func TestSaveVariantsShareTheirPrimarysGeneration(t *testing.T) {
	m := newMem(t, 1<<20)
	rEn, en := langEntry(t, "en", "en1", t0, time.Hour)
	rFr, fr := langEntry(t, "fr", "fr1", t0, time.Hour)
	equal(t, uint64(0), en.Generation, "NewEntry leaves the generation to Save")
	save(t, m, "K", rEn, en)
	if en.Generation == 0 {
		t.Fatal("Save must give the first entry of a key a generation")
	}
	save(t, m, "K", rFr, fr)
	equal(t, en.Generation, fr.Generation, "a variant saved while the primary is alive joins its generation")
	equal(t, "en1", lookupBody(t, m, "K", "en", t0))
	equal(t, "fr1", lookupBody(t, m, "K", "fr", t0))
	equal(t, "", lookupBody(t, m, "K", "de", t0))
}

// The reviewer's scenario at the cache level: a deletion of the primary key (what an
// unsafe method's success and Engine.Purge do) must retire every variant, not only the one
// the primary key held.
func TestDeleteOfPrimaryRetiresEveryVariant(t *testing.T) {
	m := newMem(t, 1<<20)
	rEn, en1 := langEntry(t, "en", "en1", t0, time.Hour)
	rFr, fr1 := langEntry(t, "fr", "fr1", t0, time.Hour)
	save(t, m, "K", rEn, en1)
	save(t, m, "K", rFr, fr1)
	m.Delete(bg, "K")
	equal(t, "", lookupBody(t, m, "K", "en", t0), "primary deleted: a miss")
	equal(t, "", lookupBody(t, m, "K", "fr", t0), "primary deleted: a miss")

	_, en2 := langEntry(t, "en", "en2", t0, time.Hour)
	save(t, m, "K", rEn, en2)
	if en2.Generation == en1.Generation {
		t.Fatal("an entry saved after the primary key was deleted must start a new generation")
	}
	equal(t, "en2", lookupBody(t, m, "K", "en", t0))
	// fr1 is still under its variant key, fresh; it predates the deletion.
	if e, _ := m.Get(bg, VariantKey("K", []string{"Accept-Language"}, hdr("Accept-Language", "fr")), t0); e != fr1 {
		t.Fatal("test setup: the old fr variant should still be stored")
	}
	equal(t, "", lookupBody(t, m, "K", "fr", t0), "a variant stored before the deletion must not be served")

	_, fr2 := langEntry(t, "fr", "fr2", t0, time.Hour)
	save(t, m, "K", rFr, fr2)
	equal(t, en2.Generation, fr2.Generation)
	equal(t, "fr2", lookupBody(t, m, "K", "fr", t0))
	equal(t, "en2", lookupBody(t, m, "K", "en", t0), "the new generation's other variant is still used")
}

// A primary entry that is Gone (expired, as when evicted) ends the generation too: the
// variants it knew are not trusted under the next one.
func TestGonePrimaryStartsANewGeneration(t *testing.T) {
	m := newMem(t, 1<<20)
	rFr, fr1 := langEntry(t, "fr", "fr1", t0, 10*time.Hour)
	rEn, en1 := langEntry(t, "en", "en1", t0, time.Minute)
	save(t, m, "K", rFr, fr1)
	save(t, m, "K", rEn, en1) // the primary is now en1, Gone after 1 min + 1 h stale-if-error
	later := t0.Add(2 * time.Hour)
	if e, _ := m.Get(bg, "K", later); e != nil {
		t.Fatal("test setup: the primary should be Gone by then")
	}
	_, en2 := langEntry(t, "en", "en2", later, time.Hour)
	save(t, m, "K", rEn, en2)
	if en2.Generation == fr1.Generation {
		t.Fatal("the generation must change when the primary entry is Gone")
	}
	equal(t, "", lookupBody(t, m, "K", "fr", later), "fr1 is alive but from the old generation")
}

// An entry without a generation (hand-built, decoded from an older encoding) under the
// primary key: the next Save starts a generation, so that the generation-less variants
// stored with it are retired.
func TestPrimaryWithoutGeneration(t *testing.T) {
	m := newMem(t, 1<<20)
	rEn, en1 := langEntry(t, "en", "en1", t0, time.Hour)
	rFr, fr1 := langEntry(t, "fr", "fr1", t0, time.Hour)
	frKey := VariantKey("K", []string{"Accept-Language"}, rFr.Header)
	for key, e := range map[string]*Entry{"K": en1, frKey: fr1} {
		if !m.Set(bg, key, e) { // as an older version stored them: Generation 0
			t.Fatal("Set failed")
		}
	}
	equal(t, "fr1", lookupBody(t, m, "K", "fr", t0), "generation-less entries still work together")
	_, en2 := langEntry(t, "en", "en2", t0, time.Hour)
	save(t, m, "K", rEn, en2)
	if en2.Generation == 0 {
		t.Fatal("Save must not inherit the absence of a generation")
	}
	equal(t, "", lookupBody(t, m, "K", "fr", t0))
}

func TestSaveDoesNotCountItsReadInStats(t *testing.T) {
	m := newMem(t, 1<<20)
	rEn, en := langEntry(t, "en", "en1", t0, time.Hour)
	rFr, fr := langEntry(t, "fr", "fr1", t0, time.Hour)
	save(t, m, "K", rEn, en) // its read misses
	save(t, m, "K", rFr, fr) // its read hits
	s := m.Stats()
	equal(t, uint64(0), s.Hits, "hits")
	equal(t, uint64(0), s.Misses, "misses")
}

// mapStore is a Store other than Memory: Save reads the primary entry with Get.
type mapStore struct {
	mu   sync.Mutex
	m    map[string]*Entry
	gets int
}

func (s *mapStore) Get(_ context.Context, key string, now time.Time) (*Entry, State) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gets++
	e := s.m[key]
	if st := e.State(now); st != Gone {
		return e, st
	}
	return nil, Gone
}

func (s *mapStore) Set(_ context.Context, key string, e *Entry) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[key] = e
	return true
}

func (s *mapStore) Delete(_ context.Context, key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, key)
}

func (s *mapStore) Close() error { return nil }

func TestSaveGenerationsOverAnyStore(t *testing.T) {
	s := &mapStore{m: map[string]*Entry{}}
	rEn, en1 := langEntry(t, "en", "en1", t0, time.Hour)
	rFr, fr1 := langEntry(t, "fr", "fr1", t0, time.Hour)
	save(t, s, "K", rEn, en1)
	save(t, s, "K", rFr, fr1)
	equal(t, 2, s.gets, "one read of the primary entry per Save")
	equal(t, en1.Generation, fr1.Generation)
	s.Delete(bg, "K")
	_, en2 := langEntry(t, "en", "en2", t0, time.Hour)
	save(t, s, "K", rEn, en2)
	equal(t, "", lookupBody(t, s, "K", "fr", t0))
	equal(t, "en2", lookupBody(t, s, "K", "en", t0))
}

// A variant stored under the right key whose generation is not the primary's (a write
// that lost a race with a deletion and a new generation) is a miss, whatever it matches.
func TestLookupComparesGenerations(t *testing.T) {
	s := &mapStore{m: map[string]*Entry{}}
	_, en := langEntry(t, "en", "en1", t0, time.Hour)
	rFr, fr := langEntry(t, "fr", "fr1", t0, time.Hour)
	en.Generation, fr.Generation = 7, 8
	s.m["K"] = en
	s.m[VariantKey("K", []string{"Accept-Language"}, rFr.Header)] = fr
	equal(t, "", lookupBody(t, s, "K", "fr", t0))
	fr.Generation = 7
	equal(t, "fr1", lookupBody(t, s, "K", "fr", t0))
}

// BenchmarkSaveVariant is a Save of a varying entry over an alive primary entry: the read
// of the primary's generation, then the two Sets (replacing in place).
func BenchmarkSaveVariant(b *testing.B) {
	m := newMem(b, 64<<20)
	r, e := langEntry(b, "fr", "fr1", t0, time.Hour)
	save(b, m, "K", r, e)
	b.ReportAllocs()
	for b.Loop() {
		_, e := langEntry(b, "fr", "fr1", t0, time.Hour)
		if !Save(bg, m, "K", r, e) {
			b.Fatal("Save failed")
		}
	}
}

// BenchmarkLookupVariant is a Lookup answered from the variant key: the primary entry holds
// another variant.
func BenchmarkLookupVariant(b *testing.B) {
	m := newMem(b, 64<<20)
	rFr, fr := langEntry(b, "fr", "fr1", t0, time.Hour)
	rEn, en := langEntry(b, "en", "en1", t0, time.Hour)
	save(b, m, "K", rFr, fr)
	save(b, m, "K", rEn, en)
	b.ReportAllocs()
	for b.Loop() {
		if e, _ := Lookup(bg, m, "K", rFr, t0); e != fr {
			b.Fatal("want the fr variant")
		}
	}
}
