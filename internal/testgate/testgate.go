package testgate

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Gate holds one chosen call of a handler until the test opens it.
type Gate struct {
	calls   atomic.Int64
	holding atomic.Bool
	release chan struct{}
	opened  atomic.Bool
}

// New returns a closed gate.
func New() *Gate { return &Gate{release: make(chan struct{})} }

// Hold counts a call and returns its number (from 1); call number held blocks until Open.
func (g *Gate) Hold(held int64) int64 {
	i := g.calls.Add(1)
	if i == held {
		g.holding.Store(true)
		<-g.release
	}
	return i
}

// Calls is the number of calls counted so far.
func (g *Gate) Calls() int64 { return g.calls.Load() }

// WaitHeld waits until the chosen call is held. Should the test stop before it opens g,
// g is opened when the test ends, before the servers made earlier are closed (closing one
// waits for the held request).
func (g *Gate) WaitHeld(t testing.TB) {
	t.Helper()
	t.Cleanup(g.Open)
	WaitFor(t, g.holding.Load)
}

// Open lets the held call go on; opening again does nothing.
func (g *Gate) Open() {
	if g.opened.CompareAndSwap(false, true) {
		close(g.release)
	}
}

// WaitFor polls cond until it holds; the bound is a safety net, not a timing assertion.
func WaitFor(t testing.TB, cond func() bool) {
	t.Helper()
	require.Eventually(t, cond, 10*time.Second, time.Millisecond)
}
