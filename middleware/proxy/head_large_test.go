package proxy

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/failsoft/failsoft/internal/bigbody"
)

// Through the proxy, a HEAD of a large resource (fetched as a GET, so that it could be
// stored) stops reading the upstream's body once the headers are out: the upstream's
// writes fail long before the whole body, and no failure is counted.
func TestProxyHeadOfLargeAnswerStopsTheDownload(t *testing.T) {
	const total = 256 << 20
	src := bigbody.New(total)
	up := newPxUpstream(t, src.ServeHTTP)
	h := newPxHarness(t, up.srv.URL, func(c *Config) { c.Engine.Policy.MaxBodyBytes = 4 << 10 })
	r := doReq(t, context.Background(), h.srv.Client(), http.MethodHead, h.srv.URL+"/big")
	require.Equal(t, http.StatusOK, r.status)
	assert.Empty(t, r.body)
	assert.Contains(t, r.cs(), "detail=too-large")
	res := src.Result(t)
	require.Error(t, res.Err, "the upstream's connection was dropped")
	assert.Less(t, res.Written, total/4, "the body was not downloaded to be dropped")
	assert.Zero(t, h.p.Stats().Errors)
}
