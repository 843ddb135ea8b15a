package httpfallback

import (
	"io"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
)

// A 429 (retried by the client, not a failure) whose body breaks off is a broken answer
// (invalid-response), never passed on: the client's read-ahead of a retried status used to
// swap the cut body for an empty one, and the proxy sent "Content-Length: 100" with no
// bytes, a response its client could not read.
func TestProxyCut429IsInvalidResponse(t *testing.T) {
	up := newPxUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = io.WriteString(w, "partial")
	})
	h := newPxHarness(t, up.srv.URL, func(c *ProxyConfig) { c.Client.Retry.MaxAttempts = 1 })
	r := h.get("/x")
	assert.Equal(t, http.StatusBadGateway, r.status)
	assert.Equal(t, "failsoft; fwd=uri-miss; detail=invalid-response", r.cs())
	assert.Contains(t, r.body, `"reason":"invalid-response"`)
}
