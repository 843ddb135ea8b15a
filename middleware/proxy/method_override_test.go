package proxy

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
)

// A GET naming POST in a method-override field reaches a failing upstream once through the
// proxy, as a POST does: it was retried as a GET, 3 times, so an upstream honouring the
// field ran the POST three times.
func TestProxyGetNamingPostIsNotRetried(t *testing.T) {
	up := newPxUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	h := newPxHarness(t, up.srv.URL, nil)
	r := h.get("/x", "X-HTTP-Method-Override", "POST")
	assert.Equal(t, http.StatusServiceUnavailable, r.status)
	assert.EqualValues(t, 1, up.hits.Load(), "one attempt, as for a POST")
	assert.Contains(t, r.cs(), "fwd=method")

	r = h.get("/y")
	assert.EqualValues(t, 4, up.hits.Load(), "a plain GET is still retried (3 attempts)")
	assert.Equal(t, http.StatusServiceUnavailable, r.status)
}
