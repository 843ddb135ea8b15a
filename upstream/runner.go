package upstream

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

// BreakerState is a circuit's state.
type BreakerState uint8

// The states of a circuit.
const (
	// Closed lets calls through.
	Closed BreakerState = iota
	// Open refuses calls with ErrCircuitOpen.
	Open
	// HalfOpen is open with its sleep window elapsed: the next call is a probe whose
	// success closes the circuit.
	HalfOpen
)

// String returns "closed", "open" or "half-open".
func (s BreakerState) String() string {
	switch s {
	case Closed:
		return "closed"
	case Open:
		return "open"
	case HalfOpen:
		return "half-open"
	}
	return fmt.Sprintf("BreakerState(%d)", uint8(s))
}

// Settings configure one command (one circuit). Every zero value is a documented default;
// a negative value (or a percent above 100) is refused by NewRunner naming the field.
type Settings struct {
	// Name names the command in errors and in OnStateChange: required. It may be used by
	// several Runners, at once or one after another (after Close, on a config reload):
	// each Runner has a circuit of its own.
	Name string
	// Timeout bounds one run: 0 means 1s. hystrix-go counts in milliseconds, so it is
	// rounded up to a whole millisecond.
	Timeout time.Duration
	// MaxConcurrent runs at once: 0 means 100. Runs beyond it fail at once with ErrOverloaded.
	MaxConcurrent int
	// RequestVolumeThreshold is the number of calls in the rolling 10 s window before the
	// breaker may open: 0 means 20.
	RequestVolumeThreshold int
	// ErrorPercentThreshold opens the breaker when failures reach this percent: 0 means 50.
	ErrorPercentThreshold int
	// SleepWindow is how long the breaker stays open before a probe: 0 means 5s.
	SleepWindow time.Duration
	// OnStateChange, if set, is called (from a goroutine the Runner owns, one call at a
	// time, never concurrently) when the state changes. nil: no hook and no goroutine.
	OnStateChange func(name string, from, to BreakerState)
	// StatePollInterval is how often the hook goroutine reads the state besides after
	// every run (but the success of one admitted on a Closed reading while the state last
	// seen is Closed; time-driven changes, open to half-open, are only seen by polling):
	// 0 means 100ms. Used only with OnStateChange.
	StatePollInterval time.Duration
}

// Defaults of Settings' zero values.
const (
	DefaultTimeout                = time.Second
	DefaultMaxConcurrent          = 100
	DefaultRequestVolumeThreshold = 20
	DefaultErrorPercentThreshold  = 50
	DefaultSleepWindow            = 5 * time.Second
	DefaultStatePollInterval      = 100 * time.Millisecond
)

// withDefaults validates s and fills its zero values.
func (s Settings) withDefaults() (Settings, error) {
	if s.Name == "" {
		return s, errors.New("upstream: Settings.Name is required")
	}
	if err := s.check("Settings"); err != nil {
		return s, fmt.Errorf("upstream: %w", err)
	}
	return s.filled(), nil
}

// check reports the first invalid field of s (Name aside), named under field.
func (s Settings) check(field string) error {
	switch {
	case s.Timeout < 0:
		return fmt.Errorf("%s.Timeout %v is negative", field, s.Timeout)
	case s.MaxConcurrent < 0 || s.MaxConcurrent > maxConcurrentLimit:
		return fmt.Errorf("%s.MaxConcurrent %d is outside 0..%d", field, s.MaxConcurrent, maxConcurrentLimit)
	case s.RequestVolumeThreshold < 0:
		return fmt.Errorf("%s.RequestVolumeThreshold %d is negative", field, s.RequestVolumeThreshold)
	case s.ErrorPercentThreshold < 0 || s.ErrorPercentThreshold > 100:
		return fmt.Errorf("%s.ErrorPercentThreshold %d is outside 0..100", field, s.ErrorPercentThreshold)
	case s.SleepWindow < 0:
		return fmt.Errorf("%s.SleepWindow %v is negative", field, s.SleepWindow)
	case s.StatePollInterval < 0:
		return fmt.Errorf("%s.StatePollInterval %v is negative", field, s.StatePollInterval)
	}
	return nil
}

// filled returns s with its zero values (Name aside) replaced by their defaults, and the
// timeout and sleep window rounded up to whole milliseconds as hystrix-go counts them.
func (s Settings) filled() Settings {
	if s.Timeout == 0 {
		s.Timeout = DefaultTimeout
	}
	s.Timeout = time.Duration(msCeil(s.Timeout)) * time.Millisecond
	if s.MaxConcurrent == 0 {
		s.MaxConcurrent = DefaultMaxConcurrent
	}
	if s.RequestVolumeThreshold == 0 {
		s.RequestVolumeThreshold = DefaultRequestVolumeThreshold
	}
	if s.ErrorPercentThreshold == 0 {
		s.ErrorPercentThreshold = DefaultErrorPercentThreshold
	}
	if s.SleepWindow == 0 {
		s.SleepWindow = DefaultSleepWindow
	}
	s.SleepWindow = time.Duration(msCeil(s.SleepWindow)) * time.Millisecond
	if s.StatePollInterval == 0 {
		s.StatePollInterval = DefaultStatePollInterval
	}
	return s
}

// maxConcurrentLimit bounds Settings.MaxConcurrent: hystrix-go allocates a ticket per
// permitted call up front.
const maxConcurrentLimit = 1 << 20

// msCeil converts d to whole milliseconds, rounding up.
func msCeil(d time.Duration) int {
	return int((d + time.Millisecond - 1) / time.Millisecond)
}

// Runner runs work as one named hystrix command.
//
// hystrix-go's sharp edges are handled here: the work gets a context that ends at the
// timeout (hystrix only stops waiting); panics are recovered; the caller's own cancellation
// is handed to hystrix as the bare context error, which hystrix records as
// "context_canceled" / "context_deadline_exceeded", neither of which is an error for its
// breaker; no fallback is passed; and a semaphore held until the work really returns keeps
// the concurrency limit true even after hystrix hands its ticket back at the timeout.
type Runner struct {
	s   Settings
	b   breaker
	sem chan struct{}

	epoch      time.Time    // the Runner's creation: the origin of openHint
	openHint   atomic.Int64 // see OpenAt: until when (since epoch) an Open reading is trusted; 0: none
	closedHint atomic.Int64 // see StateAt: until when (since epoch) a Closed reading is trusted; 0: none

	readings atomic.Uint64 // breaker readings started (stateAt): each one's number orders them

	mu       sync.Mutex
	lastRead uint64        // the number of the reading last recorded (stateAt)
	last     BreakerState  // the state it recorded
	openedAt time.Time     // when the circuit was seen to open or last probed; zero when closed
	seen     BreakerState  // the state State last returned (with OnStateChange)
	seenNow  atomic.Uint32 // seen, read without mu (see admission.done)
	changes  []stateChange // changes State saw that the hook goroutine has not reported yet

	nudge     chan struct{} // asks the hook goroutine to read the state now
	stop      chan struct{}
	stopped   chan struct{}
	closeOnce sync.Once
}

// NewRunner validates s and creates the Runner's circuit, configured before its first use.
func NewRunner(s Settings) (*Runner, error) {
	s, err := s.withDefaults()
	if err != nil {
		return nil, err
	}
	b, err := newHystrixBreaker(s)
	if err != nil {
		return nil, err
	}
	return newRunner(s, b), nil
}

// newRunner builds a Runner over b with validated settings.
func newRunner(s Settings, b breaker) *Runner {
	r := &Runner{s: s, b: b, sem: make(chan struct{}, s.MaxConcurrent), epoch: time.Now()}
	if s.OnStateChange != nil {
		r.nudge = make(chan struct{}, 1)
		r.stop = make(chan struct{})
		r.stopped = make(chan struct{})
		go r.watch()
	}
	return r
}

// Name is the command name.
func (r *Runner) Name() string { return r.s.Name }

// Timeout is the per-attempt timeout in force.
func (r *Runner) Timeout() time.Duration { return r.s.Timeout }

// InFlight is how many runs hold a concurrency slot now (a gauge for metrics).
func (r *Runner) InFlight() int { return len(r.sem) }

// MaxConcurrent is the concurrency limit in force (Settings.MaxConcurrent with its default).
func (r *Runner) MaxConcurrent() int { return r.s.MaxConcurrent }

// Close stops the Runner's goroutine (the state hook's). It is safe to call more than once
// and concurrently. Run keeps working after Close, without the hook. hystrix-go never frees
// a circuit: each Runner leaves its circuit (a few hundred bytes and hystrix's two
// goroutines) for the life of the process, so create Runners per configuration, not per
// request.
func (r *Runner) Close() error {
	r.closeOnce.Do(func() {
		if r.stop != nil {
			close(r.stop)
			<-r.stopped
		}
	})
	return nil
}

func (r *Runner) tryAcquire() bool {
	select {
	case r.sem <- struct{}{}:
		return true
	default:
		return false
	}
}

func (r *Runner) release() { <-r.sem }

// slot tracks whether the work of one command started, so the semaphore is released
// exactly once: by the work when it ends, or by the caller when the work never starts.
type slot struct{ state atomic.Int32 } // 0 pending, 1 started, 2 abandoned

func (s *slot) start() bool   { return s.state.CompareAndSwap(0, 1) }
func (s *slot) abandon() bool { return s.state.CompareAndSwap(0, 2) }

// Run runs fn as the command: fn gets a context that ends at the timeout; panics are
// recovered as *PanicError failures; the caller's cancellation is returned as ctx.Err()
// and never counted; the result is typed (see the Err values, *StatusError, Reason).
//
// Run returns at hystrix's verdict: at the timeout it returns ErrTimeout even if fn has
// not returned yet; fn's context is done by then, and its concurrency slot stays taken
// until fn returns. fn's error is returned as is (wrapped in ErrTimeout when fn failed
// because its context hit the timeout); wrap it with Answered so that it does not count
// as a failure.
func (r *Runner) Run(ctx context.Context, fn func(ctx context.Context) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := r.refuseOpen(); err != nil {
		return err
	}
	if !r.tryAcquire() {
		return fmt.Errorf("%w (command %s: %d running)", ErrOverloaded, r.s.Name, r.s.MaxConcurrent)
	}
	var sl slot
	var answered error
	err := r.b.do(ctx, func(hctx context.Context) error {
		if !sl.start() {
			return nil // the verdict was given before the work could start; hystrix ignores this
		}
		defer r.release()
		r.noteRun()
		wctx, cancel := context.WithTimeout(ctx, r.s.Timeout)
		defer cancel()
		err := r.outcome(ctx, wctx, safeCall(wctx, fn))
		if inner, ok := unanswer(err); ok {
			answered = inner // read after do returns nil: the send on hystrix's done channel orders it
			return nil
		}
		return err
	})
	if sl.abandon() {
		r.release()
	}
	// hystrix reports the run just after DoC returns: a reading taken in between is
	// trusted for openTrust at most.
	if err == nil {
		r.reported(evSuccess)
	} else {
		r.reported(evFailure)
	}
	r.poke()
	if err == nil {
		return answered
	}
	return r.final(ctx, err)
}

// runInline is Run on the calling goroutine (Admit, fn, done): the same admission,
// context, panic recovery, breaker accounting and result, without Run's goroutines and
// hystrix's channels, but it returns only when fn does. Only for work that returns as soon
// as its context ends (an *http.Transport round trip and body read), so that the call
// still ends at the timeout.
func (r *Runner) runInline(ctx context.Context, fn func(ctx context.Context) error) error {
	wctx, done, err := r.Admit(ctx)
	if err != nil {
		return err
	}
	return done(safeCall(wctx, fn))
}

// outcome turns the work's raw result into what hystrix is told: the caller's own
// cancellation as the bare context error (not counted), a failure caused by our timeout
// as ErrTimeout.
func (r *Runner) outcome(ctx, wctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	if _, ok := unanswer(err); ok {
		return err
	}
	if errors.Is(wctx.Err(), context.DeadlineExceeded) && !errors.Is(err, ErrTimeout) {
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
			// not the caller's deadline: do not let errors.Is see a context error
			return fmt.Errorf("%w (command %s after %v)", ErrTimeout, r.s.Name, r.s.Timeout)
		}
		return fmt.Errorf("%w (command %s after %v): %w", ErrTimeout, r.s.Name, r.s.Timeout, err)
	}
	return err
}

// final is the error the caller gets: the caller's own context error wins.
func (r *Runner) final(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	return err
}

// safeCall runs fn and turns a panic into a *PanicError.
func safeCall(ctx context.Context, fn func(context.Context) error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &PanicError{Value: v, Stack: debug.Stack()}
		}
	}()
	return fn(ctx)
}

func isAnswered(err error) bool { _, ok := unanswer(err); return ok }

// Admit is for work that must run on the caller's goroutine (a wrapped handler): it asks
// the breaker and the concurrency limit for admission and returns a context bounded by the
// timeout and a done func that reports the outcome (nil, Answered(err), or a failure) and
// returns the command's final result. done must be called exactly once (later calls
// return the first result); the concurrency slot is held until then.
//
// A rejection is returned as the error (ErrCircuitOpen, ErrOverloaded, or ctx.Err()) with a
// no-op done. done returns ErrTimeout when the timeout passed before the outcome was
// reported, even if the outcome was nil or answered (a late answer counts as a timeout); the
// outcome itself (unwrapped when Answered) otherwise; ctx.Err() when the caller went away.
// A caller that ends ctx with a cause wrapping ErrTimeout (context.WithCancelCause) ends
// the call as the command's timeout: the breaker counts a timeout, not the caller going
// away (Run leaves that count to hystrix, which sees only a cancellation).
//
// Admit starts no goroutine: the breaker is asked and told directly (what hystrix's DoC
// does around its run function, without its two goroutines and channels). The breaker
// learns of a timeout when it passes, as with DoC, even if done comes much later: a timer
// (time.AfterFunc, which runs a goroutine only when it fires) records it, and a callback on
// the caller's context (context.AfterFunc, registered only when that context can end)
// records the caller going away.
func (r *Runner) Admit(ctx context.Context) (context.Context, func(outcome error) error, error) {
	return r.AdmitRead(ctx, Open)
}

// AdmitRead is Admit for a caller that read the breaker (State) a moment ago: read is what
// it returned. A Closed reading is trusted and the breaker is not read again (each read
// sums hystrix's rolling window); any other value is read again, as Admit does. The
// circuit may open in between, as it may between any reading and the call it admits.
func (r *Runner) AdmitRead(ctx context.Context, read BreakerState) (context.Context, func(outcome error) error, error) {
	noop := func(error) error { return nil }
	if err := ctx.Err(); err != nil {
		return ctx, noop, err
	}
	// The breaker is read once here (hystrix sums its rolling window at each read), and
	// allow is told what was read: see breaker.allow.
	state := read
	if state != Closed {
		state = r.State()
	}
	if state == Open {
		return ctx, noop, fmt.Errorf("%w (command %s)", ErrCircuitOpen, r.s.Name)
	}
	if !r.tryAcquire() {
		return ctx, noop, fmt.Errorf("%w (command %s: %d running)", ErrOverloaded, r.s.Name, r.s.MaxConcurrent)
	}
	if !r.b.allow(state) {
		r.reported(evShortCircuit)
		r.release()
		r.poke()
		return ctx, noop, fmt.Errorf("%w (command %s)", ErrCircuitOpen, r.s.Name)
	}
	r.noteRun()
	now := time.Now() // one reading for the start, the deadline and the timer
	a := &admission{r: r, ctx: ctx, start: now, closed: state == Closed}
	a.wctx, a.cancel = context.WithDeadline(ctx, now.Add(r.s.Timeout))
	// The command's context ends at its own deadline or when ctx ends: each is watched on
	// its own (a timer, and ctx's AfterFunc only when ctx can end at all: a fetch's
	// context often cannot), which costs fewer allocations than an AfterFunc on the
	// command's context (its done channel, children map, callback context and stop
	// func). When ctx's own deadline comes first, the command's context is ctx's (it has
	// no deadline of its own) and ends only with ctx: no timer then, so that its end is
	// the caller's (neutral), never raced by a timer as a timeout.
	expire := a.expire
	wd, _ := a.wctx.Deadline()
	if pd, ok := ctx.Deadline(); !ok || wd.Before(pd) {
		a.timer = time.AfterFunc(r.s.Timeout, expire) // wd is now+Timeout
	}
	if ctx.Done() != nil {
		a.stopCaller = context.AfterFunc(ctx, expire)
	}
	return a.wctx, a.done, nil
}

// admission is one call Admit admitted.
type admission struct {
	r          *Runner
	ctx, wctx  context.Context
	cancel     context.CancelFunc
	timer      *time.Timer // runs expire at the timeout; nil when ctx's deadline comes first
	stopCaller func() bool // unregisters expire from ctx; nil when ctx cannot end
	start      time.Time
	closed     bool        // admitted on a Closed reading
	reported   atomic.Bool // the breaker has been told (by done or by expire)
	once       sync.Once
	final      error
}

// expire runs when the command's timeout passes or the caller's context ends before done:
// a timeout for the breaker, or the caller gone (neutral), as hystrix's timer goroutine
// records. Whichever runs first reports; the other finds it reported.
func (a *admission) expire() {
	if !a.reported.CompareAndSwap(false, true) {
		return
	}
	ev := evTimeout
	if err := a.ctx.Err(); err != nil && !callerTimedOut(a.ctx) {
		ev = eventOf(err)
	}
	a.r.b.report(ev, a.start)
	a.r.reported(ev)
	a.r.poke()
}

// done reports the outcome; see Admit.
func (a *admission) done(outcome error) error {
	a.once.Do(func() {
		r, ctx, wctx := a.r, a.ctx, a.wctx
		quiet := false // nothing for the hook goroutine to look at
		if a.reported.CompareAndSwap(false, true) {
			o := outcome
			if o == nil || isAnswered(o) {
				if errors.Is(wctx.Err(), context.DeadlineExceeded) && ctx.Err() == nil {
					// reported after the deadline: too late to count as an answer
					o = wctx.Err()
				}
			}
			err := r.outcome(ctx, wctx, o)
			inner, answered := unanswer(err)
			if answered {
				err = nil
			}
			ev := eventOf(err)
			switch {
			case ev == evFailure && errors.Is(wctx.Err(), context.DeadlineExceeded) && ctx.Err() == nil:
				// The command's own timeout passed before the outcome came (the work saw
				// its context end just before expire's timer fired): a timeout, as
				// expire would have recorded it and as DoC's timer does.
				ev = evTimeout
			case err != nil && callerTimedOut(ctx):
				ev = evTimeout // as expire would have recorded it
			}
			r.b.report(ev, a.start)
			r.reported(ev)
			// The success of a call admitted on a Closed reading, while the last state any
			// reader saw is Closed, leaves the hook goroutine nothing to report: were the
			// circuit open meanwhile (a trusted reading is up to 10 ms old) and closed by
			// this success, nobody saw it open; the one way a success can open a circuit
			// (its count bringing the window over RequestVolumeThreshold with too many
			// errors in it) is seen by the next reading, which wakes the goroutine itself,
			// or by its poll. seenNow is loaded after the report: a reader recording Open
			// meanwhile wakes the goroutine, which then reads the closing too. Not waking
			// it spares a goroutine wake-up per miss.
			quiet = ev == evSuccess && a.closed && BreakerState(r.seenNow.Load()) == Closed
			if err == nil {
				a.final = inner
			} else {
				a.final = r.final(ctx, err)
			}
		} else {
			// expire recorded the end first: the timeout passed, or the caller went away.
			a.final = r.final(ctx, fmt.Errorf("%w (command %s)", ErrTimeout, r.s.Name))
		}
		if a.timer != nil {
			a.timer.Stop()
		}
		if a.stopCaller != nil {
			a.stopCaller()
		}
		a.cancel()
		r.release()
		if !quiet {
			r.poke()
		}
	})
	return a.final
}

// callerTimedOut reports whether the caller ended ctx with a cause wrapping ErrTimeout: a
// deadline of the caller's own that the command's run is part of (a proxy's budget until
// response headers), which Admit counts as the command's timeout, not as the caller going
// away.
func callerTimedOut(ctx context.Context) bool {
	return ctx.Err() != nil && errors.Is(context.Cause(ctx), ErrTimeout)
}

// eventOf is how hystrix counts a command's error: nil a success, a bare context error
// neutral, anything else a failure.
func eventOf(err error) event {
	switch err {
	case nil:
		return evSuccess
	case context.Canceled:
		return evCanceled
	case context.DeadlineExceeded:
		return evDeadline
	}
	return evFailure
}

// refuseOpen answers ErrCircuitOpen without entering hystrix while the breaker is Open
// (its sleep window not yet passed): hystrix would refuse the call too, after starting a
// command and two goroutines (measured: about 10 us a call, which every request of an
// outage paid). Once the window has passed (HalfOpen) calls go to hystrix again, which
// lets one probe through.
func (r *Runner) refuseOpen() error {
	if r.State() == Open {
		return fmt.Errorf("%w (command %s)", ErrCircuitOpen, r.s.Name)
	}
	return nil
}

// State reads the breaker without consuming the half-open probe (hystrix's IsOpen, not
// AllowRequest). hystrix-go keeps the time the circuit opened (or was last probed)
// unexported, so the Runner tracks it itself: from the first time it sees the circuit open
// and from each run admitted while open (a probe). HalfOpen is reported once SleepWindow
// has passed since then; it can lag hystrix's own view by the time between the circuit
// opening and the Runner first seeing it open (one run or one State call).
func (r *Runner) State() BreakerState { return r.stateAt(time.Time{}) }

// StateAt is State for a caller that has just read the clock: now, a time.Now reading (it
// must carry the monotonic clock reading, as time.Now's do; not a test's fake time), is the
// time State would read when the circuit is open. An open breaker is asked on every request
// it refuses: one clock reading fewer for each.
//
// A Closed reading is trusted by the StateAt calls within openTrust (10 ms) of now's clock
// after it, until an outcome other than a success is reported: hystrix sums its rolling
// window at every read (about a microsecond, once per miss). A circuit that successes alone
// bring over its volume threshold with too many errors in the window (or whose window
// slides so), or whose failure was reported while a reading was being taken (hystrix counts
// it on its own goroutine anyway), opens at a later read, up to openTrust later than it
// would have.
func (r *Runner) StateAt(now time.Time) BreakerState { return r.stateAt(now) }

// stateAt is State at now; the zero now means "read the clock when needed".
func (r *Runner) stateAt(now time.Time) BreakerState {
	if !now.IsZero() {
		if u := r.closedHint.Load(); u != 0 && int64(now.Sub(r.epoch)) < u {
			return Closed
		}
	}
	n := r.readings.Add(1)
	open := r.b.isOpen()
	r.mu.Lock()
	defer r.mu.Unlock()
	if n < r.lastRead {
		// A reading started after this one was recorded while this one was being taken:
		// this older view of hystrix must not undo it (record a closing, drop the time the
		// circuit opened, trust a Closed reading of a circuit seen open since).
		return r.last
	}
	r.lastRead = n
	var s BreakerState
	switch {
	case !open:
		r.openedAt = time.Time{}
		s = Closed
	case r.openedAt.IsZero():
		if now.IsZero() {
			now = time.Now()
		}
		r.openedAt = now
		s = Open
	case sinceMono(r.openedAt, now) > r.s.SleepWindow:
		s = HalfOpen
	default:
		s = Open
	}
	r.last = s
	r.hint(s, now)
	if r.nudge != nil && s != r.seen {
		// Whoever reads the state first sees a change (hystrix opens a circuit when it is
		// asked, not when its metrics turn): keep it for the hook goroutine, which could
		// otherwise miss an opening that a probe closed before its next look.
		if len(r.changes) == maxPendingChanges {
			r.changes = r.changes[1:]
		}
		r.changes = append(r.changes, stateChange{r.seen, s})
		r.seen = s
		r.seenNow.Store(uint32(s))
		select {
		case r.nudge <- struct{}{}:
		default:
		}
	}
	return s
}

// hint keeps (r.mu held) what a reading s at now (zero: State's, time.Now) may be trusted
// for: an Open one (OpenAt) until the sleep window ends, openTrust at most; a Closed one
// (StateAt's only) for openTrust.
func (r *Runner) hint(s BreakerState, now time.Time) {
	switch {
	case s == Closed && !now.IsZero():
		r.openHint.Store(0)
		r.closedHint.Store(int64(now.Add(openTrust).Sub(r.epoch)))
		return
	case s != Open:
		r.openHint.Store(0)
		r.closedHint.Store(0)
		return
	}
	r.closedHint.Store(0)
	if now.IsZero() {
		now = time.Now()
	}
	until := r.openedAt.Add(r.s.SleepWindow)
	if t := now.Add(openTrust); t.Before(until) {
		until = t
	}
	r.openHint.Store(int64(until.Sub(r.epoch)))
}

// sinceMono is the time from t to now (the zero now: time.Since), on the monotonic clock
// alone when both carry it (t always does).
func sinceMono(t, now time.Time) time.Duration {
	if now.IsZero() {
		return time.Since(t)
	}
	return now.Sub(t)
}

// stateChange is one change of a circuit's state.
type stateChange struct{ from, to BreakerState }

// maxPendingChanges bounds the changes kept for the hook goroutine; older ones are dropped.
const maxPendingChanges = 64

// noteRun records a probe: a run admitted while the circuit is open restarts hystrix's
// sleep window.
func (r *Runner) noteRun() {
	r.mu.Lock()
	if !r.openedAt.IsZero() {
		r.openedAt = time.Now()
	}
	r.openHint.Store(0)
	r.mu.Unlock()
}

// reported drops what an outcome makes untrustworthy: a success closes an open hystrix
// circuit (the Open hint); anything else may open a closed one when it is next read (the
// Closed hint).
func (r *Runner) reported(ev event) {
	if ev == evSuccess {
		r.openHint.Store(0)
	} else {
		r.closedHint.Store(0)
	}
}

// OpenAt reports whether the breaker is known to be Open at now without reading it: State
// or StateAt read it Open less than openTrust (10 ms) before now, its sleep window is not
// over at now, and no success (which closes an open hystrix circuit) nor probe has been
// reported since. now must be a time.Now reading (with its monotonic clock reading), as for
// StateAt. False means unknown: read the state. An open breaker is asked on every request
// it refuses, and a reading takes locks all those requests contend for; OpenAt takes none.
func (r *Runner) OpenAt(now time.Time) bool {
	u := r.openHint.Load()
	return u != 0 && int64(now.Sub(r.epoch)) < u
}

// openTrust is how long an Open reading is trusted by OpenAt.
const openTrust = 10 * time.Millisecond

// poke asks the hook goroutine to read the state after a run; it never blocks.
func (r *Runner) poke() {
	if r.nudge == nil {
		return
	}
	select {
	case r.nudge <- struct{}{}:
	default:
	}
}

// watch is the hook goroutine: it reads the state after every run (but the quiet
// successes admission.done tells of: see there) and every StatePollInterval, and calls
// OnStateChange, in order, for each change any reader of the state saw (State records
// them), so an opening that a probe closed before this goroutine looked is still reported. A circuit is never reported going from closed to half-open:
// the opening it passed through is reported first.
func (r *Runner) watch() {
	defer close(r.stopped)
	t := time.NewTicker(r.s.StatePollInterval)
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-t.C:
		case <-r.nudge:
		}
		r.State() // a time-driven change (open to half-open) is seen only by looking
		r.mu.Lock()
		changes := r.changes
		r.changes = nil
		r.mu.Unlock()
		for _, c := range changes {
			if c.from == Closed && c.to == HalfOpen {
				// The circuit opened and its sleep window passed before anyone looked
				// (a busy machine): report the opening, then the half-open state.
				r.s.OnStateChange(r.s.Name, Closed, Open)
				c.from = Open
			}
			r.s.OnStateChange(r.s.Name, c.from, c.to)
		}
	}
}
