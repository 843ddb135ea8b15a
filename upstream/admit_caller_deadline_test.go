package upstream

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// When the caller's context has a deadline before the command's timeout (an engine's
// background fetch: its context ends at the command timeout, taken a moment before the
// command starts), the command's context is the caller's, and its end is the caller's:
// neutral for the breaker every time, never counted as a timeout by a timer racing the
// caller's end.
func TestAdmitCallerDeadlineFirstIsNeutral(t *testing.T) {
	const timeout = 5 * time.Millisecond
	for i := range 20 {
		r, fb := fakeRunner(t, Settings{Timeout: timeout})
		ctx, cancel := context.WithTimeout(context.Background(), timeout) // before Admit's
		cctx, done, err := r.Admit(ctx)
		require.NoError(t, err)
		<-cctx.Done()
		require.Eventually(t, func() bool { _, _, _, neutral := fb.counts(); return neutral == 1 }, pollFor, pollEvery, "call %d", i)
		assert.ErrorIs(t, done(nil), context.DeadlineExceeded, "call %d", i)
		_, successes, failures, _ := fb.counts()
		assert.Zero(t, successes+failures, "call %d", i)
		cancel()
	}
}
