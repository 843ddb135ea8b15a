package upstream

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A MaxDelay of the longest Duration ("no cap") saturates the backoff once BaseDelay
// doubled passes it: the jitter is drawn below the longest Duration, never from a bound
// that wrapped negative (which made rand panic), for any retry number.
func TestBackoffWithoutCapSaturates(t *testing.T) {
	p, err := RetryPolicy{MaxAttempts: 100, MaxDelay: math.MaxInt64}.withDefaults()
	require.NoError(t, err)
	top := func(n int64) int64 { // the largest draw rand could return: n-1
		require.Positive(t, n, "rand's bound")
		return n - 1
	}
	for n := 1; n < 100; n++ {
		d := p.backoff(n, top)
		assert.GreaterOrEqual(t, d, time.Duration(0), "retry %d", n)
		if n <= 30 {
			assert.Equal(t, DefaultBaseDelay<<(n-1), d, "retry %d", n)
		}
	}
	assert.Equal(t, time.Duration(math.MaxInt64-1), p.backoff(99, top))
}
