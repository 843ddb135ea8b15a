package proxy

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
	h := newPxHarness(t, up.srv.URL, func(c *Config) { c.Client.Retry.MaxAttempts = 1 })
	r := h.get("/x")
	assert.Equal(t, http.StatusBadGateway, r.status)
	assert.Equal(t, "failsoft; fwd=uri-miss; detail=invalid-response", r.cs())
	assert.Contains(t, r.body, `"reason":"invalid-response"`)
}

// Only a GET (or HEAD) asking for an event stream is refused: a POST that lists
// text/event-stream among the types it accepts, as every MCP client's POST does, is
// forwarded and answered. It was refused with 501 like an EventSource GET.
func TestProxyForwardsPostAcceptingEventStream(t *testing.T) {
	up := newPxUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"echo":`+string(b)+`}`)
	})
	h := newPxHarness(t, up.srv.URL, nil)
	req, err := http.NewRequest(http.MethodPost, h.srv.URL+"/mcp", strings.NewReader(`1`))
	require.NoError(t, err)
	req.Header.Set("Accept", "application/json, text/event-stream")
	resp, err := h.srv.Client().Do(req)
	require.NoError(t, err)
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, `{"echo":1}`, string(b))
	assert.EqualValues(t, 1, up.hits.Load())

	r := h.get("/mcp", "Accept", "application/json, text/event-stream")
	assert.Equal(t, http.StatusNotImplemented, r.status, "a GET asking for a stream is still refused")
	assert.EqualValues(t, 1, up.hits.Load())
}
