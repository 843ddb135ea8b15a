package upstream

import (
	"context"
	"testing"
	"time"

	"github.com/failsoft/failsoft/internal/leaktest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The breaker learns of an admitted call's timeout when it passes, not when done is called
// at last (a handler that ignores its context may return much later): one failure, counted
// once.
func TestAdmitTimeoutReachesTheBreakerBeforeDone(t *testing.T) {
	r, fb := fakeRunner(t, Settings{Timeout: 10 * time.Millisecond})
	ctx, done, err := r.Admit(context.Background())
	require.NoError(t, err)
	<-ctx.Done()
	require.Eventually(t, func() bool { _, _, failures, _ := fb.counts(); return failures == 1 }, pollFor, pollEvery,
		"the timeout is counted before done")
	assert.ErrorIs(t, done(nil), ErrTimeout)
	calls, successes, failures, neutral := fb.counts()
	assert.Equal(t, [4]int{1, 0, 1, 0}, [4]int{calls, successes, failures, neutral}, "counted once")
}

// A caller that goes away before done is neutral for the breaker, as with hystrix's DoC.
func TestAdmitCallerGoneIsNeutral(t *testing.T) {
	r, fb := fakeRunner(t, Settings{Timeout: time.Minute})
	parent, cancel := context.WithCancel(context.Background())
	_, done, err := r.Admit(parent)
	require.NoError(t, err)
	cancel()
	require.Eventually(t, func() bool { _, _, _, neutral := fb.counts(); return neutral == 1 }, pollFor, pollEvery)
	assert.ErrorIs(t, done(nil), context.Canceled)
	_, successes, failures, _ := fb.counts()
	assert.Zero(t, successes+failures)
}

// Admit and done start no goroutine of their own: hystrix's DoC (Run) starts two per call,
// and Admit used to start a third around it. Both still pay hystrix's metrics, whose
// collector loop starts one goroutine per registered collector per recorded call, so the
// counts are compared: Admit must create at least 1.5 fewer goroutines per call than Run.
// Counted with runtime/metrics over many calls, not timed.
func TestAdmitStartsNoGoroutine(t *testing.T) {
	created := func() uint64 { return leaktest.GoroutinesCreated(t) }
	r, err := NewRunner(Settings{Name: t.Name(), Timeout: time.Minute, RequestVolumeThreshold: 1 << 30})
	require.NoError(t, err)
	defer r.Close()
	const calls = 200
	g0 := created()
	for i := range calls {
		_, done, err := r.Admit(context.Background())
		require.NoError(t, err)
		if i%2 == 0 {
			require.NoError(t, done(nil))
		} else {
			require.Error(t, done(assert.AnError))
		}
	}
	admit := created() - g0
	g0 = created()
	for i := range calls {
		if i%2 == 0 {
			require.NoError(t, r.Run(context.Background(), succeed))
		} else {
			require.Error(t, r.Run(context.Background(), func(context.Context) error { return assert.AnError }))
		}
	}
	run := created() - g0
	require.GreaterOrEqual(t, float64(run)-float64(admit), 1.5*calls,
		"%d goroutines for %d admissions, %d for as many runs", admit, calls, run)
}
