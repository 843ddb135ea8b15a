package benchmarks

import (
	"net/http"
	"runtime"
	"strconv"
	"testing"
	"time"

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
