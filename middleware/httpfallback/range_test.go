package httpfallback

import (
	"bytes"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The engine never forwards the client's conditionals, If-Range included; a Range it
// forwarded without its If-Range became unconditional: a client resuming a download of a
// representation that has changed since (If-Range: its old validator) got 206 with bytes
// of the new one, to splice onto the old ones, where RFC 9110 13.1.5 gives it the whole
// new representation with 200. Without If-Range, Range still reaches the handler.
func TestHandlerRangeDroppedWithItsIfRange(t *testing.T) {
	const body = "0123456789"
	modified := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	hs := newEngHarness(t, Config{}, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Etag", `"v2"`)
		http.ServeContent(w, r, "f.txt", modified, bytes.NewReader([]byte(body)))
	})

	res := hs.get("/f", "Range", "bytes=0-3", "If-Range", `"v1"`)
	require.Equal(t, http.StatusOK, res.status, "the representation changed: the whole of it")
	require.Equal(t, body, res.body)

	res = hs.get("/g", "Range", "bytes=0-3")
	require.Equal(t, http.StatusPartialContent, res.status)
	require.Equal(t, "0123", res.body)
}
