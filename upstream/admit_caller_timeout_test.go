package upstream

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A caller that ends its context with a cause wrapping ErrTimeout (a budget of its own that
// the command is part of) has the call counted as a timeout, whether the work's outcome
// reaches done before the callback on the caller's context or after it; a caller that
// ends its context with any other cause went away: neutral.
func TestAdmitCallerTimeoutCauseIsATimeoutEvent(t *testing.T) {
	budget := fmt.Errorf("%w: the caller's budget", ErrTimeout)
	for _, tc := range []struct {
		name  string
		cause error
		want  event
	}{
		{"timeout cause", budget, evTimeout},
		{"other cause", errors.New("client gone"), evCanceled},
		{"no cause", nil, evCanceled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Settings{Name: t.Name(), Timeout: time.Hour}.withDefaults()
			require.NoError(t, err)
			b := &eventBreaker{}
			r := newRunner(s, b)
			defer r.Close()
			const calls = 50
			for range calls {
				ctx, cancel := context.WithCancelCause(context.Background())
				wctx, done, err := r.Admit(ctx)
				require.NoError(t, err)
				cancel(tc.cause)
				<-wctx.Done()
				assert.ErrorIs(t, done(wctx.Err()), context.Canceled)
			}
			// The callback on the caller's context may still be reporting.
			require.Eventually(t, func() bool {
				b.mu.Lock()
				defer b.mu.Unlock()
				return len(b.events) == calls
			}, pollFor, pollEvery)
			b.mu.Lock()
			defer b.mu.Unlock()
			for i, ev := range b.events {
				assert.Equal(t, tc.want, ev, "call %d", i)
			}
		})
	}
}
