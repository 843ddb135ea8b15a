package httpfallback

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/failsoft/failsoft/cache"
	"github.com/failsoft/failsoft/internal/fakeclock"
	"github.com/failsoft/failsoft/upstream"
)

// Over its own Memory store, the engine builds a request's key in a reused buffer and
// looks it up through a view of it (viewKey): whatever keeps a key gets a copy. A hit's
// event carries its own request's key after later requests reused the buffer, and so do
// the misses and the entries they store (each path answers its own body).
func TestKeysKeptFromReusedBuffersAreTheirOwn(t *testing.T) {
	var mu sync.Mutex
	keys := map[EventKind][]string{}
	eng, err := New(Config{
		Common: upstream.Common{Now: fakeclock.New().Now},
		OnEvent: func(ev Event) {
			mu.Lock()
			defer mu.Unlock()
			keys[ev.Kind] = append(keys[ev.Kind], ev.Key)
		},
	})
	require.NoError(t, err)
	defer func() { require.NoError(t, eng.Close()) }()
	require.NotNil(t, eng.appendKey, "the engine's own Memory store: keys are views")
	h := eng.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		_, _ = w.Write([]byte(r.URL.Path))
	}))
	paths := []string{"/a", "/bb", "/ccc"}
	get := func(p string) string {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "http://api.test"+p, nil))
		return rec.Body.String()
	}
	for range 2 { // misses, then hits
		for _, p := range paths {
			assert.Equal(t, p, get(p))
		}
	}
	want := make([]string, len(paths))
	for i, p := range paths {
		want[i] = cache.Key(httptest.NewRequest(http.MethodGet, "http://api.test"+p, nil), cache.KeyOptions{Headers: cache.DefaultKeyedHeaders()})
	}
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, want, keys[EventMiss], "the misses' keys")
	assert.Equal(t, want, keys[EventHit], "the hits' keys, each kept after the buffer was reused")
}

// A store of the caller's (not a cache.Memory) gets keys of their own: it may keep them.
func TestKeysAreNotViewsForOtherStores(t *testing.T) {
	mem, err := cache.New(cache.Config{})
	require.NoError(t, err)
	defer mem.Close()
	eng, err := New(Config{Store: keepingStore{mem}})
	require.NoError(t, err)
	defer func() { require.NoError(t, eng.Close()) }()
	assert.Nil(t, eng.appendKey)
	own, err := New(Config{Store: mem, Key: func(r *http.Request) string { return r.URL.Path }})
	require.NoError(t, err)
	defer func() { require.NoError(t, own.Close()) }()
	assert.Nil(t, own.appendKey, "Config.Key: the caller's own keys")
}

// keepingStore is a cache.Store that is not a *cache.Memory.
type keepingStore struct{ cache.Store }

// Without OnEvent the key stays a view until the request fetches: what the fetch keeps (its
// flight, the stored entry's key) is a copy, so that every path fetched once is a hit
// afterwards, under its own key, whatever requests reused the buffer in between.
func TestFetchedEntriesKeepTheirOwnKeys(t *testing.T) {
	eng, err := New(Config{Common: upstream.Common{Now: fakeclock.New().Now}})
	require.NoError(t, err)
	defer func() { require.NoError(t, eng.Close()) }()
	require.NotNil(t, eng.appendKey)
	calls := 0
	h := eng.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Cache-Tag", "items")
		_, _ = w.Write([]byte(r.URL.Path))
	}))
	get := func(p string) (string, string) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "http://api.test"+p, nil))
		return rec.Body.String(), rec.Header().Get("Cache-Status")
	}
	paths := []string{"/a", "/bb", "/ccc", "/dddd"}
	for _, p := range paths {
		body, _ := get(p)
		assert.Equal(t, p, body)
	}
	for _, p := range paths {
		body, cs := get(p)
		assert.Equal(t, p, body)
		assert.Contains(t, cs, "; hit", "%s is stored under its own key", p)
	}
	assert.Equal(t, len(paths), calls)
	// The purge index keeps each stored key: a tag purge finds every one of them.
	n, err := eng.PurgeTag(context.Background(), "items")
	require.NoError(t, err)
	assert.Equal(t, len(paths), n, "purged by tag: the index kept each key as it was")
	for _, p := range paths {
		_, cs := get(p)
		assert.NotContains(t, cs, "; hit", "%s purged", p)
	}
}
