package upstream

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// reads is how many times the fake breaker was read.
func (f *fakeBreaker) readCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reads
}

// Admit reads the breaker once per call; AdmitRead trusts a Closed reading the caller made
// and does not read it again, and reads any other value again (an open breaker refuses).
func TestAdmitReadsTheBreakerOnce(t *testing.T) {
	r, fb := fakeRunner(t, Settings{Timeout: time.Minute})
	ctx := context.Background()

	_, done, err := r.Admit(ctx)
	require.NoError(t, err)
	require.NoError(t, done(nil))
	assert.Equal(t, 1, fb.readCount(), "Admit reads the breaker once")

	_, done, err = r.AdmitRead(ctx, Closed)
	require.NoError(t, err)
	require.NoError(t, done(nil))
	assert.Equal(t, 1, fb.readCount(), "a Closed reading is not read again")

	fb.mu.Lock()
	fb.open = true
	fb.mu.Unlock()
	for _, read := range []BreakerState{Open, HalfOpen} {
		_, _, err = r.AdmitRead(ctx, read)
		assert.ErrorIs(t, err, ErrCircuitOpen, "reading %v is read again", read)
	}
	assert.Equal(t, 3, fb.readCount())
	calls, _, _, _ := fb.counts()
	assert.Equal(t, 2, calls, "two calls admitted")
}
