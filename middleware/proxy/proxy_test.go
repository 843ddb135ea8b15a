package httpfallback

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
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

// pxUpstream is a loopback upstream that counts the requests reaching it.
type pxUpstream struct {
	srv  *httptest.Server
	hits atomic.Int64
}

func newPxUpstream(t *testing.T, h http.HandlerFunc) *pxUpstream {
	t.Helper()
	u := &pxUpstream{}
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.hits.Add(1)
		h(w, r)
	}))
	t.Cleanup(u.srv.Close)
	return u
}

// pxName is a command namespace no other test (nor another -count run) uses: hystrix
// circuits are global and outlive their Proxy.
func pxName(t *testing.T) string {
	return "px/" + t.Name() + "#" + strconv.FormatUint(rand.Uint64(), 36)
}

// pxHarness is a Proxy served on loopback with a fake clock.
type pxHarness struct {
	t     *testing.T
	p     *Proxy
	srv   *httptest.Server
	clock *engClock
}

// newPxHarness builds a Proxy for base (an upstream URL) with a unique command namespace,
// the fake clock, retries that do not wait, and mod applied last.
func newPxHarness(t *testing.T, base string, mod func(*ProxyConfig)) *pxHarness {
	t.Helper()
	h := &pxHarness{t: t, clock: newEngClock()}
	cfg := ProxyConfig{
		Upstream: base,
		Engine:   Config{Name: pxName(t), Now: h.clock.Now, SoftTimeout: -1}, // soft timeout: see proxy_soft_test.go
		Client: upstream.ClientConfig{
			Command: upstream.Settings{Timeout: 5 * time.Second},
			Sleep:   func(ctx context.Context, _ time.Duration) error { return ctx.Err() },
		},
	}
	if mod != nil {
		mod(&cfg)
	}
	p, err := NewProxy(cfg)
	require.NoError(t, err)
	h.p = p
	h.srv = httptest.NewServer(p)
	t.Cleanup(func() {
		h.srv.Close()
		require.NoError(t, p.Close())
	})
	return h
}

func (h *pxHarness) get(path string, hdr ...string) engResp {
	h.t.Helper()
	return doReq(h.t, context.Background(), h.srv.Client(), http.MethodGet, h.srv.URL+path, hdr...)
}

// pxRaw sends raw bytes to addr on a fresh connection and reads one response.
func pxRaw(t *testing.T, addr, raw string) (int, http.Header, string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.SetDeadline(time.Now().Add(10*time.Second))) // safety net, not a timing assertion
	_, err = io.WriteString(c, raw)
	require.NoError(t, err)
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	require.NoError(t, err)
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, string(b)
}

func problemReason(t *testing.T, body string) string {
	t.Helper()
	var p struct {
		Status int    `json:"status"`
		Reason string `json:"reason"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &p), body)
	return p.Reason
}

func TestNewProxyConfigErrors(t *testing.T) {
	cases := []struct {
		name  string
		cfg   ProxyConfig
		field string
	}{
		{"missing upstream", ProxyConfig{}, "Upstream"},
		{"bad scheme", ProxyConfig{Upstream: "ftp://127.0.0.1/"}, "Upstream"},
		{"relative", ProxyConfig{Upstream: "/just/a/path"}, "Upstream"},
		{"no host", ProxyConfig{Upstream: "http:///x"}, "Upstream"},
		{"user info", ProxyConfig{Upstream: "http://u:p@127.0.0.1/"}, "Upstream"},
		{"query", ProxyConfig{Upstream: "http://127.0.0.1/?a=1"}, "Upstream"},
		{"fragment", ProxyConfig{Upstream: "http://127.0.0.1/#f"}, "Upstream"},
		{"unclean base", ProxyConfig{Upstream: "http://127.0.0.1/a/../b"}, "Upstream"},
		{"encoded slash base", ProxyConfig{Upstream: "http://127.0.0.1/a%2fb"}, "Upstream"},
		{"unparsable", ProxyConfig{Upstream: "http://[::1"}, "Upstream"},
		{"unparsable with password", ProxyConfig{Upstream: "http://u:hunter2@[::1"}, "Upstream"},
		{"bad scheme with password", ProxyConfig{Upstream: "ftp://u:hunter2@127.0.0.1/"}, "Upstream"},
		{"route prefix", ProxyConfig{Upstream: "http://127.0.0.1", Routes: []RouteOverride{{Prefix: "static", Fresh: time.Second}}}, "Routes[0].Prefix"},
		{"route fresh", ProxyConfig{Upstream: "http://127.0.0.1", Routes: []RouteOverride{{Prefix: "/s/", Fresh: 0}}}, "Routes[0].Fresh"},
		{"route twice", ProxyConfig{Upstream: "http://127.0.0.1", Routes: []RouteOverride{{Prefix: "/s/", Fresh: 1}, {Prefix: "/s/", Fresh: 2}}}, "Routes[1].Prefix"},
		{"idle timeout", ProxyConfig{Upstream: "http://127.0.0.1", BodyIdleTimeout: -1}, "BodyIdleTimeout"},
		{"engine", ProxyConfig{Upstream: "http://127.0.0.1", Engine: Config{MaxBytes: -1}}, "MaxBytes"},
		{"client", ProxyConfig{Upstream: "http://127.0.0.1", Client: upstream.ClientConfig{Burst: -1}}, "Burst"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.cfg.Engine.Name = pxName(t)
			p, err := NewProxy(c.cfg)
			require.Error(t, err)
			require.Nil(t, p)
			require.Contains(t, err.Error(), c.field)
			require.NotContains(t, err.Error(), "hunter2", "the error leaks the password")
		})
	}
}

func TestProxyForwardsAndCaches(t *testing.T) {
	up := newPxUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		fmt.Fprintf(w, "path=%s query=%s", r.URL.EscapedPath(), r.URL.RawQuery)
	})
	h := newPxHarness(t, up.srv.URL+"/base/", nil)

	r := h.get("/a/b?x=1&y=%20")
	require.Equal(t, http.StatusOK, r.status)
	require.Equal(t, "path=/base/a/b query=x=1&y=%20", r.body)
	require.True(t, hasParam(r.cs(), "stored"), r.cs())

	h.clock.Advance(7 * time.Second)
	r = h.get("/a/b?x=1&y=%20")
	require.Equal(t, "path=/base/a/b query=x=1&y=%20", r.body)
	require.True(t, hasParam(r.cs(), "hit"), r.cs())
	require.Equal(t, "7", r.header.Get("Age"))
	require.EqualValues(t, 1, up.hits.Load())
	st := h.p.Stats()
	require.EqualValues(t, 1, st.Hits)
	require.EqualValues(t, 1, st.Stored)
}

func TestProxyHopByHopHeaders(t *testing.T) {
	var mu sync.Mutex
	var seen http.Header
	up := newPxUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = r.Header.Clone()
		mu.Unlock()
		h := w.Header()
		h.Set("Connection", "X-Conn-Resp, Keep-Alive")
		h.Set("X-Conn-Resp", "secret")
		h.Set("Keep-Alive", "timeout=5")
		h.Set("Proxy-Authenticate", `Basic realm="up"`)
		h.Set("Proxy-Foo", "bar")
		h.Set("Upgrade", "h2c")
		h.Set("Trailer", "X-Trailer")
		h.Set("X-End-To-End", "kept")
		h.Set("Cache-Control", "max-age=60")
		_, _ = io.WriteString(w, "ok")
	})
	h := newPxHarness(t, up.srv.URL, nil)

	for _, pass := range []string{"miss", "hit"} {
		r := h.get("/hop",
			// Upgrade without "Connection: upgrade" is not an upgrade request (those are
			// refused, TestProxyRefusesStreaming): the header is hop-by-hop all the same.
			"Connection", "X-Conn-Req",
			"X-Conn-Req", "secret",
			"Keep-Alive", "timeout=5",
			"Te", "trailers",
			"Trailer", "X-T",
			"Upgrade", "websocket",
			"Proxy-Authorization", "Basic c2VjcmV0",
			"Proxy-Connection", "keep-alive",
			"X-Forwarded-For", "203.0.113.9",
			"X-Forwarded-Host", "spoofed.example",
			"X-Forwarded-Proto", "https",
			"X-End-To-End", "kept",
		)
		require.Equal(t, http.StatusOK, r.status, pass)
		require.Equal(t, "ok", r.body)
		for _, k := range []string{"X-Conn-Resp", "Keep-Alive", "Proxy-Authenticate", "Proxy-Foo", "Upgrade", "Trailer"} {
			require.Empty(t, r.header.Values(k), "%s: response header %s leaked", pass, k)
		}
		for _, v := range r.header.Values("Connection") {
			require.NotContains(t, v, "X-Conn-Resp", pass)
		}
		require.Equal(t, "kept", r.header.Get("X-End-To-End"), pass)
	}
	require.EqualValues(t, 1, up.hits.Load())

	mu.Lock()
	defer mu.Unlock()
	for _, k := range []string{"X-Conn-Req", "Keep-Alive", "Te", "Trailer", "Upgrade", "Proxy-Authorization", "Proxy-Connection"} {
		require.Empty(t, seen.Values(k), "request header %s reached the upstream", k)
	}
	for _, v := range seen.Values("Connection") {
		require.NotContains(t, v, "X-Conn-Req")
		require.NotContains(t, v, "Upgrade")
	}
	require.Equal(t, "kept", seen.Get("X-End-To-End"))
	require.Equal(t, "203.0.113.9, 127.0.0.1", seen.Get("X-Forwarded-For"))
	require.Equal(t, strings.TrimPrefix(h.srv.URL, "http://"), seen.Get("X-Forwarded-Host"))
	require.Equal(t, "http", seen.Get("X-Forwarded-Proto"))
}

// Whatever the request line, Host header or path encoding, the request goes to the
// configured upstream under its base path, or is refused with 400.
func TestProxyTargetNeverTakenFromRequest(t *testing.T) {
	evil := newPxUpstream(t, func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "evil") })
	evilHost := strings.TrimPrefix(evil.srv.URL, "http://")
	var mu sync.Mutex
	var paths, hosts []string
	up := newPxUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths = append(paths, r.URL.EscapedPath())
		hosts = append(hosts, r.Host)
		mu.Unlock()
		w.Header().Set("Cache-Control", "no-store")
		_, _ = io.WriteString(w, "good")
	})
	upHost := strings.TrimPrefix(up.srv.URL, "http://")
	h := newPxHarness(t, up.srv.URL+"/base", nil)
	addr := strings.TrimPrefix(h.srv.URL, "http://")

	cases := []struct {
		target string // request target on the request line
		host   string // Host header
		want   string // path the upstream sees; "" : refused with 400, upstream not called
	}{
		{"http://" + evilHost + "/steal", evilHost, "/base/steal"},
		{"https://" + evilHost + "/steal?x=1", evilHost, "/base/steal"},
		{"/x", evilHost, "/base/x"},
		{"//" + evilHost + "/x", "a", "/base/" + evilHost + "/x"},
		{"/../../etc/passwd", "a", "/base/etc/passwd"},
		{"/a/../../../x", "a", "/base/x"},
		{"/%2e%2e/%2E%2E/x", "a", "/base/x"},
		{"/./a//b/./c", "a", "/base/a/b/c"},
		{"/a%2f..%2f..%2fx", "a", ""},
		{"/%2e%2e%2f%2e%2e%2fx", "a", ""},
		{"/a%5c..%5c..%5cx", "a", ""},
		{"/a\\..\\..\\x", "a", ""},
		{"/%252e%252e/x", "a", ""},
		{"/a%00b", "a", ""},
		{"*", "a", ""},
		{evilHost, "a", ""}, // authority form
	}
	for _, c := range cases {
		before := up.hits.Load()
		status, _, body := pxRaw(t, addr, "GET "+c.target+" HTTP/1.1\r\nHost: "+c.host+"\r\nConnection: close\r\n\r\n")
		if c.want == "" {
			require.Equal(t, http.StatusBadRequest, status, "%s: %s", c.target, body)
			require.Equal(t, before, up.hits.Load(), "%s reached the upstream", c.target)
			continue
		}
		require.Equal(t, http.StatusOK, status, "%s: %s", c.target, body)
		require.Equal(t, "good", body, c.target)
		mu.Lock()
		require.Equal(t, c.want, paths[len(paths)-1], c.target)
		require.Equal(t, upHost, hosts[len(hosts)-1], c.target)
		mu.Unlock()
	}
	require.Zero(t, evil.hits.Load(), "a request reached another host")
}

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
	h := newPxHarness(t, up.srv.URL, func(c *ProxyConfig) { c.Engine.Policy.MaxBodyBytes = 1 << 20 })

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

// With the upstream's listener closed, cached keys are served stale with Cache-Status and
// Age; uncached keys get 502 problem+json.
func TestProxyUpstreamClosed(t *testing.T) {
	up := newPxUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=10")
		_, _ = io.WriteString(w, "body of "+r.URL.Path)
	})
	h := newPxHarness(t, up.srv.URL, nil)
	require.Equal(t, "body of /a", h.get("/a").body)

	up.srv.Close()
	h.clock.Advance(30 * time.Second)

	r := h.get("/a")
	require.Equal(t, http.StatusOK, r.status)
	require.Equal(t, "body of /a", r.body)
	require.Equal(t, "30", r.header.Get("Age"))
	require.True(t, hasParam(r.cs(), "fwd=stale"), r.cs())
	require.True(t, hasParam(r.cs(), "ttl=-20"), r.cs())
	require.True(t, hasParam(r.cs(), "detail=connect-error"), r.cs())

	r = h.get("/b")
	require.Equal(t, http.StatusBadGateway, r.status)
	require.Equal(t, "application/problem+json", r.header.Get("Content-Type"))
	require.Equal(t, "connect-error", problemReason(t, r.body))
	require.True(t, hasParam(r.cs(), "detail=connect-error"), r.cs())
	st := h.p.Stats()
	require.EqualValues(t, 1, st.Stale)
	require.EqualValues(t, 1, st.Errors)
}

// An upstream that never answers: 504 from the command timeout, and the outbound request
// is abandoned (its context ends at the upstream).
func TestProxyUpstreamHangs(t *testing.T) {
	abandoned := make(chan struct{}, 1)
	up := newPxUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
		abandoned <- struct{}{}
	})
	h := newPxHarness(t, up.srv.URL, func(c *ProxyConfig) {
		c.Client.Command.Timeout = 100 * time.Millisecond
		c.Client.Retry.MaxAttempts = 1
	})
	r := h.get("/slow")
	require.Equal(t, http.StatusGatewayTimeout, r.status)
	require.Equal(t, "timeout", problemReason(t, r.body))
	require.True(t, hasParam(r.cs(), "detail=timeout"), r.cs())
	select {
	case <-abandoned:
	case <-time.After(10 * time.Second): // safety net only
		t.Fatal("the upstream request was not cancelled after the timeout")
	}
}

// An upstream that sends headers and then stalls mid-body: the body idle timeout ends it
// as a failure, and the partial answer is never stored.
func TestProxyStalledBodyIsNotStored(t *testing.T) {
	release := make(chan struct{})
	var calls atomic.Int64
	up := newPxUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		if calls.Add(1) == 1 {
			w.Header().Set("Content-Length", "10")
			_, _ = io.WriteString(w, "half")
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
			case <-release:
			}
			return
		}
		_, _ = io.WriteString(w, "whole body")
	})
	defer close(release)
	h := newPxHarness(t, up.srv.URL, func(c *ProxyConfig) {
		c.BodyIdleTimeout = 200 * time.Millisecond
		c.Client.Retry.MaxAttempts = 1
		c.Client.BufferBody = 1 // past a 1-byte prefix the body streams: the idle timeout's case
	})
	r := h.get("/stall")
	require.Equal(t, http.StatusBadGateway, r.status)
	require.Equal(t, "invalid-response", problemReason(t, r.body))
	r = h.get("/stall")
	require.Equal(t, "whole body", r.body)
	require.True(t, hasParam(r.cs(), "stored"), r.cs())
}

// A truncated upstream body (shorter than its Content-Length, or a chunked body that
// breaks off) is a failure: not stored, and a stored entry is served instead.
func TestProxyTruncatedBodyServesStale(t *testing.T) {
	var truncate atomic.Bool
	up := newPxUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=1")
		if truncate.Load() {
			if r.URL.Path == "/cl" {
				w.Header().Set("Content-Length", "100")
			}
			_, _ = io.WriteString(w, "partial")
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler) // drop the connection mid-body
		}
		_, _ = io.WriteString(w, "complete")
	})
	h := newPxHarness(t, up.srv.URL, func(c *ProxyConfig) { c.Client.Retry.MaxAttempts = 1 })
	for _, path := range []string{"/cl", "/chunked"} {
		truncate.Store(false)
		require.Equal(t, "complete", h.get(path).body)
		truncate.Store(true)
		h.clock.Advance(5 * time.Second)
		r := h.get(path)
		require.Equal(t, http.StatusOK, r.status, path)
		require.Equal(t, "complete", r.body, path)
		require.True(t, hasParam(r.cs(), "detail=invalid-response"), "%s: %s", path, r.cs())
	}
}

// The client retries idempotent requests; the proxy never has a non-idempotent one retried.
func TestProxyNeverRetriesNonIdempotent(t *testing.T) {
	var mu sync.Mutex
	count := map[string]int{}
	up := newPxUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		count[r.Method+" "+string(b)]++
		mu.Unlock()
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	h := newPxHarness(t, up.srv.URL, func(c *ProxyConfig) { c.Client.Retry.MaxAttempts = 3 })
	c := h.srv.Client()

	r := h.get("/x")
	require.Equal(t, http.StatusServiceUnavailable, r.status)
	for _, m := range []string{http.MethodPost, http.MethodPatch, http.MethodPost + " empty"} {
		body := "payload"
		if strings.HasSuffix(m, " empty") {
			m, body = strings.TrimSuffix(m, " empty"), ""
		}
		req, err := http.NewRequest(m, h.srv.URL+"/x", strings.NewReader(body))
		require.NoError(t, err)
		res, err := c.Do(req)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		require.Equal(t, http.StatusServiceUnavailable, res.StatusCode, m)
	}
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, 3, count["GET "], "GET is retried (MaxAttempts 3)")
	require.Equal(t, 1, count["POST payload"], "POST must not be retried")
	require.Equal(t, 1, count["PATCH payload"], "PATCH must not be retried")
	require.Equal(t, 1, count["POST "], "POST without a body must not be retried either")
}

// A request body reaches the upstream while the client is still sending it.
func TestProxyStreamsRequestBody(t *testing.T) {
	first := make(chan string, 1)
	up := newPxUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		buf := make([]byte, 5)
		if _, err := io.ReadFull(r.Body, buf); err != nil {
			first <- "error: " + err.Error()
			return
		}
		first <- string(buf)
		rest, _ := io.ReadAll(r.Body)
		_, _ = w.Write(rest)
	})
	h := newPxHarness(t, up.srv.URL, nil)

	pr, pw := io.Pipe()
	type result struct {
		status int
		body   string
		err    error
	}
	done := make(chan result, 1)
	go func() {
		res, err := h.srv.Client().Post(h.srv.URL+"/upload", "text/plain", pr)
		if err != nil {
			done <- result{err: err}
			return
		}
		b, err := io.ReadAll(res.Body)
		res.Body.Close()
		done <- result{status: res.StatusCode, body: string(b), err: err}
	}()
	_, err := io.WriteString(pw, "first")
	require.NoError(t, err)
	select {
	case got := <-first:
		require.Equal(t, "first", got)
	case <-time.After(10 * time.Second): // safety net: a buffering proxy never gets here
		pw.CloseWithError(io.ErrUnexpectedEOF)
		t.Fatal("the upstream did not see the start of the body before its end: request bodies are buffered")
	}
	_, err = io.WriteString(pw, " and the rest")
	require.NoError(t, err)
	require.NoError(t, pw.Close())
	res := <-done
	require.NoError(t, res.err)
	require.Equal(t, http.StatusOK, res.status)
	require.Equal(t, " and the rest", res.body)
}

// Request framing attacks on loopback, on raw connections: Go's server resolves
// Content-Length + Transfer-Encoding in favour of chunked and refuses conflicting lengths;
// the proxy re-frames what it forwards, and a body that breaks off is answered 400 without
// the upstream ever receiving a complete request.
func TestProxyRequestFraming(t *testing.T) {
	var mu sync.Mutex
	var complete []string // bodies the upstream read to their end
	var arrived []string  // paths of the requests that reached the upstream
	up := newPxUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		arrived = append(arrived, r.URL.Path)
		mu.Unlock()
		b, err := io.ReadAll(r.Body)
		if err != nil {
			return
		}
		mu.Lock()
		complete = append(complete, r.Method+" "+r.URL.Path+" "+string(b))
		mu.Unlock()
		_, _ = io.WriteString(w, "got "+string(b))
	})
	h := newPxHarness(t, up.srv.URL, func(c *ProxyConfig) { c.MaxRequestBody = 16 })
	addr := strings.TrimPrefix(h.srv.URL, "http://")
	completeCopy := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), complete...)
	}

	// Both Content-Length and chunked: chunked wins, and the upstream gets that one body
	// and no second request hidden in it.
	status, _, body := pxRaw(t, addr, "POST /te HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"+
		"5\r\nhello\r\n0\r\n\r\n")
	require.Equal(t, http.StatusOK, status, body)
	require.Equal(t, "got hello", body)
	require.Equal(t, []string{"POST /te hello"}, completeCopy())

	// Two different Content-Lengths: refused by Go's server, never forwarded.
	status, _, _ = pxRaw(t, addr, "POST /cl HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd")
	require.Equal(t, http.StatusBadRequest, status)

	// An unsupported transfer coding: refused by Go's server.
	status, _, _ = pxRaw(t, addr, "POST /gz HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n")
	require.Equal(t, http.StatusNotImplemented, status)

	// Bad chunking: the proxy answers 400, the upstream never reads a complete body.
	status, hdr, body := pxRaw(t, addr, "POST /bad HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"+
		"3\r\nabcXX0\r\n\r\n")
	require.Equal(t, http.StatusBadRequest, status, body)
	require.Equal(t, "application/problem+json", hdr.Get("Content-Type"))
	require.Equal(t, []string{"failsoft; detail=refused"}, hdr.Values("Cache-Status"), "one member of ours")
	require.Equal(t, []string{"POST /te hello"}, completeCopy())

	// Over MaxRequestBody: declared (refused before the upstream is called) or chunked
	// (refused once the limit is passed).
	status, _, _ = pxRaw(t, addr, "POST /declared HTTP/1.1\r\nHost: a\r\nContent-Length: 17\r\nConnection: close\r\n\r\n0123456789abcdefg")
	require.Equal(t, http.StatusRequestEntityTooLarge, status)
	status, hdr, body = pxRaw(t, addr, "POST /big HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"+
		"a\r\n0123456789\r\na\r\n0123456789\r\n0\r\n\r\n")
	require.Equal(t, http.StatusRequestEntityTooLarge, status)
	require.Equal(t, []string{"failsoft; detail=refused"}, hdr.Values("Cache-Status"), "one member of ours, not the engine's fwd=method too")
	require.Contains(t, body, `"reason":"refused"`)
	require.Equal(t, []string{"POST /te hello"}, completeCopy())
	mu.Lock()
	require.NotContains(t, arrived, "/declared", "a declared over-limit body is refused before the upstream")
	mu.Unlock()

	// None of the refused bodies counted against the breaker.
	require.Equal(t, upstream.Closed, h.p.client.Runner().State())
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
	h := newPxHarness(t, up.srv.URL, func(c *ProxyConfig) {
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

func TestProxyCloseTwice(t *testing.T) {
	up := newPxUpstream(t, func(w http.ResponseWriter, r *http.Request) {})
	p, err := NewProxy(ProxyConfig{Upstream: up.srv.URL, Engine: Config{Name: pxName(t)}})
	require.NoError(t, err)
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			require.NoError(t, p.Close())
		}()
	}
	wg.Wait()
	require.NoError(t, p.Close())
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
	h := newPxHarness(t, up.srv.URL, nil)
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
	require.Equal(t, upstream.Closed, h.p.client.Runner().State())
}

// Concurrent misses of one key make one upstream request; every client gets its answer.
func TestProxyCollapsesConcurrentMisses(t *testing.T) {
	const n = 8
	release := make(chan struct{})
	up := newPxUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		<-release
		w.Header().Set("Cache-Control", "max-age=60")
		_, _ = io.WriteString(w, "shared")
	})
	h := newPxHarness(t, up.srv.URL, nil)
	c := h.srv.Client()
	c.Transport.(*http.Transport).MaxIdleConnsPerHost = n
	bodies := make(chan string, n)
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := c.Get(h.srv.URL + "/hot")
			if err != nil {
				bodies <- err.Error()
				return
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			bodies <- string(b)
		}()
	}
	waitFor(t, func() bool { return h.p.Stats().Waiting == n-1 && up.hits.Load() == 1 })
	close(release)
	wg.Wait()
	close(bodies)
	for b := range bodies {
		require.Equal(t, "shared", b)
	}
	require.EqualValues(t, 1, up.hits.Load())
	require.EqualValues(t, n-1, h.p.Stats().Collapsed)
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
		g.hold(1)
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

// A request waiting on another's fetch of the same key must not get an answer that was
// not shareable: one built for the leader's credentials, or one that sets a cookie. The
// engine shares only answers the policy accepted, and failures of requests without
// credentials (outcome.sharable); the waiter fetches its own answer.
func TestProxyCollapsedAnswerNotSharedAcrossUsers(t *testing.T) {
	for _, c := range []struct {
		name       string
		leader     []string
		waiter     []string
		setsCookie bool
	}{
		{"cookie", []string{"Cookie", "session=alice"}, []string{"Cookie", "session=bob"}, false},
		{"authorization", []string{"Authorization", "Bearer alice"}, nil, false},
		{"set-cookie", nil, nil, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			g := newGate()
			up := newPxUpstream(t, func(w http.ResponseWriter, r *http.Request) {
				g.hold(1)
				w.Header().Set("Cache-Control", "max-age=60")
				if c.setsCookie {
					w.Header().Set("Set-Cookie", "session=new-"+strconv.FormatInt(rand.Int64(), 36))
				}
				_, _ = io.WriteString(w, "hello "+r.Header.Get("Cookie")+r.Header.Get("Authorization"))
			})
			h := newPxHarness(t, up.srv.URL, nil)
			lead, wait := leaderAndWaiter(t, h, g, "/me", c.leader, c.waiter)
			require.EqualValues(t, 2, up.hits.Load(), "the waiter fetched its own answer")
			if c.setsCookie {
				require.NotEqual(t, lead.header.Get("Set-Cookie"), wait.header.Get("Set-Cookie"), "the waiter got the leader's cookie")
			} else {
				require.NotEqual(t, lead.body, wait.body, "the waiter got the leader's answer")
			}
		})
	}
}

// The client's breaker is the one that trips in proxy mode: its changes reach OnEvent.
func TestProxyBreakerChangesReachOnEvent(t *testing.T) {
	up := newPxUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
	})
	onEvent, opened := onBreakerOpen()
	h := newPxHarness(t, up.srv.URL, pxFastBreaker(time.Hour, onEvent))
	ev := untilOpen(t, opened, func() { h.get("/fail") })
	require.Equal(t, "proxy", ev.Route)
}

// With the default BufferBody, a truncated body fails the attempt inside its command: the
// client's breaker counts it and opens (a 200 found broken after the command would not).
func TestProxyTruncatedBodiesOpenTheBreaker(t *testing.T) {
	up := newPxUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "10")
		_, _ = io.WriteString(w, "half")
	})
	onEvent, opened := onBreakerOpen()
	h := newPxHarness(t, up.srv.URL, pxFastBreaker(time.Hour, onEvent))
	untilOpen(t, opened, func() {
		r := h.get("/truncated")
		require.NotEqual(t, http.StatusOK, r.status, "a truncated body is never a 200")
	})
	calls := up.hits.Load()
	r := h.get("/truncated")
	require.Equal(t, "circuit-open", problemReason(t, r.body))
	require.Equal(t, calls, up.hits.Load(), "an open breaker spares the upstream")
}

// An upload slower than the engine's header budget is not cut by it: only requests without a
// body (the ones a fetch may share) carry the budget.
func TestProxySlowUploadIsNotCutByTheHeaderBudget(t *testing.T) {
	up := newPxUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		_, _ = io.WriteString(w, "got "+strconv.Itoa(len(b)))
	})
	h := newPxHarness(t, up.srv.URL, func(c *ProxyConfig) {
		c.Engine.Command.Timeout = 50 * time.Millisecond
		c.Client.Retry.MaxAttempts = 1
	})
	pr, pw := io.Pipe()
	go func() {
		_, _ = io.WriteString(pw, "first,")
		<-time.After(200 * time.Millisecond) // a slow upload, well past the 50 ms budget
		_, _ = io.WriteString(pw, "second")
		_ = pw.Close()
	}()
	req, err := http.NewRequest(http.MethodPost, h.srv.URL+"/upload", pr)
	require.NoError(t, err)
	resp, err := h.srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	require.Equal(t, "got 12", string(body))
}

func TestClientBudget(t *testing.T) {
	require.Equal(t, 3*time.Second+100*time.Millisecond+(100+200)*time.Millisecond,
		clientBudget(upstream.ClientConfig{}), "the upstream package's defaults")
	require.Equal(t, 500*time.Millisecond+25*time.Millisecond+20*time.Millisecond,
		clientBudget(upstream.ClientConfig{
			Command: upstream.Settings{Timeout: 250 * time.Millisecond},
			Retry:   upstream.RetryPolicy{MaxAttempts: 2, BaseDelay: 20 * time.Millisecond, MaxDelay: 100 * time.Millisecond},
		}))
	require.Equal(t, 4*time.Second+100*time.Millisecond+(100+200+250)*time.Millisecond,
		clientBudget(upstream.ClientConfig{Retry: upstream.RetryPolicy{MaxAttempts: 4, MaxDelay: 250 * time.Millisecond}}), "backoffs capped")
}
