// Package bigbody is a test source with a large answer: it writes its body in 32 KiB
// chunks until the body is complete or a write fails, and reports how far it got, so that
// tests can check that a source nobody reads from is stopped early.
package bigbody

import (
	"net/http"
	"testing"
	"time"
)

// Writer is an http.Handler answering Total bytes (Cache-Control: max-age=60). Each call
// reports its Result once; a Writer is meant for one request.
type Writer struct {
	total int
	done  chan Result
}

// Result is what one call of a Writer wrote and the error that stopped it (nil when the
// whole body was written).
type Result struct {
	Written int
	Err     error
}

// New returns a Writer of total bytes.
func New(total int) *Writer {
	return &Writer{total: total, done: make(chan Result, 1)}
}

// ServeHTTP writes the body, stopping at the first failed write.
func (b *Writer) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Cache-Control", "max-age=60")
	chunk := make([]byte, 32<<10)
	var res Result
	for res.Written < b.total && res.Err == nil {
		var n int
		n, res.Err = w.Write(chunk)
		res.Written += n
	}
	b.done <- res
}

// Result waits for the call to end (the test fails after 30 s) and returns what it wrote.
func (b *Writer) Result(t testing.TB) Result {
	t.Helper()
	select {
	case r := <-b.done:
		return r
	case <-time.After(30 * time.Second):
		t.Fatal("bigbody: the source never finished")
		return Result{}
	}
}
