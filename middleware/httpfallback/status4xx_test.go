package httpfallback

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/failsoft/failsoft/cache"
)

// A 4xx is the caller's answer, passed through and not stored, unless Policy.Statuses
// lists it (or it has explicit freshness): then it is stored and answered from the store
// like a 200 (404s of missing items, say). Neither counts as a failure.
func TestListed4xxIsStored(t *testing.T) {
	handler := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		http.Error(w, "no such item", http.StatusNotFound)
	}
	listed := newEngHarness(t, Config{Policy: cache.Policy{Statuses: []int{200, 404}, FreshFor: time.Minute}}, handler)
	r := listed.get("/missing")
	assert.Equal(t, http.StatusNotFound, r.status)
	assert.Contains(t, r.cs(), "stored")
	r = listed.get("/missing")
	assert.Equal(t, http.StatusNotFound, r.status)
	assert.Equal(t, "no such item\n", r.body)
	assert.Contains(t, r.cs(), "hit")
	assert.EqualValues(t, 1, listed.calls.Load())
	assert.Zero(t, listed.eng.Stats().Errors)

	// Not listed, and without explicit freshness: passed through. (With its max-age the
	// default Statuses would store it, RFC 9111 3: see conformance_handler_test.go.)
	plain := newEngHarness(t, Config{Policy: cache.Policy{FreshFor: time.Minute}}, func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no such item", http.StatusNotFound)
	})
	for range 2 {
		r := plain.get("/missing")
		assert.Equal(t, http.StatusNotFound, r.status)
		assert.NotContains(t, r.cs(), "stored")
	}
	assert.EqualValues(t, 2, plain.calls.Load())
	assert.Zero(t, plain.eng.Stats().Stored)
}
