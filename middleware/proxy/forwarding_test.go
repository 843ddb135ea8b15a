package httpfallback

import (
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
		_, _ = io.WriteString(w, "link=//"+forwardedHost(r)+"/next")
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

// forwardedHost is the host a Forwarded-aware framework would link to: the first host=
// parameter, else the request's Host.
func forwardedHost(r *http.Request) string {
	for _, v := range r.Header.Values("Forwarded") {
		for _, kv := range strings.FieldsFunc(v, func(c rune) bool { return c == ';' || c == ',' }) {
			if host, ok := strings.CutPrefix(strings.TrimSpace(kv), "host="); ok {
				return host
			}
		}
	}
	return r.Host
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
	h := newPxHarness(t, up.srv.URL, func(c *ProxyConfig) { c.Client.Retry.MaxAttempts = 1 })

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
	*recorder
	stall  time.Duration
	writes int
}

func (s *slowClient) Write(p []byte) (int, error) {
	if s.writes++; s.writes == 1 {
		<-time.After(s.stall) // the client is slow for this long: the fault, not a wait
	}
	return s.recorder.Write(p)
}

// BodyIdleTimeout bounds each wait for the upstream's body, not the time spent writing to
// a slow client: a large streamed answer to a client that stalled past it was cut (the
// upstream request cancelled mid-body).
func TestProxyBodyIdleTimeoutIgnoresSlowClient(t *testing.T) {
	big := strings.Repeat("s", 256<<10)
	up := newPxUpstream(t, func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, big) })
	const idle = 50 * time.Millisecond
	h := newPxHarness(t, up.srv.URL, func(c *ProxyConfig) {
		c.BodyIdleTimeout = idle
		c.Engine.Policy.MaxBodyBytes = 1 << 10 // streamed
	})
	w := &slowClient{recorder: newRecorder(), stall: 6 * idle}
	h.p.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/big", nil))
	require.Equal(t, http.StatusOK, w.status)
	require.Equal(t, len(big), w.body.Len(), "the streamed body was cut")
}
