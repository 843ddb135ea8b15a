package reliability

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/failsoft/failsoft/cache"
	"github.com/failsoft/failsoft/internal/fakeclock"
	"github.com/failsoft/failsoft/middleware/httpfallback"
	"github.com/failsoft/failsoft/upstream"
)

// app is the application behind failsoft in the shared-cache safety tests. It is
// deliberately careless in the ways real applications are: it reflects request headers into
// cacheable bodies and honours method and URL override headers.
type app struct {
	calls   atomic.Int64
	cookies atomic.Int64

	mu     sync.Mutex
	bodies []string // request bodies the app read completely
	framed []string // requests that reached it with both Content-Length and Transfer-Encoding
}

func (a *app) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.calls.Add(1)
	if r.Header.Get("Content-Length") != "" && len(r.TransferEncoding) > 0 {
		a.mu.Lock()
		a.framed = append(a.framed, r.Method+" "+r.URL.Path)
		a.mu.Unlock()
	}
	if r.Body != nil && r.Method != http.MethodGet && r.Method != http.MethodHead {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		a.mu.Lock()
		a.bodies = append(a.bodies, string(b))
		a.mu.Unlock()
	}
	h := w.Header()
	h.Set("Content-Type", "text/plain")
	switch r.URL.Path {
	case "/private": // per-user content without "public": must never be shared
		h.Set("Cache-Control", "max-age=60")
		_, _ = fmt.Fprintf(w, "private auth=%q cookie=%q", r.Header.Get("Authorization"), r.Header.Get("Cookie"))
	case "/setcookie": // a fresh session per call
		h.Set("Cache-Control", "public, max-age=60")
		h.Set("Set-Cookie", fmt.Sprintf("session=s%d; Path=/; HttpOnly", a.cookies.Add(1)))
		_, _ = io.WriteString(w, "welcome")
	case "/vary":
		h.Set("Cache-Control", "public, max-age=60")
		h.Set("Vary", "Accept-Language")
		_, _ = fmt.Fprintf(w, "lang=%q", r.Header.Get("Accept-Language"))
	case "/big": // larger than the store's body cap
		h.Set("Cache-Control", "public, max-age=60")
		_, _ = w.Write(bigBody())
	case "/bighead": // response header larger than any sane limit
		h.Set("Cache-Control", "public, max-age=60")
		h.Set("X-Huge", strings.Repeat("h", 11<<20))
		_, _ = io.WriteString(w, "bighead")
	default: // "/reflect" and anything else: reflects unkeyed inputs, as frameworks do
		h.Set("Cache-Control", "public, max-age=60")
		path, method := r.URL.Path, r.Method
		if o := r.Header.Get("X-Original-URL"); o != "" {
			path = o
		}
		if o := r.Header.Get("X-HTTP-Method-Override"); o != "" {
			method = o
		}
		_, _ = fmt.Fprintf(w, "host=%s xfh=%s fwd=%s path=%s method=%s", r.Host, r.Header.Get("X-Forwarded-Host"),
			r.Header.Get("Forwarded"), path, method)
	}
}

func (a *app) readBodies() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.bodies...)
}

func (a *app) framedBoth() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.framed...)
}

const bigBodyBytes = 2 << 20

func bigBody() []byte {
	b := make([]byte, bigBodyBytes)
	for i := range b {
		b[i] = "0123456789abcdef"[(i*7+i/4096)%16]
	}
	return b
}

// safeRig is failsoft mounted in front of app, on a real loopback server.
type safeRig struct {
	app    *app
	front  string
	addr   string // host:port of failsoft
	client *http.Client
	store  *cache.Memory
	clock  *fakeclock.Clock
}

func safetyMounts() []mountKind { return []mountKind{mountProxy, mountMiddleware} }

func newSafeRig(t *testing.T, m mountKind) *safeRig {
	t.Helper()
	n := newNames(t)
	r := &safeRig{app: &app{}, clock: newClock()}
	store, err := cache.New(cache.Config{MaxBytes: 32 << 20, Now: r.clock.Now})
	require.NoError(t, err)
	t.Cleanup(func() { _ = store.Close() })
	r.store = store
	engineCfg := httpfallback.Config{
		Name:   n.next("engine"),
		Store:  store,
		Policy: cache.Policy{MaxBodyBytes: 256 << 10},
		Common: upstream.Common{Now: r.clock.Now},
	}
	var h http.Handler
	switch m {
	case mountProxy:
		origin := httptest.NewServer(r.app)
		t.Cleanup(origin.Close)
		tr := &http.Transport{}
		t.Cleanup(tr.CloseIdleConnections)
		h = newProxyMount(t, origin.URL, engineCfg, upstream.ClientConfig{
			Common:    upstream.Common{Command: upstream.Settings{Name: n.next("client"), Timeout: 5 * time.Second}},
			Retry:     upstream.RetryPolicy{MaxAttempts: 1},
			Transport: tr,
		})
	case mountMiddleware:
		engineCfg.Command = upstream.Settings{Timeout: 5 * time.Second}
		eng, err := httpfallback.New(engineCfg)
		require.NoError(t, err)
		t.Cleanup(func() { _ = eng.Close() })
		h = eng.Handler(r.app)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	r.front = srv.URL
	r.addr = strings.TrimPrefix(srv.URL, "http://")
	r.client = testClient(t)
	return r
}

func (r *safeRig) get(t *testing.T, path string, hdr http.Header) answer {
	t.Helper()
	a := get(r.client, r.front+path, hdr)
	require.NoError(t, a.err)
	return a
}

func TestCredentialedResponsesNeverShared(t *testing.T) {
	for _, m := range safetyMounts() {
		t.Run(string(m), func(t *testing.T) {
			for _, cred := range []string{"Authorization", "Cookie"} {
				t.Run(cred, func(t *testing.T) {
					r := newSafeRig(t, m)
					alice := http.Header{cred: {"alice-secret"}}
					a := r.get(t, "/private", alice)
					require.Equal(t, http.StatusOK, a.status)
					require.Contains(t, string(a.body), "alice-secret")
					require.Nil(t, stored(r.store, r.front, "/private", r.clock.Now()), "a credentialed response was stored under the shared key")

					bob := r.get(t, "/private", http.Header{cred: {"bob-secret"}})
					require.Equal(t, http.StatusOK, bob.status)
					require.Contains(t, string(bob.body), "bob-secret", "bob gets his own answer")
					anon := r.get(t, "/private", nil)
					require.Equal(t, http.StatusOK, anon.status)
					for _, other := range []answer{bob, anon} {
						require.NotContains(t, string(other.body), "alice-secret", "alice's response served to another user")
					}
				})
			}
		})
	}
}

func TestSetCookieNeverStored(t *testing.T) {
	for _, m := range safetyMounts() {
		t.Run(string(m), func(t *testing.T) {
			r := newSafeRig(t, m)
			first := r.get(t, "/setcookie", nil)
			require.Equal(t, http.StatusOK, first.status)
			require.Contains(t, first.header.Get("Set-Cookie"), "session=s1")
			require.Nil(t, stored(r.store, r.front, "/setcookie", r.clock.Now()), "a response with Set-Cookie is stored")

			second := r.get(t, "/setcookie", nil)
			require.Equal(t, http.StatusOK, second.status)
			require.NotContains(t, second.header.Get("Set-Cookie"), "session=s1", "the first user's session reached the second")
			require.EqualValues(t, 2, r.app.calls.Load())
		})
	}
}

func TestVaryRespected(t *testing.T) {
	for _, m := range safetyMounts() {
		t.Run(string(m), func(t *testing.T) {
			r := newSafeRig(t, m)
			for _, round := range []int{1, 2} {
				for _, lang := range []string{"en", "fr", "de"} {
					h := http.Header{"Accept-Language": {lang}}
					a := r.get(t, "/vary", h)
					require.Equal(t, http.StatusOK, a.status)
					require.Equal(t, fmt.Sprintf("lang=%q", lang), string(a.body), "round %d", round)
				}
			}
			// The second round may be served from the store, one entry per language.
			assert.LessOrEqual(t, r.app.calls.Load(), int64(6))
		})
	}
}

// TestUnkeyedHeadersCannotPoison: an attacker's request carrying an unkeyed header the app
// reflects goes first on a cold key; the victim's plain request must then get exactly the
// body it gets when nobody attacked (probed on another key of the same route).
func TestUnkeyedHeadersCannotPoison(t *testing.T) {
	attacks := []struct {
		name   string
		header http.Header
	}{
		{"X-Forwarded-Host", http.Header{"X-Forwarded-Host": {"evil.example"}}},
		{"X-Original-URL", http.Header{"X-Original-URL": {"/admin-evil"}}},
		{"Forwarded", http.Header{"Forwarded": {"for=192.0.2.1;host=evil.example;proto=https"}}},
		{"X-HTTP-Method-Override", http.Header{"X-HTTP-Method-Override": {"DELETE-evil"}}},
		{"Host-case", http.Header{"Host": {"VICTIM.example"}}},
		{"Host-port", http.Header{"Host": {"victim.example:1337"}}},
		{"Host-trailing-dot", http.Header{"Host": {"victim.example."}}},
	}
	victim := http.Header{"Host": {"victim.example"}}
	for _, m := range safetyMounts() {
		for _, at := range attacks {
			t.Run(string(m)+"/"+at.name, func(t *testing.T) {
				r := newSafeRig(t, m)
				clean := r.get(t, "/reflect?probe=1", victim)
				require.Equal(t, http.StatusOK, clean.status)
				require.NotContains(t, string(clean.body), "evil")

				attack := http.Header{"Host": {"victim.example"}}
				for k, v := range at.header {
					attack[k] = v
				}
				a := r.get(t, "/reflect?probe=2", attack)
				require.Less(t, a.status, 500, "%v", a)

				// The victim asks for the key the attacker just used: the attack's
				// query, the victim's plain headers.
				v := r.get(t, "/reflect?probe=2", victim)
				require.Equal(t, http.StatusOK, v.status)
				require.Equal(t, string(clean.body), string(v.body),
					"the attacker's %s changed what the victim got (Cache-Status %q)", at.name, v.header.Get("Cache-Status"))
			})
		}
	}
}

// rawExchange writes raw bytes to failsoft's server on loopback and reads every response
// until the server closes the connection (bounded by a deadline).
func rawExchange(t *testing.T, addr, raw string) []*http.Response {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.SetDeadline(time.Now().Add(10*time.Second)))
	_, err = io.WriteString(c, raw)
	require.NoError(t, err)
	br := bufio.NewReader(c)
	var out []*http.Response
	for len(out) < 8 {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			break
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		resp.Body = io.NopCloser(bytes.NewReader(body))
		out = append(out, resp)
	}
	return out
}

// TestRequestFramingAttacks sends ambiguous or broken request framing on a raw connection.
// Go's server removes Content-Length when Transfer-Encoding is exactly "chunked" (RFC 9112
// 6.3) and rejects every other combination; what must hold: no request reaches the app
// with both headers, an unparsable body never reaches it as a complete request, and bytes
// after the body never turn into a request for anyone else.
func TestRequestFramingAttacks(t *testing.T) {
	cases := []struct {
		name string
		raw  string
		// rejected: the server must answer 4xx/5xx and the app must not be called.
		rejected bool
	}{
		{name: "CL+TE", raw: "POST /reflect HTTP/1.1\r\nHost: victim.example\r\nContent-Length: 35\r\nTransfer-Encoding: chunked\r\n\r\n" +
			"0\r\n\r\nGET /smuggled HTTP/1.1\r\nX: y\r\n\r\n"},
		{name: "TE chunked,identity", raw: "POST /reflect HTTP/1.1\r\nHost: victim.example\r\nContent-Length: 5\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n", rejected: true},
		{name: "two TE fields", raw: "POST /reflect HTTP/1.1\r\nHost: victim.example\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n0\r\n\r\n", rejected: true},
		{name: "TE xchunked", raw: "POST /reflect HTTP/1.1\r\nHost: victim.example\r\nContent-Length: 5\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n", rejected: true},
		{name: "two different CL", raw: "POST /reflect HTTP/1.1\r\nHost: victim.example\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nabcdef", rejected: true},
		{name: "negative CL", raw: "POST /reflect HTTP/1.1\r\nHost: victim.example\r\nContent-Length: -1\r\n\r\n", rejected: true},
		{name: "bad chunk size", raw: "POST /reflect HTTP/1.1\r\nHost: victim.example\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nsmuggled\r\n0\r\n\r\n"},
		{name: "chunk longer than declared", raw: "POST /reflect HTTP/1.1\r\nHost: victim.example\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nsmuggled\r\n0\r\n\r\n"},
		{name: "GET CL+TE", raw: "GET /reflect HTTP/1.1\r\nHost: victim.example\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: victim.example\r\nConnection: close\r\n\r\n"},
	}
	for _, m := range safetyMounts() {
		for _, tc := range cases {
			t.Run(string(m)+"/"+tc.name, func(t *testing.T) {
				r := newSafeRig(t, m)
				resps := rawExchange(t, r.addr, tc.raw)
				require.NotEmpty(t, resps, "the server answers")
				if tc.rejected {
					require.GreaterOrEqual(t, resps[0].StatusCode, 400)
					require.Zero(t, r.app.calls.Load(), "a rejected request reached the app")
				}
				require.Empty(t, r.app.framedBoth(), "a request with both Content-Length and Transfer-Encoding was forwarded")
				for _, b := range r.app.readBodies() {
					require.NotContains(t, b, "smuggled", "a body with invalid chunking reached the app as complete")
				}
				for _, resp := range resps {
					if strings.HasPrefix(tc.name, "bad chunk") || strings.HasPrefix(tc.name, "chunk longer") {
						require.NotEqual(t, http.StatusOK, resp.StatusCode, "broken chunking answered as a success")
					}
				}
				// A victim on its own connection gets the clean page.
				v := r.get(t, "/reflect", http.Header{"Host": {"victim.example"}})
				require.Equal(t, http.StatusOK, v.status)
				require.NotContains(t, string(v.body), "smuggled")
				require.Contains(t, string(v.body), "path=/reflect method=GET")
			})
		}
	}
}

func TestOversizedRequestHeaderBounded(t *testing.T) {
	for _, m := range safetyMounts() {
		t.Run(string(m), func(t *testing.T) {
			r := newSafeRig(t, m)
			raw := "GET /reflect HTTP/1.1\r\nHost: victim.example\r\nX-Big: " + strings.Repeat("a", 2<<20) + "\r\n\r\n"
			resps := rawExchange(t, r.addr, raw)
			require.NotEmpty(t, resps)
			require.Equal(t, http.StatusRequestHeaderFieldsTooLarge, resps[0].StatusCode)
			require.Zero(t, r.app.calls.Load())
		})
	}
}

// TestOversizedBodyStreamedNotStored: a body over Policy.MaxBodyBytes reaches the client
// whole and is not stored.
func TestOversizedBodyStreamedNotStored(t *testing.T) {
	for _, m := range safetyMounts() {
		t.Run(string(m), func(t *testing.T) {
			r := newSafeRig(t, m)
			want := bigBody()
			for range 2 {
				a := r.get(t, "/big", nil)
				require.Equal(t, http.StatusOK, a.status)
				require.Equal(t, len(want), len(a.body))
				require.True(t, bytes.Equal(want, a.body), "the large body arrives intact")
			}
			require.Nil(t, stored(r.store, r.front, "/big", r.clock.Now()), "a body over MaxBodyBytes was stored")
			require.EqualValues(t, 2, r.app.calls.Load())
		})
	}
}

// TestOversizedUpstreamHeaderBounded: an upstream answering with an absurd header block
// gets a bounded error through the proxy, never a stored entry.
func TestOversizedUpstreamHeaderBounded(t *testing.T) {
	r := newSafeRig(t, mountProxy)
	a := r.get(t, "/bighead", nil)
	require.GreaterOrEqual(t, a.status, 500, "%v", a)
	require.Less(t, len(a.header.Get("X-Huge")), 1<<20)
	require.Nil(t, stored(r.store, r.front, "/bighead", r.clock.Now()))
}

// TestDefaultPayloadValidated: New refuses default payloads that would inject header lines,
// and its error names the field.
func TestDefaultPayloadValidated(t *testing.T) {
	n := newNames(t)
	bad := map[string]*httpfallback.Default{
		"CRLF in value":     {Header: http.Header{"X-Note": {"ok\r\nSet-Cookie: session=evil"}}},
		"LF in value":       {Header: http.Header{"X-Note": {"ok\nSet-Cookie: session=evil"}}},
		"CR in value":       {Header: http.Header{"X-Note": {"ok\rSet-Cookie: session=evil"}}},
		"CRLF in name":      {Header: http.Header{"X-Note\r\nSet-Cookie": {"session=evil"}}},
		"colon in name":     {Header: http.Header{"X-Note: a": {"b"}}},
		"NUL in value":      {Header: http.Header{"X-Note": {"a\x00b"}}},
		"status too small":  {Status: 99},
		"status too large":  {Status: 1000},
		"status is a 1xx":   {Status: http.StatusContinue},
		"CRLF in per-route": nil, // placeholder: the per-route map below
	}
	for name, def := range bad {
		t.Run(name, func(t *testing.T) {
			cfg := httpfallback.Config{Name: n.next("engine")}
			field := "Default"
			if def == nil {
				cfg.Defaults = map[string]*httpfallback.Default{
					"/api/": {Header: http.Header{"X-Note": {"ok\r\nLocation: http://evil.example/"}}},
				}
				field = "Defaults"
			} else {
				cfg.Default = def
			}
			eng, err := httpfallback.New(cfg)
			if eng != nil {
				_ = eng.Close()
			}
			require.Error(t, err)
			require.Contains(t, err.Error(), field, "the error names the field")
		})
	}
	t.Run("valid default accepted", func(t *testing.T) {
		eng, err := httpfallback.New(httpfallback.Config{Name: n.next("engine"), Default: &httpfallback.Default{
			Status: http.StatusOK, Header: http.Header{"Content-Type": {"application/json"}}, Body: []byte(`{}`),
		}})
		require.NoError(t, err)
		require.NoError(t, eng.Close())
	})
}

// TestOversizedRequestBodyBounded: the proxy streams request bodies upstream and stops at
// proxy.Config.MaxRequestBody (10 MiB by default): 413, and the upstream never receives the
// whole oversized body — whether Content-Length announces it or it comes chunked.
func TestOversizedRequestBodyBounded(t *testing.T) {
	const size = 11 << 20
	for _, chunked := range []bool{false, true} {
		t.Run(fmt.Sprintf("chunked=%v", chunked), func(t *testing.T) {
			r := newSafeRig(t, mountProxy)
			var body io.Reader = bytes.NewReader(make([]byte, size))
			if chunked {
				body = io.MultiReader(body) // hides the length: sent chunked
			}
			req, err := http.NewRequest(http.MethodPost, r.front+"/upload", body)
			require.NoError(t, err)
			resp, err := r.client.Do(req)
			require.NoError(t, err)
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			require.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)
			for _, b := range r.app.readBodies() {
				require.Less(t, len(b), size, "the oversized body reached the upstream whole")
			}
		})
	}
}
