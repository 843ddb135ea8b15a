package httpfallback

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/failsoft/failsoft/cache"
)

// bigWriter answers total bytes in 32 KiB writes, stopping at the first failed write, and
// reports what it wrote and the error that stopped it.
type bigWriter struct {
	total int
	done  chan bigResult
}

type bigResult struct {
	written int
	err     error
}

func newBigWriter(total int) *bigWriter {
	return &bigWriter{total: total, done: make(chan bigResult, 1)}
}

func (b *bigWriter) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Cache-Control", "max-age=60")
	chunk := make([]byte, 32<<10)
	var res bigResult
	for res.written < b.total && res.err == nil {
		var n int
		n, res.err = w.Write(chunk)
		res.written += n
	}
	b.done <- res
}

func (b *bigWriter) result(t *testing.T) bigResult {
	t.Helper()
	select {
	case r := <-b.done:
		return r
	case <-time.After(30 * time.Second):
		t.Fatal("the source never finished")
		return bigResult{}
	}
}

// A HEAD whose answer is too large to store gets its headers, and the wrapped handler's
// writes then fail (as net/http's do for HEAD), so it stops instead of producing a body
// nobody reads. Nothing is stored and the breaker is not told of a failure.
func TestHandlerHeadOfLargeAnswerStopsTheSource(t *testing.T) {
	src := newBigWriter(64 << 20)
	hs := newEngHarness(t, Config{Policy: cache.Policy{MaxBodyBytes: 4 << 10}}, src.ServeHTTP)
	r := hs.do(http.MethodHead, "/big")
	require.Equal(t, http.StatusOK, r.status)
	assert.Empty(t, r.body)
	assert.Contains(t, r.cs(), "detail=too-large")
	res := src.result(t)
	assert.ErrorIs(t, res.err, http.ErrBodyNotAllowed)
	assert.Less(t, res.written, 64<<10, "the handler stopped at the first write past the buffer")
	assert.Zero(t, hs.eng.Stats().Errors)
	assert.Zero(t, hs.eng.Stats().Stored)
}
