package httpfallback

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestOverrideHeadersAreKeyed: URL, method and host override headers reach the handler
// unmodified, and are keyed: an attacker's values only land in a key the victim never
// uses, while requests from a trusted proxy (same X-Forwarded-Host) share one entry.
func TestOverrideHeadersAreKeyed(t *testing.T) {
	var calls atomic.Int64
	hs := newEngHarness(t, Config{}, func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Cache-Control", "max-age=60")
		fmt.Fprintf(w, "host=%s xfh=%s xfp=%s xo=%s mo=%s", r.Host, r.Header.Get("X-Forwarded-Host"),
			r.Header.Get("X-Forwarded-Proto"), r.Header.Get("X-Original-URL"), r.Header.Get("X-HTTP-Method-Override"))
	})
	host := strings.TrimPrefix(hs.srv.URL, "http://")
	attack := hs.get("/p", "X-Forwarded-Host", "evil.example", "X-Original-URL", "/admin", "X-HTTP-Method-Override", "DELETE")
	assert.Equal(t, "host="+host+" xfh=evil.example xfp= xo=/admin mo=DELETE", attack.body, "the handler sees the request as sent")

	victim := hs.get("/p")
	assert.Equal(t, "host="+host+" xfh= xfp= xo= mo=", victim.body)
	assert.Contains(t, victim.cs(), "fwd=uri-miss", "the attacker's answer is not the victim's entry")

	again := hs.get("/p", "X-Forwarded-Host", "evil.example", "X-Original-URL", "/admin", "X-HTTP-Method-Override", "DELETE")
	assert.Equal(t, attack.body, again.body)
	assert.Equal(t, "failsoft; fwd=method; fwd-status=200", again.cs(), "a GET naming DELETE is a DELETE: never stored (screen.go)")
	keyed := hs.get("/p", "X-Forwarded-Host", "evil.example", "X-Original-URL", "/admin")
	again = hs.get("/p", "X-Forwarded-Host", "evil.example", "X-Original-URL", "/admin")
	assert.Equal(t, keyed.body, again.body)
	assert.Contains(t, again.cs(), "hit", "the same override values share their own entry")

	// Behind a trusted proxy: every request carries the public host and scheme.
	proxied := []string{"X-Forwarded-Host", "api.example.com", "X-Forwarded-Proto", "https"}
	first := hs.get("/links", proxied...)
	assert.Equal(t, "host="+host+" xfh=api.example.com xfp=https xo= mo=", first.body)
	second := hs.get("/links", proxied...)
	assert.Equal(t, first.body, second.body)
	assert.Contains(t, second.cs(), "hit")
	other := hs.get("/links", "X-Forwarded-Host", "api.example.com", "X-Forwarded-Proto", "http")
	assert.Contains(t, other.body, "xfp=http ", "another scheme is another entry")
	assert.EqualValues(t, 6, calls.Load())
}

// TestSourceSeesKeyedHost: the host reaches the source in the key's form (lowercase, no
// default port), so a handler reflecting it cannot store a variant under the shared key.
func TestSourceSeesKeyedHost(t *testing.T) {
	hs := newEngHarness(t, Config{}, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		fmt.Fprintf(w, "host=%s", r.Host)
	})
	cases := map[string]string{
		"Victim.Example":     "host=victim.example",
		"victim.example:80":  "host=victim.example",
		"victim.example:":    "host=victim.example",
		"victim.example:801": "host=victim.example:801",
	}
	for in, want := range cases {
		req, err := http.NewRequest(http.MethodGet, hs.srv.URL+"/h?"+url.QueryEscape(in), nil)
		require.NoError(t, err)
		req.Host = in
		res, err := hs.srv.Client().Do(req)
		require.NoError(t, err)
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		assert.Equal(t, want, string(b), in)
	}
}
