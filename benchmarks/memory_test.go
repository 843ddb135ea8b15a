package benchmarks

import (
	"net/http"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/dgraph-io/ristretto/v2"
	"github.com/failsoft/failsoft/cache"
	"github.com/failsoft/failsoft/middleware/httpfallback"
)

// heapEntries is how many entries BenchmarkHeapPerEntry1KiB stores.
const heapEntries = 100_000

// BenchmarkHeapPerEntry1KiB stores heapEntries distinct ~1 KiB responses through the
// net/http middleware (a store large enough to admit them all) and reports, per stored
// entry, the bytes of live heap they added (runtime.MemStats.HeapAlloc after a GC, against
// the same reading before the fill) beside the store's own accounting (cache.Entry.Cost,
// which MaxBytes bounds) and the bytes of body and header the response carried. Time per op
// is the fill, not a request: read the B/entry metrics.
//
//	go test -run '^$' -bench HeapPerEntry -benchtime 1x .
func BenchmarkHeapPerEntry1KiB(b *testing.B) {
	src := &source{cc: "max-age=3600", body: microBody}
	var heap, accounted, carried float64
	for b.Loop() {
		eng, err := httpfallback.New(httpfallback.Config{Name: "heap-per-entry#" + strconv.FormatInt(time.Now().UnixNano(), 36), MaxBytes: 1 << 30})
		if err != nil {
			b.Fatal(err)
		}
		h := eng.Handler(src)
		w := &discard{h: make(http.Header)}
		req, _ := http.NewRequest(http.MethodGet, microURL, nil)
		w.reset()
		h.ServeHTTP(w, req) // first use: the route's command exists before the baseline
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for i := range heapEntries {
			req.URL.RawQuery = "n=" + strconv.Itoa(i)
			w.reset()
			h.ServeHTTP(w, req)
			if i == 0 {
				carried = float64(len(microBody))
				for k, vs := range w.h {
					for _, v := range vs {
						if k != "Cache-Status" && k != "Age" { // written per answer, not stored
							carried += float64(len(k) + len(v))
						}
					}
				}
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		st := eng.Stats().Store
		if st.Stored < heapEntries || st.Evictions != 0 {
			b.Fatalf("stored %d of %d entries, %d evicted: the store must hold them all", st.Stored, heapEntries, st.Evictions)
		}
		n := float64(st.Stored)
		heap = float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / n
		accounted = float64(st.Bytes) / n
		runtime.KeepAlive(h)
		if err := eng.Close(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(heap, "heap-B/entry")
	b.ReportMetric(accounted, "accounted-B/entry")
	b.ReportMetric(carried, "body+header-B/entry")
	b.ReportMetric(heap/carried, "heap/carried")
}

// BenchmarkHeapPerEntryRistrettoFloor is the floor under BenchmarkHeapPerEntry1KiB: the
// same heapEntries keys (cache.Key of the same requests) stored in a bare ristretto cache
// configured as the Memory store configures its own (cost in bytes, no TTL), each with
// only a copy of the body behind a pointer. What any ristretto-backed store of these
// responses must hold per entry: ristretto's own bookkeeping, the key and the body in its
// size class. The heap/carried of the engine minus this one is failsoft's own per-entry
// cost (the Entry, its header, the store's slot).
//
//	go test -run '^$' -bench HeapPerEntry -benchtime 1x .
func BenchmarkHeapPerEntryRistrettoFloor(b *testing.B) {
	type value struct{ body []byte }
	var heap, carried float64
	for b.Loop() {
		rc, err := ristretto.NewCache(&ristretto.Config[string, *value]{
			NumCounters: (1 << 30) / 1024 * 10, MaxCost: 1 << 30, BufferItems: 64,
			Metrics: true, IgnoreInternalCost: true,
		})
		if err != nil {
			b.Fatal(err)
		}
		req, _ := http.NewRequest(http.MethodGet, microURL, nil)
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for i := range heapEntries {
			req.URL.RawQuery = "n=" + strconv.Itoa(i)
			v := &value{body: append([]byte(nil), microBody...)}
			for !rc.Set(cache.Key(req, cache.KeyOptions{}), v, int64(len(v.body))) {
				rc.Wait() // a dropped write: retried, as the Memory store does
			}
		}
		rc.Wait()
		runtime.GC()
		runtime.ReadMemStats(&after)
		if n := rc.Metrics.KeysAdded(); n != heapEntries {
			b.Fatalf("stored %d of %d entries", n, heapEntries)
		}
		heap = float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / heapEntries
		// What the source's answer carries, as BenchmarkHeapPerEntry1KiB counts it.
		carried = float64(len(microBody) + len("Content-Type"+"application/json"+"Cache-Control"+"max-age=3600"+"Content-Length") + len(strconv.Itoa(len(microBody))))
		rc.Close()
	}
	b.ReportMetric(heap, "heap-B/entry")
	b.ReportMetric(carried, "body+header-B/entry")
	b.ReportMetric(heap/carried, "heap/carried")
}
