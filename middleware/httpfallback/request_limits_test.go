package httpfallback

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// A request target over MaxTargetBytes (default 8 KiB) is answered 414 before it is keyed,
// fetched or stored: every distinct target was a key held in the store, up to the server's
// ~1 MiB request line.
func TestEngineRefusesLongTarget(t *testing.T) {
	hs := newEngHarness(t, Config{}, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		_, _ = io.WriteString(w, "ok")
	})
	long := "/x?pad=" + strings.Repeat("a", DefaultMaxTargetBytes)
	r := hs.get(long)
	assert.Equal(t, http.StatusRequestURITooLong, r.status)
	assert.Equal(t, "application/problem+json", r.header.Get("Content-Type"))
	assert.EqualValues(t, 0, hs.calls.Load())
	assert.Zero(t, hs.eng.Stats().Store.Stored)

	fits := "/x?pad=" + strings.Repeat("a", DefaultMaxTargetBytes-len("/x?pad="))
	assert.Equal(t, http.StatusOK, hs.get(fits).status)

	// A raised limit lets it through (and the store charges its key).
	hs2 := newEngHarness(t, Config{MaxTargetBytes: -1}, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "ok")
	})
	assert.Equal(t, http.StatusOK, hs2.get(long).status)
}

// A header section over MaxHeaderBytes (default 32 KiB) is answered 431.
func TestEngineRefusesLargeHeader(t *testing.T) {
	hs := newEngHarness(t, Config{MaxHeaderBytes: 1 << 10}, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "ok")
	})
	r := hs.get("/x", "X-Pad", strings.Repeat("a", 1<<10))
	assert.Equal(t, http.StatusRequestHeaderFieldsTooLarge, r.status)
	assert.EqualValues(t, 0, hs.calls.Load())
	assert.Equal(t, http.StatusOK, hs.get("/x", "X-Pad", "short").status)
}
