package httpfallback

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"

	"github.com/failsoft/failsoft/cache"
	"github.com/failsoft/failsoft/upstream"
)

// ValidationError is the failure an answer whose body disagrees with its Content-Length,
// or a good answer Config.Validate refused, is turned into. Its reason is
// "invalid-response"; the response is never stored.
type ValidationError struct{ Err error }

func (e *ValidationError) Error() string { return "httpfallback: invalid response: " + e.Err.Error() }

// Unwrap returns the validator's error.
func (e *ValidationError) Unwrap() error { return e.Err }

// RunCommand runs fetch as route's command on the calling goroutine (admission, timeout
// context, outcome accounting) — what Handler does for a wrapped handler.
//
// The command's breaker and concurrency limit admit the call (or it returns
// upstream.ErrCircuitOpen / upstream.ErrOverloaded without calling fetch); fetch then runs
// inline with a context that ends at the command timeout; its outcome is reported to the
// breaker: an error, a 5xx or one of Config.FailureStatuses, a panic, or (for GET, when w
// is the engine's buffer) a Config.Validate error count as failures; a 4xx does not; the
// caller's own cancellation is returned as ctx.Err() and never counted. A fetch that
// ignores its context and overruns the timeout returns upstream.ErrTimeout.
//
// With the engine's own clock (Config.Now nil), the breaker is read as a miss through
// Handler reads it: a Closed reading is trusted for a few milliseconds (see
// upstream.Runner.StateAt), so that a circuit a burst of successes brings over its volume
// threshold with too many errors in its window opens up to that much later.
//
// The outcome is reported even when something panics between admission and the report (a
// ResponseWriter, an error's Is or Unwrap method): the panic is recovered, counted as a
// failure, the concurrency slot given back, and a *upstream.PanicError returned.
func (e *Engine) RunCommand(ctx context.Context, route string, w http.ResponseWriter, r *http.Request, fetch Fetcher) error {
	return e.runCommand(ctx, route, w, r, fetch, upstream.Open)
}

// runCommand is RunCommand; read is the state of route's breaker the caller read a moment
// ago (see upstream.Runner.AdmitRead: only Closed is trusted; pass Open when unknown).
func (e *Engine) runCommand(ctx context.Context, route string, w http.ResponseWriter, r *http.Request, fetch Fetcher, read upstream.BreakerState) (result error) {
	if route == "" {
		route = defaultRoute
	}
	if e.isClosed.Load() {
		return callFetch(ctx, w, r, fetch)
	}
	rn := e.runnerOf(route)
	if rn == nil {
		var err error
		if rn, err = e.runner(route); errors.Is(err, ErrClosed) {
			return callFetch(ctx, w, r, fetch)
		} else if err != nil {
			return err
		}
	}
	if read != upstream.Closed && e.clk != nil {
		// On the engine's own clock the breaker is read as serve reads it (StateAt: a
		// Closed reading is trusted for a few milliseconds), so that a Fetcher's command
		// (Echo's, the proxy's) does not sum hystrix's window once more per miss.
		read = rn.StateAt(e.cfg.Now())
	}
	cctx, done, err := rn.AdmitRead(ctx, read)
	if err != nil {
		return err
	}
	reported := false
	defer func() {
		if reported {
			return
		}
		// Reached only when something below panicked (or called runtime.Goexit): report
		// the failure, which gives the concurrency slot back, and answer with it.
		v := recover()
		if v == nil {
			v = "runtime.Goexit"
		}
		pe := &upstream.PanicError{Value: v, Stack: debug.Stack()}
		if res := done(pe); res != nil {
			result = res
		} else {
			result = pe
		}
	}()
	buf, _ := w.(*buffer)
	var rec *statusRecorder
	if buf == nil {
		rec = &statusRecorder{ResponseWriter: w}
		w = rec
	}
	ferr := callFetch(cctx, w, r.WithContext(cctx), fetch)
	var status int
	if buf != nil {
		status = buf.code()
	} else if rec.status != 0 {
		status = rec.status
	}
	out := e.judge(ctx, cctx, ferr, status, buf, r)
	reported = true
	res := done(out)
	if res == nil && errors.Is(cctx.Err(), context.DeadlineExceeded) && ctx.Err() == nil {
		res = upstream.ErrTimeout // overran the deadline: its answer comes too late to count
	}
	return res
}

// judge turns what the source did into the outcome reported to the breaker.
func (e *Engine) judge(ctx, cctx context.Context, ferr error, status int, buf *buffer, r *http.Request) error {
	if ferr != nil {
		if ctx.Err() != nil {
			return ctx.Err() // the caller is gone: not the source's failure
		}
		if errors.Is(ferr, context.DeadlineExceeded) && cctx.Err() != nil {
			return upstream.ErrTimeout
		}
		return ferr
	}
	if status != 0 && e.isFailure(status) {
		se := &upstream.StatusError{StatusCode: status}
		if buf != nil {
			se.Header, se.Body = buf.header, excerpt(buf.body)
		}
		return se
	}
	if buf != nil && r.Method == http.MethodGet {
		return e.validate(buf)
	}
	return nil
}

// validate checks a buffered answer once: a body shorter (or longer) than its declared
// Content-Length is truncated, whatever the status (cache.LengthMismatch; not for 204 and
// 304, which carry no content), and Config.Validate must accept a 2xx. Either failure is a
// *ValidationError ("invalid-response"), never stored.
func (e *Engine) validate(buf *buffer) error {
	if buf.validated || buf.streaming || buf.overflow {
		return nil
	}
	buf.validated = true
	status := buf.code()
	if status != http.StatusNoContent && status != http.StatusNotModified {
		if why := cache.LengthMismatch(buf.header, len(buf.body)); why != "" {
			return &ValidationError{Err: errors.New(why)}
		}
	}
	if e.cfg.Validate != nil && status < 300 {
		if err := callValidate(e.cfg.Validate, buf); err != nil {
			return &ValidationError{Err: err}
		}
	}
	return nil
}

// callValidate calls Config.Validate, turning a panic into a *upstream.PanicError: it runs while the
// command holds its concurrency slot, which a panic escaping here would never give back.
func callValidate(v func(int, http.Header, []byte) error, buf *buffer) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = &upstream.PanicError{Value: p, Stack: debug.Stack()}
		}
	}()
	return v(buf.code(), buf.header, buf.body)
}

// run calls the source on r with ctx.
func (e *Engine) run(ctx context.Context, route string, src source, w http.ResponseWriter, r *http.Request) error {
	if h := src.handler; h != nil {
		read := upstream.Open // unknown: read by Admit
		if src.closedRead {
			read = upstream.Closed
		}
		return e.runCommand(ctx, route, w, r, func(_ context.Context, w http.ResponseWriter, r *http.Request) error {
			h.ServeHTTP(w, r)
			return nil
		}, read)
	}
	return callFetch(ctx, w, r, src.fetch)
}

// callFetch calls fetch, turning a panic into a *upstream.PanicError.
func callFetch(ctx context.Context, w http.ResponseWriter, r *http.Request, fetch Fetcher) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &upstream.PanicError{Value: v, Stack: debug.Stack()}
		}
	}()
	return fetch(ctx, w, r)
}

// Runner returns route's command ("" is "*"): the breaker and concurrency limit that
// RunCommand and the middleware run the route's source under, created on first use with
// Config.Command's settings as the hystrix command Name+"/"+route (its breaker changes
// reach OnEvent as EventBreaker). A Fetcher that runs its own attempts runs them as this
// command (upstream.Client.DoWith), so that the route's failures and the engine's view of
// its breaker are one. It returns ErrClosed after Close, or an error when the command
// cannot be created. Each route creates a circuit that lives for the process: keep the
// number of routes bounded.
func (e *Engine) Runner(route string) (*upstream.Runner, error) {
	if route == "" {
		route = defaultRoute
	}
	return e.runner(route)
}

// Retried records that a Fetcher's upstream client retries route's request after a failed
// attempt whose failure reason is reason (upstream.Reason): an EventRetry to OnEvent and
// the quiet log, counted in Stats.Retries and the route's RouteStats.Retries. Call it from
// the client's retry hook (upstream.ClientConfig.OnRetry), with the route the request is
// served under; keep the routes bounded.
func (e *Engine) Retried(route, reason string) {
	if route == "" {
		route = defaultRoute
	}
	e.emit(&Event{Kind: EventRetry, Route: route, Reason: reason})
}

// runner returns route's command, creating it on first use (never on the hit path).
func (e *Engine) runner(route string) (*upstream.Runner, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if rn := e.runnerOf(route); rn != nil {
		return rn, nil
	}
	if e.closed {
		return nil, ErrClosed
	}
	s := e.cfg.Command
	s.Name = e.cfg.Name + "/" + route
	user := s.OnStateChange
	s.OnStateChange = func(name string, from, to upstream.BreakerState) {
		defer recoverHook(e.cfg.Logger, name)
		e.emit(&Event{Kind: EventBreaker, Route: route, From: from, To: to}) // logged by the quiet log
		if user != nil {
			user(name, from, to)
		}
	}
	rn, err := upstream.NewRunner(s)
	if err != nil {
		return nil, err
	}
	next := make(map[string]*upstream.Runner, len(e.allRunners())+1)
	for k, v := range e.allRunners() {
		next[k] = v
	}
	next[route] = rn
	e.runners.Store(&next)
	return rn, nil
}

// runnerOf returns route's command, nil when it has not been made.
func (e *Engine) runnerOf(route string) *upstream.Runner { return e.allRunners()[route] }

// allRunners returns the routes' commands (a map never changed once published).
func (e *Engine) allRunners() map[string]*upstream.Runner {
	if m := e.runners.Load(); m != nil {
		return *m
	}
	return nil
}

// recoverHook, deferred in a breaker state hook, recovers a panic of the user's hooks: the
// hook runs on the command's state goroutine, where a panic would end the process.
func recoverHook(log *slog.Logger, command string) {
	if v := recover(); v != nil && log != nil {
		log.LogAttrs(context.Background(), slog.LevelError, "failsoft: breaker hook panicked",
			slog.String("command", command), slog.String("panic", fmt.Sprint(v)))
	}
}

// isFailure reports whether an answer's status counts as the source failing.
func (e *Engine) isFailure(status int) bool {
	if status >= 500 {
		return true
	}
	for _, s := range e.cfg.FailureStatuses {
		if s == status {
			return true
		}
	}
	return false
}

// excerpt bounds a body kept in a StatusError, as the upstream client does.
func excerpt(b []byte) []byte {
	if len(b) > upstream.MaxExcerpt {
		return b[:upstream.MaxExcerpt:upstream.MaxExcerpt]
	}
	return b
}

// reason names a failure for Cache-Status detail, events and logs: upstream.Reason's
// names, and ReasonInvalidResponse for an answer Config.Validate (or its length) refused.
func reason(err error) string {
	if err == nil {
		return ""
	}
	if _, ok := errors.AsType[*ValidationError](err); ok {
		return ReasonInvalidResponse
	}
	return upstream.Reason(err)
}
