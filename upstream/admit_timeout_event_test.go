package upstream

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// eventBreaker records the events Admit's admissions report.
type eventBreaker struct {
	mu     sync.Mutex
	events []event
}

func (b *eventBreaker) do(ctx context.Context, fn func(context.Context) error) error {
	return fn(ctx)
}
func (b *eventBreaker) isOpen() bool            { return false }
func (b *eventBreaker) allow(BreakerState) bool { return true }
func (b *eventBreaker) report(ev event, _ time.Time) {
	b.mu.Lock()
	b.events = append(b.events, ev)
	b.mu.Unlock()
}

// Work that ends because the command's timeout ended its context is a timeout for the
// breaker, whether its outcome reaches done before or after the timer that records the
// timeout fires (the two race: the work sees the deadline at the same moment), never a
// plain failure.
func TestAdmitWorkEndedByTheTimeoutIsATimeoutEvent(t *testing.T) {
	s, err := Settings{Name: t.Name(), Timeout: time.Millisecond}.withDefaults()
	require.NoError(t, err)
	b := &eventBreaker{}
	r := newRunner(s, b)
	defer r.Close()
	const calls = 200
	for range calls {
		wctx, done, err := r.Admit(context.Background())
		require.NoError(t, err)
		<-wctx.Done()
		assert.ErrorIs(t, done(wctx.Err()), ErrTimeout)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	require.Len(t, b.events, calls)
	for i, ev := range b.events {
		assert.Equal(t, evTimeout, ev, "call %d", i)
	}
}
