package proxy

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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

// Through the proxy, a HEAD of a large resource (fetched as a GET, so that it could be
// stored) stops reading the upstream's body once the headers are out: the upstream's
// writes fail long before the whole body, and no failure is counted.
func TestProxyHeadOfLargeAnswerStopsTheDownload(t *testing.T) {
	const total = 256 << 20
	src := newBigWriter(total)
	up := newPxUpstream(t, src.ServeHTTP)
	h := newPxHarness(t, up.srv.URL, func(c *Config) { c.Engine.Policy.MaxBodyBytes = 4 << 10 })
	r := doReq(t, context.Background(), h.srv.Client(), http.MethodHead, h.srv.URL+"/big")
	require.Equal(t, http.StatusOK, r.status)
	assert.Empty(t, r.body)
	assert.Contains(t, r.cs(), "detail=too-large")
	res := src.result(t)
	require.Error(t, res.err, "the upstream's connection was dropped")
	assert.Less(t, res.written, total/4, "the body was not downloaded to be dropped")
	assert.Zero(t, h.p.Stats().Errors)
}
