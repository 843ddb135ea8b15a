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

// With the route's breaker open, an entry within stale-while-revalidate is served as
// any stale answer with the breaker open is: no background refresh (a goroutine, a
// flight and a refused command per answer, each logged at Info) is started for a call
// the breaker would refuse.
func TestBreakerOpenStaleWhileRevalidateStartsNoRefresh(t *testing.T) {
	var failing atomic.Bool
	cfg := Config{Common: upstream.Common{Command: fastCommand()}}
	cfg.Command.SleepWindow = time.Hour
	hs := newEngHarness(t, cfg, func(w http.ResponseWriter, r *http.Request) {
		if failing.Load() {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.Header().Set("Cache-Control", "max-age=10, stale-while-revalidate=600")
		fmt.Fprint(w, "v1")
	})
	require.Equal(t, "v1", hs.get("/swr").body)
	failing.Store(true)
	hs.waitOpen(defaultRoute, func() { hs.get("/other") })
	hs.clock.Advance(15 * time.Second)

	before := hs.eng.Stats().Refreshes
	for range 5 {
		r := hs.get("/swr")
		assert.Equal(t, "v1", r.body)
		assert.Equal(t, "failsoft; hit; ttl=-5; detail=stale-while-revalidate", r.cs())
	}
	require.NoError(t, hs.eng.Close()) // waits for any background fetch
	assert.Equal(t, before, hs.eng.Stats().Refreshes, "no refresh started while the breaker is open")
}
