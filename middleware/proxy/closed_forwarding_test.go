package proxy

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// After Close the proxy still forwards every request, without the cache: a GET whose
// answer was stored reaches the upstream again and is not served from the store, and
// neither it nor a POST is stored or refused (Cache-Status "failsoft; fwd=bypass").
// Requests after Close run on the client's own command, whose Runner Close has closed.
func TestProxyForwardsWithoutTheCacheAfterClose(t *testing.T) {
	up := newPxUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=3600")
		b, _ := io.ReadAll(r.Body)
		_, _ = io.WriteString(w, r.Method+" "+r.URL.Path+" "+string(b))
	})
	h := newPxHarness(t, up.srv.URL, nil)
	require.Contains(t, h.get("/items/1").cs(), "stored")
	require.Contains(t, h.get("/items/1").cs(), "hit")
	require.EqualValues(t, 1, up.hits.Load())

	require.NoError(t, h.p.Close())

	for i := range 3 {
		r := h.get("/items/1")
		assert.Equal(t, http.StatusOK, r.status)
		assert.Equal(t, "GET /items/1 ", r.body)
		assert.Equal(t, "failsoft; fwd=bypass", r.cs())
		assert.EqualValues(t, 2+i, up.hits.Load(), "each GET after Close reaches the upstream")
	}
	res, err := h.srv.Client().Post(h.srv.URL+"/items/2", "text/plain", strings.NewReader("x"))
	require.NoError(t, err)
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	require.NoError(t, res.Body.Close())
	assert.Equal(t, http.StatusOK, res.StatusCode)
	assert.Equal(t, "POST /items/2 x", string(b))
	assert.Equal(t, "failsoft; fwd=bypass", res.Header.Get("Cache-Status"))

	require.NoError(t, h.p.Close(), "Close again")
}
