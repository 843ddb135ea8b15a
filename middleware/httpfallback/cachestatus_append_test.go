package httpfallback

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/failsoft/failsoft/cache"
	"github.com/failsoft/failsoft/internal/fakeclock"
	"github.com/failsoft/failsoft/upstream"
)

// After Close the source answers directly; our member still goes after the answer's own
// (RFC 9211), and after one already on the writer, on every way out of the bypass.
func TestBypassAppendsCacheStatus(t *testing.T) {
	eng, err := New(Config{Common: upstream.Common{Now: fakeclock.New().Now}})
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

// RFC 9211: a Cache-Status the source's answer already carries is kept, ours appended as
// the last member, for answers fetched now and for entries served from the store (fresh
// or stale), through the middleware.
func TestCacheStatusKeepsTheUpstreamMember(t *testing.T) {
	var fail atomic.Bool
	hs := newEngHarness(t, Config{}, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Status", "upstream-cache; hit")
		if fail.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Cache-Control", "max-age=5")
		_, _ = io.WriteString(w, "v1")
	})
	r := hs.get("/a")
	require.Equal(t, http.StatusOK, r.status)
	assert.Equal(t, []string{"upstream-cache; hit, failsoft; fwd=uri-miss; fwd-status=200; stored"}, r.header.Values("Cache-Status"))
	r = hs.get("/a")
	assert.Equal(t, []string{"upstream-cache; hit, failsoft; hit; ttl=5"}, r.header.Values("Cache-Status"))

	fail.Store(true)
	hs.clock.Advance(10 * time.Second)
	r = hs.get("/a")
	require.Equal(t, "v1", r.body)
	assert.Equal(t, "upstream-cache; hit, failsoft; fwd=stale; fwd-status=503; ttl=-5; detail=upstream-5xx", r.cs())
	assert.Equal(t, "failsoft; fwd=stale; fwd-status=503; ttl=-5; detail=upstream-5xx", lastMember(r.cs()))

	// No stored entry: the source's own failing answer goes out, its member kept.
	r = hs.get("/b")
	require.Equal(t, http.StatusServiceUnavailable, r.status)
	assert.Equal(t, "upstream-cache; hit, failsoft; fwd=uri-miss; fwd-status=503; detail=upstream-5xx", r.cs())
}

func TestWithPrior(t *testing.T) {
	assert.Equal(t, "failsoft; hit", withPrior(nil, "failsoft; hit"))
	assert.Equal(t, "failsoft; hit", withPrior([]string{"", " , "}, "failsoft; hit"))
	assert.Equal(t, "a, b; hit, failsoft; hit", withPrior([]string{"a,", " b; hit "}, "failsoft; hit"))
}

// lastMember is the last member of a Cache-Status field value (ours, when another cache's
// members come before it); commas inside quoted strings do not split.
func lastMember(field string) string {
	start, quoted := 0, false
	for i := 0; i < len(field); i++ {
		switch c := field[i]; {
		case c == '\\' && quoted:
			i++
		case c == '"':
			quoted = !quoted
		case c == ',' && !quoted:
			start = i + 1
		}
	}
	return strings.TrimSpace(field[start:])
}

func TestLastMember(t *testing.T) {
	assert.Equal(t, "failsoft; hit", lastMember("failsoft; hit"))
	assert.Equal(t, `failsoft; detail="a, b"`, lastMember(`up; hit, failsoft; detail="a, b"`))
}
