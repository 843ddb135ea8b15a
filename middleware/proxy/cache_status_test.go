package proxy

import (
	"io"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
)

// The same through the proxy, with an upstream field of two members on two lines.
func TestProxyCacheStatusKeepsTheUpstreamMembers(t *testing.T) {
	up := newPxUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Cache-Status", "edge; hit")
		w.Header().Add("Cache-Status", "origin-cache; fwd=miss")
		w.Header().Set("Cache-Control", "max-age=5")
		_, _ = io.WriteString(w, "body")
	})
	h := newPxHarness(t, up.srv.URL, nil)
	r := h.get("/p")
	assert.Equal(t, "edge; hit, origin-cache; fwd=miss, failsoft; fwd=uri-miss; fwd-status=200; stored", r.cs())
	r = h.get("/p")
	assert.Equal(t, "edge; hit, origin-cache; fwd=miss, failsoft; hit; ttl=5", r.cs())
}
