package httpfallback

import (
	"io"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A GET naming POST is neither stored nor served from the store, and its success
// invalidates the URL's entry as a POST's does.
func TestEngineGetNamingPostPassesThroughAndInvalidates(t *testing.T) {
	hs := newEngHarness(t, Config{}, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		_, _ = io.WriteString(w, r.Method+" "+r.Header.Get("X-Http-Method-Override"))
	})
	for _, field := range []string{"X-HTTP-Method-Override", "X-HTTP-Method", "X-Method-Override"} {
		hs.get("/x")
		require.Equal(t, "failsoft; hit; ttl=60", hs.get("/x").cs(), "stored")
		before := hs.calls.Load()

		for range 2 {
			r := hs.get("/x", field, "post")
			assert.Equal(t, "failsoft; fwd=method; fwd-status=200", r.cs(), field)
		}
		assert.Equal(t, before+2, hs.calls.Load(), "%s: every override reached the handler", field)
		r := hs.get("/x")
		assert.Contains(t, r.cs(), "fwd=uri-miss", "%s: the POST's success invalidated the entry", field)
	}
	// A field naming GET keeps the request a GET (keyed apart by the field's value).
	hs.get("/z", "X-HTTP-Method-Override", "GET")
	assert.Equal(t, "failsoft; hit; ttl=60", hs.get("/z", "X-HTTP-Method-Override", "GET").cs())
}

func TestEngineRefusesMethodOverrideWhenConfigured(t *testing.T) {
	hs := newEngHarness(t, Config{MethodOverride: MethodOverrideRefuse}, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "ok")
	})
	r := hs.get("/x", "X-Method-Override", "DELETE")
	assert.Equal(t, http.StatusBadRequest, r.status)
	assert.Equal(t, "application/problem+json", r.header.Get("Content-Type"))
	assert.EqualValues(t, 0, hs.calls.Load())
	assert.Equal(t, http.StatusOK, hs.get("/x").status)

	_, err := New(Config{MethodOverride: 7})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "Config.MethodOverride")
}
