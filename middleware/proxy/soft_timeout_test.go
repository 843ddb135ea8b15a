package proxy

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Through the proxy, an upstream that hangs (accepts, never answers) for a key holding a
// usable entry: the client gets the entry at the soft timeout, whatever the attempt
// timeout and the retries would cost; requests arriving meanwhile get it at once.
func TestProxySoftTimeoutAnswersStaleWhileTheUpstreamHangs(t *testing.T) {
	hang := make(chan struct{})
	up := newPxUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-hang:
		default:
			w.Header().Set("Cache-Control", "max-age=1, stale-if-error=600")
			fmt.Fprint(w, "good ", r.URL.Path)
			return
		}
		<-r.Context().Done() // hangs until the proxy gives up or the test ends
	})
	h := newPxHarness(t, up.srv.URL, func(c *Config) { c.Engine.SoftTimeout = 20 * time.Millisecond })
	for i := range 3 {
		require.Equal(t, fmt.Sprintf("good /k%d", i), h.get(fmt.Sprintf("/k%d", i)).body)
	}
	close(hang)
	h.clock.Advance(5 * time.Second)
	for i := range 3 {
		r := h.get(fmt.Sprintf("/k%d", i))
		assert.Equal(t, http.StatusOK, r.status)
		assert.Equal(t, fmt.Sprintf("good /k%d", i), r.body)
		assert.Equal(t, "failsoft; fwd=stale; ttl=-4; detail=soft-timeout", r.cs())
		again := h.get(fmt.Sprintf("/k%d", i))
		assert.Equal(t, fmt.Sprintf("good /k%d", i), again.body)
		assert.Equal(t, "failsoft; hit; ttl=-4; detail=in-flight", again.cs())
	}
	assert.EqualValues(t, 3, h.p.Stats().SoftTimeouts)
}
