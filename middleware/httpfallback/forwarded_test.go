package httpfallback

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// Behind the net/http middleware, a handler that builds links from Forwarded's host= (as
// gorilla's ProxyHeaders lets it) cannot be made to store an attacker's host under the
// clean key: Forwarded's host= and proto= are keyed; its for= (the client's address) is
// not, so clients behind one proxy still share entries.
func TestForwardedHostCannotPoisonTheCleanKey(t *testing.T) {
	hs := newEngHarness(t, Config{}, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		_, _ = io.WriteString(w, "link=//"+forwardedHost(r)+"/next")
	})
	attacker := hs.get("/page", "Forwarded", "for=192.0.2.1;host=evil.example")
	assert.Contains(t, attacker.body, "evil.example")
	victim := hs.get("/page")
	assert.NotContains(t, victim.body, "evil.example")
	assert.Contains(t, victim.cs(), "stored", "the clean key was not filled by the attacker")

	// Two clients behind one proxy: their addresses differ, the entry is shared.
	a := hs.get("/shared", "Forwarded", "for=198.51.100.1;proto=https")
	b := hs.get("/shared", "Forwarded", "for=198.51.100.2;proto=https")
	assert.Contains(t, a.cs(), "stored")
	assert.Contains(t, b.cs(), "hit")
	assert.EqualValues(t, 3, hs.calls.Load())
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
