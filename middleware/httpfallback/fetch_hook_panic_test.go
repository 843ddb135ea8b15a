package httpfallback

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// An OnEvent that panics inside a background fetch (here on EventStored) ends that fetch,
// but the request waiting on it up to the soft timeout is still answered, from its stale
// entry: the fetch's flight publishes a failure, never nothing.
func TestPanickingOnEventInBackgroundFetchStillAnswersTheWaitingRequest(t *testing.T) {
	cfg := Config{SoftTimeout: time.Hour}
	armed := make(chan struct{})
	cfg.OnEvent = func(ev Event) {
		select {
		case <-armed:
			if ev.Kind == EventStored {
				panic("hook bug")
			}
		default:
		}
	}
	var calls atomic.Int64
	hs := newEngHarness(t, cfg, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=10, stale-if-error=600")
		fmt.Fprint(w, "v", calls.Add(1))
	})
	require.Equal(t, "v1", hs.get("/h").body)
	hs.clock.Advance(15 * time.Second)
	close(armed)

	// On the test's goroutine (no server to recover a panic, no client to retry): the
	// request waits on the background fetch, whose EventStored panics.
	rec := httptest.NewRecorder()
	hs.srv.Config.Handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, hs.srv.URL+"/h", nil))
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, "v1", rec.Body.String())
	assert.Contains(t, rec.Header().Get("Cache-Status"), "fwd=stale")
}
