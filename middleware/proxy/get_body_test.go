package proxy

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

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
