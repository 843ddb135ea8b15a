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
	jobs chan func()  // unbuffered: a send succeeds only when an idle worker receives it
	idle atomic.Int32 // workers waiting for a job that no sender has claimed
}

// goBackground runs job on a goroutine of the Engine's: an idle one when there is one,
// else a new one. The caller holds a count of e.wg (its flight's) until job returns, so
// that Close, which cancels e.base before waiting, never waits on a counter it could see
// at zero while a worker is being added.
//
// A worker counts itself idle just before it waits for a job; a sender claims one of the
// idle count (which the worker does not give back when it receives), so that it waits on
// the hand-off only for a worker that is on its way to receive it, never for one busy
// with another fetch. When the Engine closes meanwhile, the job gets a goroutine of its
// own (Close waits for it).
func (e *Engine) goBackground(job func()) {
	for {
		n := e.workers.idle.Load()
		if n <= 0 {
			break
		}
		if e.workers.idle.CompareAndSwap(n, n-1) {
			select {
			case e.workers.jobs <- job:
				return
			case <-e.base.Done():
			}
			break
		}
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
		case job = <-e.workers.jobs: // its sender took this worker off the idle count
		case <-e.base.Done():
			return
		}
	}
}
