package httpfallback

import "sync/atomic"

// maxIdleWorkers bounds the goroutines an Engine keeps waiting for its next background
// fetch; more run at once when needed, and exit when done.
const maxIdleWorkers = 4

// workers hands an Engine's background fetches (goFetch) to goroutines it keeps: one that
// finished a fetch waits for the next instead of exiting, so that a fetch run in the
// background (a stale entry's refresh, the fetch a request holding stale answers at the
// soft timeout) starts neither a goroutine nor, its stack having grown already, the
// copies of a new one's stack as the fetch goes deeper (measured: about a fifth of
// StaleOnError's profile). New makes jobs; the Engine owns the goroutines: each is
// counted in its wait group and exits when its base context ends (Close).
type workers struct {
	jobs chan func() // unbuffered: a send succeeds only when an idle worker receives it
	idle atomic.Int32
}

// goBackground runs job on a goroutine of the Engine's: an idle one when there is one,
// else a new one. The caller holds a count of e.wg (its flight's) until job returns, so
// that Close, which cancels e.base before waiting, never waits on a counter it could see
// at zero while a worker is being added.
func (e *Engine) goBackground(job func()) {
	select {
	case e.workers.jobs <- job:
		return
	default:
	}
	e.wg.Add(1)
	go e.work(job)
}

// work runs job, then the jobs goBackground hands it while it is one of at most
// maxIdleWorkers idle workers, until the Engine is closed.
func (e *Engine) work(job func()) {
	defer e.wg.Done()
	for {
		job()
		if e.workers.idle.Add(1) > maxIdleWorkers {
			e.workers.idle.Add(-1)
			return
		}
		select {
		case job = <-e.workers.jobs:
			e.workers.idle.Add(-1)
		case <-e.base.Done():
			e.workers.idle.Add(-1)
			return
		}
	}
}
