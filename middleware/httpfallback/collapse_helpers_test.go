package httpfallback

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/failsoft/failsoft/upstream"
)

// Helpers for the collapse tests: a leader's fetch is held in the handler, other requests
// join it as waiters, then the test lets the fetch go on.

// heldLeaderConfig is a Config under which a fetch the test holds is never timed out (a
// 30 s command timeout), and a waiter gives up on it after lockTimeout.
func heldLeaderConfig(lockTimeout time.Duration) Config {
	return Config{Command: upstream.Settings{Timeout: 30 * time.Second}, LockTimeout: lockTimeout}
}

// gate holds one chosen call of a handler until the test opens it.
type gate struct {
	calls   atomic.Int64
	holding atomic.Bool
	release chan struct{}
	opened  atomic.Bool
}

func newGate() *gate { return &gate{release: make(chan struct{})} }

// hold counts a call and returns its number (from 1); call number held blocks until open.
func (g *gate) hold(held int64) int64 {
	i := g.calls.Add(1)
	if i == held {
		g.holding.Store(true)
		<-g.release
	}
	return i
}

// waitHeld waits until the chosen call is held. Should the test stop before it opens g,
// g is opened when the test ends, before the servers made earlier are closed (closing one
// waits for the held request).
func (g *gate) waitHeld(t testing.TB) {
	t.Helper()
	t.Cleanup(g.open)
	waitFor(t, g.holding.Load)
}

// open lets the held call go on; opening again does nothing.
func (g *gate) open() {
	if g.opened.CompareAndSwap(false, true) {
		close(g.release)
	}
}

// waitFor polls cond until it holds; the bound is a safety net, not a timing assertion.
func waitFor(t testing.TB, cond func() bool) {
	t.Helper()
	require.Eventually(t, cond, 10*time.Second, time.Millisecond)
}

// requester is what the collapse helpers need of a harness (engHarness).
type requester interface {
	get(path string, hdr ...string) engResp
	stats() Stats
}

func (hs *engHarness) stats() Stats { return hs.eng.Stats() }

// goGet sends GET path from a goroutine of its own; the answer arrives on the channel.
func goGet(c requester, path string, hdr ...string) <-chan engResp {
	ch := make(chan engResp, 1)
	go func() { ch <- c.get(path, hdr...) }()
	return ch
}

// waitWaiting waits until n requests wait on another's fetch.
func waitWaiting(t testing.TB, c requester, n int64) {
	t.Helper()
	waitFor(t, func() bool { return c.stats().Waiting == n })
}

// leaderAndWaiter sends GET path with leaderHdr as the leader and waits until g holds its
// fetch, sends GET path with waiterHdr and waits until it waits on that fetch, then opens
// g and returns both answers.
func leaderAndWaiter(t testing.TB, c requester, g *gate, path string, leaderHdr, waiterHdr []string) (leader, waiter engResp) {
	t.Helper()
	l := goGet(c, path, leaderHdr...)
	g.waitHeld(t)
	w := goGet(c, path, waiterHdr...)
	waitWaiting(t, c, 1)
	g.open()
	return <-l, <-w
}
