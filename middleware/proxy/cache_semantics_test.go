package proxy

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/failsoft/failsoft/upstream"
)

// A response body far larger than the policy's limit is streamed to the client, not
// buffered (and not stored): the heap stays far below the body's size.
func TestProxyStreamsLargeBodyWithBoundedMemory(t *testing.T) {
	const size = 64 << 20
	const chunk = 64 << 10
	var peak atomic.Uint64
	var base runtime.MemStats
	up := newPxUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(size))
		w.Header().Set("Cache-Control", "max-age=60")
		buf := make([]byte, chunk)
		for i := range buf {
			buf[i] = byte('a' + i%26)
		}
		var ms runtime.MemStats
		for n := 0; n < size; n += chunk {
			if n%(8<<20) == 0 && n > 0 {
				runtime.ReadMemStats(&ms)
				if ms.HeapInuse > peak.Load() {
					peak.Store(ms.HeapInuse)
				}
			}
			if _, err := w.Write(buf); err != nil {
				return
			}
		}
	})
	h := newPxHarness(t, up.srv.URL, func(c *Config) { c.Engine.Policy.MaxBodyBytes = 1 << 20 })

	for i := range 2 {
		runtime.GC()
		runtime.ReadMemStats(&base)
		peak.Store(0)
		res, err := h.srv.Client().Get(h.srv.URL + "/big")
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, res.StatusCode)
		require.Contains(t, res.Header.Get("Cache-Status"), "detail=too-large")
		n, err := io.Copy(io.Discard, res.Body)
		require.NoError(t, err)
		require.NoError(t, res.Body.Close())
		require.EqualValues(t, size, n)
		require.NotZero(t, peak.Load())
		delta := int64(peak.Load()) - int64(base.HeapInuse)
		require.Less(t, delta, int64(16<<20), "heap grew by %d bytes while streaming a %d-byte body", delta, size)
		require.EqualValues(t, i+1, up.hits.Load(), "an over-limit body must not be stored")
	}
}

// A stale entry with a validator is revalidated: the upstream gets If-None-Match, its 304
// refreshes the entry (new freshness, Age back to 0, updated headers) and keeps the body.
func TestProxyRevalidates304(t *testing.T) {
	var conditional atomic.Int64
	up := newPxUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("ETag", `"v1"`)
		w.Header().Set("Cache-Control", "max-age=10")
		if r.Header.Get("If-None-Match") == `"v1"` {
			conditional.Add(1)
			w.Header().Set("X-Version", "2")
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("X-Version", "1")
		_, _ = io.WriteString(w, "the body")
	})
	h := newPxHarness(t, up.srv.URL, nil)

	r := h.get("/doc")
	require.Equal(t, "the body", r.body)
	require.True(t, hasParam(r.cs(), "stored"), r.cs())

	h.clock.Advance(15 * time.Second) // stale by 5s
	r = h.get("/doc")
	require.Equal(t, http.StatusOK, r.status)
	require.Equal(t, "the body", r.body)
	require.Equal(t, "2", r.header.Get("X-Version"), "the 304's headers update the entry")
	require.Equal(t, "0", r.header.Get("Age"))
	require.True(t, hasParam(r.cs(), "fwd-status=304"), r.cs())
	require.EqualValues(t, 1, conditional.Load())

	h.clock.Advance(4 * time.Second) // fresh again thanks to the 304
	r = h.get("/doc")
	require.Equal(t, "the body", r.body)
	require.Equal(t, "4", r.header.Get("Age"))
	require.True(t, hasParam(r.cs(), "hit"), r.cs())
	require.True(t, hasParam(r.cs(), "ttl=6"), r.cs())
	require.EqualValues(t, 2, up.hits.Load())
}

// The proxy is a shared cache: the upstream's Cache-Control decides, end to end.
func TestProxySharedCacheSemantics(t *testing.T) {
	up := newPxUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		switch r.URL.Path {
		case "/smaxage":
			h.Set("Cache-Control", "max-age=0, s-maxage=60")
		case "/private":
			h.Set("Cache-Control", "private, max-age=60")
		case "/nostore":
			h.Set("Cache-Control", "no-store")
		case "/cookie":
			h.Set("Cache-Control", "max-age=60")
			h.Set("Set-Cookie", "session=1")
		case "/varystar":
			h.Set("Cache-Control", "max-age=60")
			h.Set("Vary", "*")
		case "/aged":
			h.Set("Cache-Control", "max-age=60")
			h.Set("Age", "55")
		case "/fresh":
			h.Set("Cache-Control", "max-age=60")
		case "/auth":
			h.Set("Cache-Control", "max-age=60")
		case "/authpublic":
			h.Set("Cache-Control", "public, max-age=60")
		case "/vary":
			h.Set("Cache-Control", "max-age=60")
			h.Set("Vary", "X-Lang")
		}
		_, _ = io.WriteString(w, r.URL.Path+" "+r.Header.Get("X-Lang"))
	})
	h := newPxHarness(t, up.srv.URL, nil)

	cases := []struct {
		path    string
		hdr     []string
		advance time.Duration
		stored  bool
	}{
		{"/smaxage", nil, 30 * time.Second, true},
		{"/private", nil, 0, false},
		{"/nostore", nil, 0, false},
		{"/cookie", nil, 0, false},
		{"/varystar", nil, 0, false},
		{"/fresh", nil, 10 * time.Second, true},
		{"/aged", nil, 10 * time.Second, false}, // Age 55 + 10s > max-age 60
		{"/auth", []string{"Authorization", "Bearer x"}, 0, false},
		{"/authpublic", []string{"Authorization", "Bearer x"}, 0, true},
	}
	for _, c := range cases {
		before := up.hits.Load()
		first := h.get(c.path, c.hdr...)
		require.Equal(t, http.StatusOK, first.status, c.path)
		h.clock.Advance(c.advance)
		second := h.get(c.path, c.hdr...)
		require.Equal(t, first.body, second.body, c.path)
		calls := up.hits.Load() - before
		if c.stored {
			require.EqualValues(t, 1, calls, "%s should be served from the cache: %s", c.path, second.cs())
			require.True(t, hasParam(second.cs(), "hit"), "%s: %s", c.path, second.cs())
		} else {
			require.EqualValues(t, 2, calls, "%s must not be served from the cache: %s", c.path, second.cs())
		}
	}

	// Vary: each variant is stored on its own; a request never gets another's body.
	before := up.hits.Load()
	require.Equal(t, "/vary en", h.get("/vary", "X-Lang", "en").body)
	require.Equal(t, "/vary fr", h.get("/vary", "X-Lang", "fr").body)
	require.Equal(t, "/vary en", h.get("/vary", "X-Lang", "en").body)
	require.Equal(t, "/vary fr", h.get("/vary", "X-Lang", "fr").body)
	require.EqualValues(t, 2, up.hits.Load()-before)
}

// A route override replaces the upstream's freshness for its prefix only.
func TestProxyRouteOverride(t *testing.T) {
	up := newPxUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/static/nostore" {
			w.Header().Set("Cache-Control", "no-store")
		} else {
			w.Header().Set("Cache-Control", "max-age=1")
		}
		_, _ = io.WriteString(w, r.URL.Path)
	})
	h := newPxHarness(t, up.srv.URL, func(c *Config) {
		c.Routes = []RouteOverride{{Prefix: "/static/", Fresh: time.Hour}, {Prefix: "/static/short/", Fresh: 5 * time.Second}}
	})
	require.Equal(t, "/static/nostore", h.get("/static/nostore").body)
	require.False(t, hasParam(h.get("/static/nostore").cs(), "hit"), "the override does not store no-store")
	require.EqualValues(t, 2, up.hits.Load())
	for _, p := range []string{"/static/app.js", "/static/short/x", "/api/x"} {
		require.Equal(t, p, h.get(p).body)
	}
	h.clock.Advance(10 * time.Second)
	before := up.hits.Load()
	require.True(t, hasParam(h.get("/static/app.js").cs(), "hit"))
	require.Equal(t, before, up.hits.Load(), "an hour of freshness for /static/")
	require.False(t, hasParam(h.get("/static/short/x").cs(), "hit"), "the longer prefix wins: 5s")
	require.False(t, hasParam(h.get("/api/x").cs(), "hit"), "no override: the upstream's 1s")
	require.Equal(t, before+2, up.hits.Load())
	require.EqualValues(t, 1, h.p.Stats().Hits)
}

// Within stale-while-revalidate the stale entry answers at once and one background
// refresh, sent through the proxy's fetcher on the engine's goroutine, replaces it.
func TestProxyBackgroundRefresh(t *testing.T) {
	var version atomic.Int64
	version.Store(1)
	var fwdFor atomic.Value
	up := newPxUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		fwdFor.Store(r.Header.Get("X-Forwarded-For"))
		w.Header().Set("Cache-Control", "max-age=10, stale-while-revalidate=60")
		fmt.Fprintf(w, "v%d", version.Load())
	})
	h := newPxHarness(t, up.srv.URL, nil)
	require.Equal(t, "v1", h.get("/swr").body)

	version.Store(2)
	h.clock.Advance(15 * time.Second)
	r := h.get("/swr")
	require.Equal(t, "v1", r.body)
	require.True(t, hasParam(r.cs(), "detail=stale-while-revalidate"), r.cs())
	require.Eventually(t, func() bool { return h.p.Stats().Refreshes == 1 }, 10*time.Second, time.Millisecond)
	require.EqualValues(t, 2, up.hits.Load())
	require.Equal(t, "127.0.0.1", fwdFor.Load())

	r = h.get("/swr")
	require.Equal(t, "v2", r.body)
	require.True(t, hasParam(r.cs(), "hit"), r.cs())
}

// A 4xx is the caller's answer: passed through, not stored, not a failure. A successful
// unsafe request invalidates the stored entry of its URL.
func TestProxy4xxAndInvalidation(t *testing.T) {
	var version atomic.Int64
	up := newPxUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/missing":
			// No explicit freshness: not stored (with max-age it would be, RFC 9111 3).
			http.Error(w, "nope", http.StatusNotFound)
		case r.Method == http.MethodPut:
			version.Add(1)
			w.WriteHeader(http.StatusNoContent)
		default:
			w.Header().Set("Cache-Control", "max-age=60")
			fmt.Fprintf(w, "v%d", version.Load())
		}
	})
	h := newPxHarness(t, up.srv.URL, func(c *Config) { c.SegmentRoutes = -1 }) // one breaker for every path
	for range 2 {
		r := h.get("/missing")
		require.Equal(t, http.StatusNotFound, r.status)
		require.Equal(t, "nope\n", r.body)
	}
	require.EqualValues(t, 2, up.hits.Load(), "a 404 is not stored")

	require.Equal(t, "v0", h.get("/doc").body)
	require.Equal(t, "v0", h.get("/doc").body)
	req, err := http.NewRequest(http.MethodPut, h.srv.URL+"/doc", strings.NewReader("new"))
	require.NoError(t, err)
	res, err := h.srv.Client().Do(req)
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusNoContent, res.StatusCode)
	r := h.get("/doc")
	require.Equal(t, "v1", r.body, "the PUT invalidated the stored entry")
	require.Equal(t, upstream.Closed, h.routeState("*"))
}

// A HEAD is fetched upstream as a GET, so that its answer can be stored for both.
func TestProxyHead(t *testing.T) {
	var methods sync.Map
	up := newPxUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		methods.Store(r.Method, true)
		w.Header().Set("Cache-Control", "max-age=60")
		_, _ = io.WriteString(w, "body")
	})
	h := newPxHarness(t, up.srv.URL, nil)
	r := doReq(t, context.Background(), h.srv.Client(), http.MethodHead, h.srv.URL+"/h")
	require.Equal(t, http.StatusOK, r.status)
	require.Empty(t, r.body)
	r = h.get("/h")
	require.Equal(t, "body", r.body)
	require.True(t, hasParam(r.cs(), "hit"), r.cs())
	_, head := methods.Load(http.MethodHead)
	require.False(t, head)
	require.EqualValues(t, 1, up.hits.Load())
}

// Range is not forwarded for GET: the whole representation is fetched, stored and
// shared, so a partial answer can never reach a request for the whole (even one that
// waited on the ranged request's fetch). The client's Range is answered from the entry:
// the whole when its If-Range does not match, 206 otherwise.
func TestProxyRangeNotForwarded(t *testing.T) {
	g := newGate()
	var ranged atomic.Int64
	up := newPxUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		g.Hold(1)
		if r.Header.Get("Range") != "" || r.Header.Get("If-Range") != "" {
			ranged.Add(1)
		}
		w.Header().Set("Cache-Control", "max-age=60")
		http.ServeContent(w, r, "f.txt", time.Time{}, strings.NewReader("0123456789"))
	})
	h := newPxHarness(t, up.srv.URL, nil)
	partial, whole := leaderAndWaiter(t, h, g, "/f", []string{"Range", "bytes=0-1", "If-Range", `"x"`}, nil)
	require.Equal(t, http.StatusOK, partial.status)
	require.Equal(t, "0123456789", partial.body)
	require.Equal(t, http.StatusOK, whole.status)
	require.Equal(t, "0123456789", whole.body)
	require.Zero(t, ranged.Load())
	r := h.get("/f", "Range", "bytes=2-3")
	require.Equal(t, http.StatusPartialContent, r.status)
	require.Equal(t, "23", r.body)
	require.True(t, hasParam(r.cs(), "hit"), r.cs())
	require.EqualValues(t, 1, up.hits.Load())
}
