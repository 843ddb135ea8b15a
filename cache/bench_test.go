package cache

import (
	"runtime"
	"strconv"
	"testing"
)

func benchGetHit(b *testing.B, size int) {
	m := newMem(b, 64<<20)
	e := entryAt(b, make([]byte, size))
	if !m.Set(bg, "G|http|example.com|/api/items?page=1", e) {
		b.Fatal("Set failed")
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if got, _ := m.Get(bg, "G|http|example.com|/api/items?page=1", t0); got != e {
			b.Fatal("miss")
		}
	}
}

func BenchmarkGetHit1KiB(b *testing.B)  { benchGetHit(b, 1<<10) }
func BenchmarkGetHit64KiB(b *testing.B) { benchGetHit(b, 64<<10) }

func BenchmarkGetHitParallel(b *testing.B) {
	m := newMem(b, 64<<20)
	const n = 1024
	keys := make([]string, n)
	for i := range keys {
		keys[i] = "G|http|example.com|/api/items?page=" + strconv.Itoa(i)
		if !m.Set(bg, keys[i], entryAt(b, make([]byte, 1<<10))) {
			b.Fatal("Set failed")
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if got, _ := m.Get(bg, keys[i%n], t0); got == nil {
				b.Error("miss")
				return
			}
			i++
		}
	})
}

func BenchmarkGetMiss(b *testing.B) {
	m := newMem(b, 64<<20)
	b.ReportAllocs()
	for b.Loop() {
		m.Get(bg, "G|http|example.com|/nothing", t0)
	}
}

// BenchmarkSetNew stores a new key each time (with room: Set returns before ristretto
// applies the write, and every 1,024th settles them).
func BenchmarkSetNew(b *testing.B) {
	m := newMem(b, 1<<30)
	e := entryAt(b, make([]byte, 1<<10))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		m.Set(bg, "k"+strconv.Itoa(i), e)
		i++
	}
}

// BenchmarkSetReplace replaces the entries of 1,000 keys in turn.
func BenchmarkSetReplace(b *testing.B) {
	m := newMem(b, 64<<20)
	e := entryAt(b, make([]byte, 1<<10))
	keys := make([]string, 1000)
	for i := range keys {
		keys[i] = "k" + strconv.Itoa(i)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		m.Set(bg, keys[i%len(keys)], e)
		i++
	}
}

// BenchmarkFill200MiBInto32MiB writes 200 MiB of distinct 64 KiB entries (each built by
// NewEntry, so each owns its copy of the body) into a 32 MiB store and reports the peak
// heap in use, sampled after every 64 writes.
func BenchmarkFill200MiBInto32MiB(b *testing.B) {
	const maxBytes, bodySize, total = 32 << 20, 64 << 10, 200 << 20
	src := make([]byte, bodySize)
	var peak uint64
	var ms runtime.MemStats
	for b.Loop() {
		m, err := New(Config{MaxBytes: maxBytes, Now: fixedClock(t0)})
		if err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		runtime.ReadMemStats(&ms)
		base := ms.HeapInuse
		for n := 0; n*bodySize < total; n++ {
			m.Set(bg, "k"+strconv.Itoa(n), entryAt(b, src))
			if n%64 == 63 {
				runtime.ReadMemStats(&ms)
				peak = max(peak, ms.HeapInuse-min(base, ms.HeapInuse))
			}
		}
		if s := m.Stats(); s.Bytes > maxBytes {
			b.Fatalf("accounted %d > %d", s.Bytes, maxBytes)
		}
		_ = m.Close()
	}
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
}

func BenchmarkKey(b *testing.B) {
	r := getReq("https://Example.com:443/api/v1/items/%7Eabc?z=1&a=2&m=%41", "Authorization", "Bearer x")
	b.Run("plain", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			Key(r, KeyOptions{})
		}
	})
	b.Run("credentials", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			Key(r, KeyOptions{Credentials: true})
		}
	})
	// The engine's default: DefaultKeyedHeaders prepared once, a lower-case host, a
	// canonical query; none carried, then X-Forwarded-Host and -Proto carried.
	keyed := KeyOptions{Headers: DefaultKeyedHeaders()}.Func()
	canonical := getReq("http://example.com/items/42?a=1&b=2", "Accept", "application/json", "User-Agent", "bench")
	b.Run("default/canonical", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			keyed(canonical)
		}
	})
	// The engine's hit path: the default key appended to a reused buffer (AppendFunc), for
	// a request without header fields.
	appendKey := KeyOptions{Headers: DefaultKeyedHeaders()}.AppendFunc()
	bare := getReq("http://bench.test/items/42")
	b.Run("default/append", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, 0, keyBufLen)
		for b.Loop() {
			buf = appendKey(buf[:0], bare)
		}
		if string(buf) != "G|http|bench.test|/items/42" {
			b.Fatalf("key %q", buf)
		}
	})
	proxied := getReq("http://example.com/items/42?b=2&a=1", "X-Forwarded-Host", "api.example.com", "X-Forwarded-Proto", "https")
	b.Run("default/proxied", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			keyed(proxied)
		}
	})
}

func BenchmarkParseCacheControl(b *testing.B) {
	v := []string{`public, max-age=60, s-maxage=120, stale-while-revalidate=30, stale-if-error=600, no-cache="Set-Cookie"`}
	b.ReportAllocs()
	for b.Loop() {
		ParseCacheControl(v)
	}
}

func BenchmarkNewEntry1KiB(b *testing.B) {
	r := getReq("http://a/")
	h := hdr("Cache-Control", "max-age=60", "Content-Type", "application/json", "Date", httpDate(t0), "ETag", `"x"`)
	body := make([]byte, 1<<10)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := (Policy{}).NewEntry(r, 200, h, body, t0, t0); err != nil {
			b.Fatal(err)
		}
	}
}
