package proxy

import (
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// The client's X-Original-Host, X-Forwarded-Server, X-Forwarded-Uri, X-Original-Uri,
// X-Forwarded-Path, Front-End-Https and X-Real-IP are not part of the key: an upstream
// reflecting one (a framework building links from it, a page echoing the client's address)
// had the attacker's value stored under the clean key and served to the next user. They
// are dropped before forwarding.
func TestProxyDropsUnkeyedForwardingHeaders(t *testing.T) {
	fields := []string{"X-Original-Host", "X-Forwarded-Server", "X-Forwarded-Uri", "X-Original-Uri",
		"X-Forwarded-Path", "Front-End-Https", "X-Real-IP"}
	var mu sync.Mutex
	seen := map[string]string{}
	up := newPxUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		var b strings.Builder
		mu.Lock()
		for _, f := range fields {
			if v := r.Header.Get(f); v != "" {
				seen[f] = v
				b.WriteString(f + "=" + v + "\n")
			}
		}
		mu.Unlock()
		w.Header().Set("Cache-Control", "max-age=60")
		_, _ = io.WriteString(w, "page\n"+b.String())
	})
	h := newPxHarness(t, up.srv.URL, nil)
	for _, f := range fields {
		path := "/page/" + f
		attacker := h.get(path, f, "evil.example")
		require.Equal(t, http.StatusOK, attacker.status)
		victim := h.get(path)
		require.NotContains(t, attacker.body, "evil.example", f)
		require.NotContains(t, victim.body, "evil.example", f)
	}
	mu.Lock()
	defer mu.Unlock()
	require.Empty(t, seen, "a client's field reached the upstream")
}

// An operator who needs one of them upstream names it in PassHeaders (and keys it, or
// knows the answers do not depend on it).
func TestProxyPassHeadersForwardsANamedField(t *testing.T) {
	got := make(chan string, 1)
	up := newPxUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Get("X-Real-IP") + "|" + r.Header.Get("X-Forwarded-Server")
	})
	h := newPxHarness(t, up.srv.URL, func(c *Config) { c.PassHeaders = []string{"x-real-ip"} })
	h.get("/p", "X-Real-IP", "192.0.2.9", "X-Forwarded-Server", "evil.example")
	require.Equal(t, "192.0.2.9|", <-got, "the named field passes, the others are still dropped")
}

func TestNewRefusesBadPassHeaders(t *testing.T) {
	for _, names := range [][]string{{"Connection"}, {"Proxy-Authorization"}, {"X-Custom"}, {"bad name"}, {""}} {
		p, err := New(Config{Upstream: "http://127.0.0.1:1", PassHeaders: names})
		require.Error(t, err, names)
		require.Nil(t, p)
		require.Contains(t, err.Error(), "Config.PassHeaders[0]")
	}
}
