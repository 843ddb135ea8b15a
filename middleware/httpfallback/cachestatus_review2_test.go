package httpfallback

import (
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

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
