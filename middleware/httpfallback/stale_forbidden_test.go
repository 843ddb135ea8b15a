package httpfallback

import (
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/failsoft/failsoft/upstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// forbidsStale answers "v1" with cc and an ETag while ok holds, else 500.
func forbidsStale(cc string, ok *atomic.Bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !ok.Load() {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.Header().Set("Cache-Control", cc)
		w.Header().Set("ETag", `"v1"`)
		fmt.Fprint(w, "v1")
	}
}

// With the route's breaker open, an entry whose response forbids serving it stale
// (proxy-revalidate, no-cache, s-maxage: kept for its validators only) is not served:
// the request gets the circuit-open error, as the failure chain gives it
// (must-revalidate: TestBreakerOpenNeverServesWhatMustRevalidate).
func TestBreakerOpenNeverServesProxyRevalidateNoCacheOrSMaxAge(t *testing.T) {
	for _, cc := range []string{"max-age=10, proxy-revalidate", "no-cache", "s-maxage=10"} {
		t.Run(cc, func(t *testing.T) {
			var ok atomic.Bool
			ok.Store(true)
			cfg := Config{Common: upstream.Common{Command: fastCommand()}, SoftTimeout: time.Hour}
			cfg.Command.SleepWindow = time.Hour
			hs := newEngHarness(t, cfg, forbidsStale(cc, &ok))
			require.Equal(t, "v1", hs.get("/m").body)
			hs.clock.Advance(15 * time.Second)
			ok.Store(false)
			hs.waitOpen(defaultRoute, func() { hs.get("/other") })

			r := hs.get("/m")
			assert.Equal(t, http.StatusServiceUnavailable, r.status, r.cs())
			assert.NotEqual(t, "v1", r.body)
			assert.Equal(t, "failsoft; detail=circuit-open", r.cs())
		})
	}
}

// s-maxage implies proxy-revalidate (RFC 9111 5.2.2.10): a shared cache must not serve
// the response stale (4.2.4), stale-if-error default or not.
func TestSMaxAgeEntryIsNotServedStaleOnFailure(t *testing.T) {
	var ok atomic.Bool
	ok.Store(true)
	hs := newEngHarness(t, Config{}, forbidsStale("s-maxage=10", &ok))
	require.Equal(t, "v1", hs.get("/s").body)
	hs.clock.Advance(15 * time.Second)
	ok.Store(false)
	r := hs.get("/s")
	assert.Equal(t, http.StatusInternalServerError, r.status, r.cs())
	assert.NotContains(t, r.cs(), "ttl=")
}
