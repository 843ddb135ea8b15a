package httpfallback

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/failsoft/failsoft/cache"
)

// After Close the source answers directly; our member still goes after the answer's own
// (RFC 9211), and after one already on the writer, on every way out of the bypass.
func TestBypassAppendsCacheStatus(t *testing.T) {
	eng, err := New(Config{Name: uniqueName(t), Now: newEngClock().Now})
	require.NoError(t, err)
	h := eng.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/own":
			w.Header().Set("Cache-Status", "upstream-cache; hit")
			_, _ = io.WriteString(w, "own")
		case "/own-status":
			w.Header().Set("Cache-Status", "upstream-cache; hit")
			w.WriteHeader(http.StatusAccepted)
		case "/flush":
			w.Header().Set("Cache-Status", "upstream-cache; hit")
			w.(http.Flusher).Flush()
			_, _ = io.WriteString(w, "flushed")
		case "/panic":
			panic("boom")
		}
		// "/silent" writes nothing
	}))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Outer") != "" {
			w.Header().Set("Cache-Status", "outer; fwd=miss") // a member already on the writer
		}
		h.ServeHTTP(w, r)
	}))
	defer srv.Close()
	require.NoError(t, eng.Close())

	get := func(path string, hdr ...string) engResp {
		return doReq(t, context.Background(), srv.Client(), http.MethodGet, srv.URL+path, hdr...)
	}
	r := get("/own")
	assert.Equal(t, "own", r.body)
	assert.Equal(t, []string{"upstream-cache; hit, failsoft; fwd=bypass"}, r.header.Values("Cache-Status"))
	r = get("/own-status")
	assert.Equal(t, http.StatusAccepted, r.status)
	assert.Equal(t, "upstream-cache; hit, failsoft; fwd=bypass", r.cs())
	r = get("/flush")
	assert.Equal(t, "flushed", r.body)
	assert.Equal(t, "upstream-cache; hit, failsoft; fwd=bypass", r.cs())
	assert.Equal(t, "outer; fwd=miss, failsoft; fwd=bypass", get("/silent", "X-Outer", "1").cs())
	assert.Equal(t, "failsoft; fwd=bypass", get("/silent").cs())
	r = get("/panic")
	assert.Equal(t, http.StatusInternalServerError, r.status)
	assert.Equal(t, []string{"failsoft; fwd=bypass; detail=panic"}, r.header.Values("Cache-Status"), "one member of ours")
}

// An answer over the body limit is streamed; its own members come first there too.
func TestTooLargeStreamAppendsCacheStatus(t *testing.T) {
	hs := newEngHarness(t, Config{Policy: cache.Policy{MaxBodyBytes: 8}}, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Status", "upstream-cache; hit")
		w.Header().Set("Cache-Control", "max-age=60")
		_, _ = io.WriteString(w, strings.Repeat("z", 100))
	})
	r := hs.get("/big")
	assert.Equal(t, strings.Repeat("z", 100), r.body)
	assert.Equal(t, []string{"upstream-cache; hit, failsoft; fwd=uri-miss; fwd-status=200; detail=too-large"}, r.header.Values("Cache-Status"))
	assert.EqualValues(t, 0, hs.eng.Stats().Stored)
}
