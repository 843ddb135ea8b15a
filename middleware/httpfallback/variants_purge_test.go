package httpfallback

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// versionedLangHandler answers GET with the current version in the language asked for,
// varying on Accept-Language and fresh for a minute; a POST bumps the version.
func versionedLangHandler(version *atomic.Int64) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			version.Add(1)
			fmt.Fprint(w, "updated")
			return
		}
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Vary", "Accept-Language")
		fmt.Fprintf(w, "lang=%s v=%d", r.Header.Get("Accept-Language"), version.Load())
	}
}

// The reviewer's scenario: an invalidation must reach every variant, not only the one the
// primary key held. Before the fix, the last GET fr was the pre-POST fr body, "hit; ttl=60".
func TestUnsafeMethodInvalidatesEveryVariant(t *testing.T) {
	var version atomic.Int64
	version.Store(1)
	hs := newEngHarness(t, Config{}, versionedLangHandler(&version))

	require.Equal(t, "lang=en v=1", hs.get("/doc", "Accept-Language", "en").body)
	require.Equal(t, "lang=fr v=1", hs.get("/doc", "Accept-Language", "fr").body)
	hit := hs.get("/doc", "Accept-Language", "fr")
	require.Equal(t, "lang=fr v=1", hit.body)
	require.True(t, hasParam(hit.cs(), "hit"), "setup: both variants are stored: %s", hit.cs())

	post := hs.do(http.MethodPost, "/doc")
	require.Equal(t, http.StatusOK, post.status)
	require.Equal(t, "updated", post.body)

	en := hs.get("/doc", "Accept-Language", "en")
	assert.Equal(t, "lang=en v=2", en.body)
	assert.True(t, hasParam(en.cs(), "stored"), en.cs())

	fr := hs.get("/doc", "Accept-Language", "fr")
	assert.Equal(t, "lang=fr v=2", fr.body, "the fr variant stored before the POST must not be served")
	assert.False(t, hasParam(fr.cs(), "hit"), fr.cs())
	assert.True(t, hasParam(fr.cs(), "stored"), fr.cs())

	// The new generation's variants are served from the store again.
	calls := hs.calls.Load()
	for _, lang := range []string{"en", "fr"} {
		r := hs.get("/doc", "Accept-Language", lang)
		assert.Equal(t, "lang="+lang+" v=2", r.body)
		assert.True(t, hasParam(r.cs(), "hit"), r.cs())
	}
	assert.Equal(t, calls, hs.calls.Load(), "fresh hits do not call the handler")
}

// Engine.Purge invalidates every variant too.
func TestPurgeInvalidatesEveryVariant(t *testing.T) {
	var version atomic.Int64
	version.Store(1)
	hs := newEngHarness(t, Config{}, versionedLangHandler(&version))
	for _, lang := range []string{"en", "fr", "de"} {
		require.Equal(t, "lang="+lang+" v=1", hs.get("/doc", "Accept-Language", lang).body)
	}
	version.Store(2) // changed behind the cache's back: the application purges
	req, err := http.NewRequest(http.MethodGet, hs.srv.URL+"/doc", nil)
	require.NoError(t, err)
	req.Host = req.URL.Host
	hs.eng.Purge(context.Background(), req)

	// Asked in another order than stored: whichever comes first, none may be the old one.
	for _, lang := range []string{"de", "en", "fr"} {
		r := hs.get("/doc", "Accept-Language", lang)
		assert.Equal(t, "lang="+lang+" v=2", r.body, r.cs())
		assert.False(t, hasParam(r.cs(), "hit"), r.cs())
	}
}
