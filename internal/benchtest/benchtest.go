package benchtest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Path is the request target the loops send ("/items/42?b=2&a=1").
const Path = "/items/42?b=2&a=1"

// Body is what BareHandler writes and the loops expect.
var Body = []byte(strings.Repeat(`{"id":42,"name":"failsoft"}`, 40))

// Writer is a reusable ResponseWriter so that the benchmarks measure the handlers, not a
// recorder's allocations.
type Writer struct {
	H      http.Header
	Status int
	N      int
}

// NewWriter returns an empty Writer.
func NewWriter() *Writer { return &Writer{H: make(http.Header)} }

// Header returns the header map.
func (w *Writer) Header() http.Header { return w.H }

// WriteHeader records the first status.
func (w *Writer) WriteHeader(code int) {
	if w.Status == 0 {
		w.Status = code
	}
}

// Write counts the bytes.
func (w *Writer) Write(p []byte) (int, error) { w.N += len(p); return len(p), nil }

// Reset empties the Writer for the next request.
func (w *Writer) Reset() { clear(w.H); w.Status, w.N = 0, 0 }

// BareHandler writes what a cached entry of it holds: the same headers and bytes.
func BareHandler() http.Handler {
	cl := strconv.Itoa(len(Body))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Cache-Control", "max-age=3600")
		h.Set("Content-Length", cl)
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(Body)
	})
}

// ReportCPU reports cpu-ns/op, the process's CPU time per op since cpu0 (a ProcessCPU
// reading taken before the loop), where the platform tells it. On a machine that other
// processes keep busy it varies much less than wall-clock time.
func ReportCPU(b *testing.B, cpu0 time.Duration) {
	if cpu := processCPU() - cpu0; cpu > 0 && b.N > 0 {
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}

// ReportFaults reports faults/op, the process's minor page faults per op since f0 (a
// PageFaults reading taken before the loop), where the platform counts them. The first
// touch of each page the heap grows into is one: a benchmark whose loop keeps what it
// makes (a cache filling up) takes them where one that makes only garbage does not, and
// on a virtual machine each can cost microseconds (see benchmarks/README.md).
func ReportFaults(b *testing.B, f0 int64) {
	if f := PageFaults(); f0 >= 0 && f >= f0 && b.N > 0 {
		b.ReportMetric(float64(f-f0)/float64(b.N), "faults/op")
	}
}

// PageFaults is the process's minor page faults so far; -1 where the platform does not
// count them.
func PageFaults() int64 { return pageFaults() }

// ProcessCPU is the CPU time (user and system) the process has used so far; 0 where the
// platform does not tell.
func ProcessCPU() time.Duration { return processCPU() }

// HitBytesHandler is BareHandler also writing the two fields a fresh hit adds, Cache-Status
// and Age, with values as long as a hit's ("failsoft; hit; ttl=3600", "0"): a bare server
// sending the bytes a hit of BareHandler's answer sends, for comparisons over a
// connection, where every byte is written, framed and read.
func HitBytesHandler() http.Handler {
	bare := BareHandler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h["Cache-Status"] = []string{"failsoft; hit; ttl=3600"}
		h["Age"] = []string{"0"}
		bare.ServeHTTP(w, r)
	})
}

// NewRequest is a GET of Path on http://bench.test.
func NewRequest() *http.Request {
	req, _ := http.NewRequest(http.MethodGet, "http://bench.test"+Path, nil)
	return req
}

// Serial serves NewRequest() serially.
func Serial(b *testing.B, h http.Handler) { SerialReq(b, h, NewRequest()) }

// SerialReq serves req serially. Besides ns/op it reports cpu-ns/op, the process's CPU
// time per request (where the platform tells it), which other processes competing for the
// CPUs disturb much less than wall-clock time.
func SerialReq(b *testing.B, h http.Handler, req *http.Request) {
	w := NewWriter()
	b.ReportAllocs()
	b.SetBytes(int64(len(Body)))
	cpu0 := processCPU()
	for b.Loop() {
		w.Reset()
		h.ServeHTTP(w, req)
	}
	ReportCPU(b, cpu0)
	if w.N != len(Body) {
		b.Fatalf("wrote %d bytes", w.N)
	}
}

// Parallel serves NewRequest() from parallel goroutines.
func Parallel(b *testing.B, h http.Handler) {
	b.ReportAllocs()
	b.SetBytes(int64(len(Body)))
	b.RunParallel(func(pb *testing.PB) {
		w := NewWriter()
		req := NewRequest()
		for pb.Next() {
			w.Reset()
			h.ServeHTTP(w, req)
		}
	})
}

// Loopback serves h on a loopback server and GETs path through a client in parallel (up
// to 64 idle keep-alive connections, so that the goroutines do not redial). Its cpu-ns/op
// is the CPU of both ends per request.
func Loopback(b *testing.B, h http.Handler, path string) {
	srv := httptest.NewServer(h)
	defer srv.Close()
	c := srv.Client()
	c.Transport.(*http.Transport).MaxIdleConnsPerHost = 64
	url := srv.URL + path
	b.ReportAllocs()
	b.SetBytes(int64(len(Body)))
	b.ResetTimer()
	defer ReportCPU(b, processCPU()) // server and client: both are this process
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			res, err := c.Get(url)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, res.Body)
			_ = res.Body.Close()
		}
	})
	b.StopTimer()
	c.CloseIdleConnections()
}
