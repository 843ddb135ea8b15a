package httpfallback

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A GET with a body (a search API's query) passes through: the key cannot see the body,
// so two different queries must not share an answer, and neither is stored or served from
// the store; a plain GET of the same URL is not answered with a query's result.
func TestGetWithBodyPassesThrough(t *testing.T) {
	hs := newEngHarness(t, Config{}, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("Cache-Control", "max-age=60")
		_, _ = io.WriteString(w, "answer to "+string(b))
	})
	get := func(body string) (int, string, string) {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, hs.srv.URL+"/_search", strings.NewReader(body))
		require.NoError(t, err)
		resp, err := hs.srv.Client().Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(b), resp.Header.Get("Cache-Status")
	}
	for _, q := range []string{"q=1", "q=2", "q=1"} {
		status, body, cs := get(q)
		assert.Equal(t, http.StatusOK, status)
		assert.Equal(t, "answer to "+q, body)
		assert.Equal(t, "failsoft; fwd=bypass; fwd-status=200", cs)
	}
	assert.EqualValues(t, 3, hs.calls.Load())
	assert.Zero(t, hs.eng.Stats().Stored)

	// The plain GET is a miss, fetched and stored on its own; a GET with a body after it
	// still reaches the source (not answered from the stored plain GET).
	r := hs.get("/_search")
	assert.Equal(t, "answer to ", r.body)
	assert.Contains(t, r.cs(), "stored")
	_, body, _ := get("q=3")
	assert.Equal(t, "answer to q=3", body)
	assert.EqualValues(t, 5, hs.calls.Load())
}

// Through the proxy too: the body reaches the upstream and each query gets its own answer.
func TestProxyGetWithBodyPassesThrough(t *testing.T) {
	up := newPxUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("Cache-Control", "max-age=60")
		_, _ = io.WriteString(w, "answer to "+string(b))
	})
	h := newPxHarness(t, up.srv.URL, nil)
	for _, q := range []string{"q=1", "q=2"} {
		req, err := http.NewRequest(http.MethodGet, h.srv.URL+"/_search", strings.NewReader(q))
		require.NoError(t, err)
		resp, err := h.srv.Client().Do(req)
		require.NoError(t, err)
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
		assert.Equal(t, "answer to "+q, string(b))
		assert.Equal(t, "failsoft; fwd=bypass; fwd-status=200", resp.Header.Get("Cache-Status"))
	}
	assert.EqualValues(t, 2, up.hits.Load())
}
