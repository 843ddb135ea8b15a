package proxy

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The client's Forwarded field (RFC 7239: host=, proto=, for=) never reaches the upstream,
// as X-Forwarded-Host and X-Forwarded-Proto are never taken from the client. Frameworks
// build absolute URLs from it (Spring's ForwardedHeaderFilter, Quarkus, ...), and it is not
// part of the key (it carries the client's address): an attacker's value was stored under
// the clean key and served to the next user.
func TestProxyDropsClientForwarded(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	up := newPxUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Values("Forwarded")...)
		mu.Unlock()
		w.Header().Set("Cache-Control", "max-age=60")
		_, _ = io.WriteString(w, "forwarded="+r.Header.Get("Forwarded"))
	})
	h := newPxHarness(t, up.srv.URL, nil)

	attacker := h.get("/page", "Forwarded", "for=192.0.2.1;host=evil.example;proto=https")
	require.Equal(t, http.StatusOK, attacker.status)
	victim := h.get("/page")
	require.Equal(t, http.StatusOK, victim.status)
	require.NotContains(t, victim.body, "evil.example")
	require.NotContains(t, attacker.body, "evil.example")
	mu.Lock()
	defer mu.Unlock()
	require.Empty(t, seen, "the client's Forwarded reached the upstream")
}

// An upstream's failing answer, served as the last resort (no stale entry, no default),
// goes out with an excerpt of its body: its framing and hop-by-hop fields must not. The
// upstream's Content-Length (of the whole body) went out over the 4 KiB excerpt, so the
// client read a broken body; Connection and the fields it names leaked through.
func TestProxyFailingAnswerExcerptFraming(t *testing.T) {
	big := strings.Repeat("z", 10<<10)
	up := newPxUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Length", strconv.Itoa(len(big)))
		h.Set("Connection", "X-Hop")
		h.Set("X-Hop", "secret")
		h.Set("Keep-Alive", "timeout=5")
		h.Set("X-Upstream", "kept")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, big)
	})
	h := newPxHarness(t, up.srv.URL, func(c *Config) { c.Client.Retry.MaxAttempts = 1 })

	res := h.get("/down") // doReq fails on a body shorter than its Content-Length
	require.Equal(t, http.StatusServiceUnavailable, res.status)
	require.Equal(t, "kept", res.header.Get("X-Upstream"))
	require.True(t, strings.HasPrefix(big, res.body))
	for _, k := range []string{"X-Hop", "Keep-Alive"} {
		require.Empty(t, res.header.Values(k), "hop-by-hop %s leaked", k)
	}
	if cl := res.header.Get("Content-Length"); cl != "" {
		require.Equal(t, strconv.Itoa(len(res.body)), cl)
	}
}

// slowClient is a ResponseWriter whose first body write blocks for a while, as a client
// that stops reading does (a full TCP window).
type slowClient struct {
	*httptest.ResponseRecorder
	stall  time.Duration
	writes int
}

func (s *slowClient) Write(p []byte) (int, error) {
	if s.writes++; s.writes == 1 {
		<-time.After(s.stall) // the client is slow for this long: the fault, not a wait
	}
	return s.ResponseRecorder.Write(p)
}

// BodyIdleTimeout bounds each wait for the upstream's body, not the time spent writing to
// a slow client: a large streamed answer to a client that stalled past it was cut (the
// upstream request cancelled mid-body). The upstream is in memory, so that its body's
// reads never wait on a busy machine: only the client's stall could pass the timeout. As a
// connection's body would, it fails once the request is cancelled.
func TestProxyBodyIdleTimeoutIgnoresSlowClient(t *testing.T) {
	big := strings.Repeat("s", 256<<10)
	const idle = 100 * time.Millisecond
	h := newPxHarness(t, "http://upstream.test", func(c *Config) {
		c.BodyIdleTimeout = idle
		c.Engine.Policy.MaxBodyBytes = 1 << 10 // streamed
		c.Client.Transport = roundTripFunc(func(r *http.Request) (*http.Response, error) {
			return &http.Response{
				StatusCode: http.StatusOK, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
				Header: http.Header{}, ContentLength: -1, Request: r,
				Body: ctxBody{r.Context(), strings.NewReader(big)},
			}, nil
		})
	})
	w := &slowClient{ResponseRecorder: httptest.NewRecorder(), stall: 5 * idle}
	h.p.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/big", nil))
	require.Equal(t, http.StatusOK, w.Code)
	require.Equal(t, len(big), w.Body.Len(), "the streamed body was cut")
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
			"Te", "gzip", // only "TE: trailers" is passed on (TestProxyPassesTETrailers)
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
