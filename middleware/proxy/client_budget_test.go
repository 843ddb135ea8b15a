package proxy

import (
	"io"
	"math"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/failsoft/failsoft/upstream"
)

// The default header budget covers every attempt's timeout and every capped backoff, for
// any number of attempts: it saturates instead of overflowing (the doubling backoff passed
// the longest Duration at 39 attempts of the default 100ms base, and the budget went
// negative).
func TestClientBudgetSaturates(t *testing.T) {
	// Each attempt 1s (upstream.DefaultTimeout), a tenth of one, and the backoffs:
	// 100, 200, 400, 800 and 1600ms (3.1s), then 2s (the default MaxDelay) each.
	exact := func(attempts int) time.Duration {
		return time.Duration(attempts)*time.Second + 100*time.Millisecond + 3100*time.Millisecond +
			time.Duration(attempts-6)*2*time.Second
	}
	for _, tc := range []struct {
		retry upstream.RetryPolicy
		want  time.Duration
	}{
		{upstream.RetryPolicy{}, 3*time.Second + 100*time.Millisecond + 300*time.Millisecond},
		{upstream.RetryPolicy{MaxAttempts: 40}, exact(40)},
		{upstream.RetryPolicy{MaxAttempts: 70}, exact(70)},
		{upstream.RetryPolicy{MaxAttempts: 3, BaseDelay: time.Second, MaxDelay: 1500 * time.Millisecond}, 3100*time.Millisecond + 2500*time.Millisecond},
		{upstream.RetryPolicy{MaxAttempts: math.MaxInt}, math.MaxInt64},
		{upstream.RetryPolicy{MaxAttempts: 100, MaxDelay: math.MaxInt64}, math.MaxInt64},
	} {
		assert.Equal(t, tc.want, clientBudget(upstream.ClientConfig{Retry: tc.retry}), "%+v", tc.retry)
	}
}

// A proxy with many retry attempts and a LockTimeout of its own forwards as any other
// (the overflowed budget made every GET a 504).
func TestProxyWithManyAttemptsForwards(t *testing.T) {
	up := newPxUpstream(t, func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") })
	h := newPxHarness(t, up.srv.URL, func(c *Config) {
		c.Client.Command.Timeout = 0
		c.Client.Retry.MaxAttempts = 40
		c.Engine.LockTimeout = time.Second
	})
	r := h.get("/x")
	require.Equal(t, http.StatusOK, r.status, r.body)
	require.Equal(t, "ok", r.body)
}
