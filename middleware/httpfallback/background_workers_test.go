package httpfallback

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/failsoft/failsoft/internal/leaktest"
)

// waitIdle polls until n of e's background workers wait for a job.
func waitIdle(t *testing.T, e *Engine, n int32) {
	t.Helper()
	require.Eventually(t, func() bool { return e.workers.idle.Load() == n }, 5*time.Second, time.Millisecond,
		"%d idle workers", n)
}

// A background fetch handed over while a worker waits runs on that worker: no goroutine
// is created for it.
func TestBackgroundFetchReusesIdleWorker(t *testing.T) {
	e, err := New(Config{})
	require.NoError(t, err)
	defer func() { require.NoError(t, e.Close()) }()

	ran := make(chan struct{})
	e.wg.Add(1) // the job's count, as a flight's (newFlightLocked)
	e.goBackground(func() { defer e.wg.Done(); ran <- struct{}{} })
	<-ran
	waitIdle(t, e, 1)

	g0 := leaktest.GoroutinesCreated(t)
	e.wg.Add(1)
	e.goBackground(func() { defer e.wg.Done(); ran <- struct{}{} })
	<-ran
	assert.Zero(t, leaktest.GoroutinesCreated(t)-g0, "goroutines created for a job an idle worker took")
	waitIdle(t, e, 1)
}

// Jobs that run at once get a goroutine each; once done, at most maxIdleWorkers stay, and
// Close ends them.
func TestBackgroundWorkersBoundedAndClosed(t *testing.T) {
	e, err := New(Config{})
	require.NoError(t, err)
	const jobs = maxIdleWorkers + 3
	var started sync.WaitGroup
	started.Add(jobs)
	release := make(chan struct{})
	for range jobs {
		e.wg.Add(1)
		e.goBackground(func() {
			defer e.wg.Done()
			started.Done()
			<-release
		})
	}
	started.Wait() // every job runs at once: each on a goroutine of its own
	close(release)
	waitIdle(t, e, maxIdleWorkers)
	require.NoError(t, e.Close()) // TestMain's leak check fails if a worker is left
}

// A refresh in the background still runs the source and stores its answer when it runs
// on a reused worker.
func TestRefreshOnReusedWorker(t *testing.T) {
	n := 0
	var mu sync.Mutex
	hs := newEngHarness(t, Config{}, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		n++
		v := n
		mu.Unlock()
		w.Header().Set("Cache-Control", "max-age=10, stale-while-revalidate=60")
		fmt.Fprintf(w, "v%d", v)
	})
	require.Equal(t, "v1", hs.get("/r").body)
	for i := 2; i <= 4; i++ {
		hs.clock.Advance(15 * time.Second)
		assert.Equal(t, fmt.Sprintf("v%d", i-1), hs.get("/r").body, "stale answered while refreshing")
		require.Eventually(t, func() bool { return hs.eng.Stats().Refreshes == uint64(i-1) }, 5*time.Second, time.Millisecond)
		waitIdle(t, hs.eng, 1) // the refresh's worker waits for the next
		assert.Equal(t, fmt.Sprintf("v%d", i), hs.get("/r").body, "the refresh stored its answer")
	}
}
