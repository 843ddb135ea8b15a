package cache

import (
	"net/http"
	"testing"
	"time"
)

// BenchmarkCopyHeader is what a hit does with a stored entry's header: the engine copies
// it onto the ResponseWriter's header (three fields, as the micro benchmarks' source
// answers, plus Cache-Status and Age), a fresh header each time as a new request brings.
func BenchmarkCopyHeader(b *testing.B) {
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "max-age=3600")
	h.Set("Content-Length", "1056")
	t0 := time.Unix(1_700_000_000, 0)
	e, err := Policy{}.NewEntry(&http.Request{Method: http.MethodGet, Header: http.Header{}}, 200, h, make([]byte, 1056), t0, t0)
	if err != nil {
		b.Fatal(err)
	}
	dst := make(http.Header, 8)
	b.ReportAllocs()
	for b.Loop() {
		clear(dst)
		own := e.CopyHeader(dst, 2)
		dst["Cache-Status"] = own[0:1:1]
		dst["Age"] = own[1:2:2]
	}
}
