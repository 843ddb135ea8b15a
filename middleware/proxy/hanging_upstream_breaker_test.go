package proxy

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/failsoft/failsoft/upstream"
)

// An upstream that never sends headers opens the route's breaker: every attempt the header
// budget cuts is a timeout for the breaker. With only Engine.Command.Timeout set, the
// per-attempt timeout inherits it and would end a moment after the budget (which starts
// first), so every hung request was a 504 the breaker counted as a cancellation; with a
// per-attempt timeout longer than the budget, the budget always cut the attempt.
func TestProxyHangingUpstreamOpensTheBreaker(t *testing.T) {
	for _, tc := range []struct {
		name    string
		attempt time.Duration // Client.Command.Timeout
	}{
		{"attempt timeout inherited from the budget", 0},
		{"attempt timeout longer than the budget", time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			up := newPxUpstream(t, func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
			onEvent, opened := onBreakerOpen()
			h := newPxHarness(t, up.srv.URL, func(c *Config) {
				pxFastBreaker(time.Hour, onEvent)(c)
				c.Engine.Command.Timeout = 20 * time.Millisecond
				c.Client.Command.Timeout = tc.attempt
			})
			n := 0
			untilOpen(t, opened, func() {
				n++
				r := h.get("/hang/" + strconv.Itoa(n))
				if r.status != http.StatusServiceUnavailable { // 503 once open
					require.Equal(t, http.StatusGatewayTimeout, r.status, r.body)
					require.Equal(t, "timeout", problemReason(t, r.body))
				}
			})
			require.Equal(t, upstream.Open, h.routeState("/hang"))
		})
	}
}
