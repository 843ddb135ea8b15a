package upstream

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Bounds on what the client reads from bodies it does not hand back.
const (
	// drainLimit is how much of a failed attempt's body is read so that its connection
	// can be reused; a longer body is closed unread (the connection is dropped).
	drainLimit = 64 << 10
)

// errAttemptTimeout is the cause of an attempt cut by the client's own per-attempt timeout
// while it runs as another command (DoWith).
var errAttemptTimeout = errors.New("upstream: attempt timeout")

// errCredential marks a failure of ClientConfig.Credential; it is not retried.
var errCredential = errors.New("upstream: credential")

// ClientConfig configures a Client. Every zero value is a documented default; bad values
// are refused by NewClient with an error naming the field.
//
// Of the shared settings (Common): Command is the client's own command, each attempt one
// run of it, and Command.Name is required; Command.Timeout bounds each attempt. Logger
// gets one Debug record per retry (method, host, path, attempt, reason, delay). Now is the
// clock for Retry-After dates, deadlines and the rate limit.
type ClientConfig struct {
	// Common holds the settings shared with a fallback engine: Command, FailureStatuses,
	// Logger, Now.
	Common
	// Retry configures retries; the zero value retries twice (3 attempts).
	Retry RetryPolicy
	// Transport sends each attempt. nil: a clone of http.DefaultTransport, owned by the
	// Client (Close closes its idle connections).
	//
	// With an *http.Transport (nil included), each attempt runs on the calling goroutine
	// (Runner.Admit): such a transport returns as soon as the attempt's context ends, so
	// the call still ends at the timeout, and no goroutine is started for it. Any other
	// RoundTripper, which might not heed the context, runs through Runner.Run, which
	// returns at the timeout even while the attempt goes on (two goroutines per attempt).
	// Code an *http.Transport calls on the attempt's goroutine must heed the request's
	// context too, or the call outlasts the timeout: its Proxy function (called before the
	// context is looked at again), and a RoundTripper registered with RegisterProtocol for
	// the request's scheme. Wrap such a transport in a RoundTripper of your own to keep
	// Runner.Run's bound.
	Transport http.RoundTripper
	// RateLimit per second (0: none) and Burst (0: 1) before the upstream is called. An
	// attempt over the limit fails at once with ErrOverloaded.
	RateLimit float64
	Burst     int
	// Credential returns a header to add per attempt, on a clone of the request. nil: none.
	// The value never appears in logs or errors. An error from it fails the call, unretried.
	Credential func(ctx context.Context) (name, value string, err error)
	// OnRetry, if set, is called before each retry's backoff with the request being sent,
	// the number of the attempt that failed (1 for the first) and its failure reason (see
	// Reason), on the calling goroutine: for metrics (the request's context can say which
	// route or tenant it is for). It must not modify the request. Keep it fast.
	OnRetry func(req *http.Request, attempt int, reason string)
	// OnHeaders, if set, is called once per attempt when its response headers have
	// arrived, before the client reads any of its body (BufferBody's read-ahead, a failing
	// answer's excerpt), with the request being sent and the answer's status. It runs on
	// the goroutine that runs the attempt (the caller's with an *http.Transport, else the
	// command's), possibly after the attempt's timeout has passed: for a caller that bounds
	// the wait for the headers itself (a budget it stops here, and restarts in OnRetry
	// when a retry follows). It must not modify the request. Keep it fast.
	OnHeaders func(req *http.Request, status int)
	// Sleep waits between attempts and must return ctx.Err() at once when ctx is done.
	// nil: a timer.
	Sleep func(ctx context.Context, d time.Duration) error
	// Rand draws the backoff jitter; the Client serializes its use. nil: randomly seeded.
	Rand *rand.Rand
	// BufferBody, when > 0, makes each attempt read up to BufferBody bytes of a 2xx or 3xx
	// answer's body inside its command run, under the attempt timeout (Command.Timeout).
	// A body that breaks off before its end (truncated, connection reset) fails the
	// attempt with reason invalid-response (the error wraps io.ErrUnexpectedEOF), and the
	// timeout passing while reading fails it with ErrTimeout; either way the breaker
	// counts the failure, the attempt's connection is closed, and the request is retried
	// when it may be. A body that ends within BufferBody bytes is handed back buffered
	// (ContentLength set, the connection and the attempt's context released at once); a
	// longer one yields the buffered prefix and then the rest of the live stream, which
	// is not bounded by the attempt timeout. 4xx answers and failing statuses are not
	// read ahead this way (whatever BufferBody says, the body of a failing or retried
	// status is read up to 64 KiB under the attempt timeout, as the client reads it
	// itself: a body stalling past the timeout fails the attempt with ErrTimeout).
	//
	// 0 (the default): the attempt ends at the response headers and the whole body
	// streams to the caller, unbounded by the timeout. Negative: refused by NewClient.
	BufferBody int64
}

// Client calls one upstream through a Runner with retries. It is safe for concurrent use.
type Client struct {
	runner   *Runner
	rt       http.RoundTripper
	own      *http.Transport // the transport the Client created, nil when given one
	inline   bool            // rt is an *http.Transport: attempts run on the caller's goroutine
	limiter  *rate.Limiter
	retry    RetryPolicy
	failures []int
	cred     func(ctx context.Context) (name, value string, err error)
	log      *slog.Logger
	now      func() time.Time
	sleep    func(ctx context.Context, d time.Duration) error
	rnd      *lockedRand
	buffer   int64 // ClientConfig.BufferBody
	onRetry  func(req *http.Request, attempt int, reason string)
	onHeader func(req *http.Request, status int)
}

// NewClient validates cfg and returns a Client.
func NewClient(cfg ClientConfig) (*Client, error) {
	retry, err := cfg.Retry.withDefaults()
	if err != nil {
		return nil, err
	}
	if cfg.Command.Name == "" {
		return nil, errors.New("upstream: ClientConfig.Command.Name is required")
	}
	if cfg.Common, err = cfg.Common.WithDefaults("ClientConfig"); err != nil {
		return nil, fmt.Errorf("upstream: %w", err)
	}
	switch {
	case cfg.RateLimit < 0 || math.IsNaN(cfg.RateLimit) || math.IsInf(cfg.RateLimit, 0):
		return nil, fmt.Errorf("upstream: ClientConfig.RateLimit %v is not a finite rate >= 0", cfg.RateLimit)
	case cfg.Burst < 0:
		return nil, fmt.Errorf("upstream: ClientConfig.Burst %d is negative", cfg.Burst)
	case cfg.BufferBody < 0:
		return nil, fmt.Errorf("upstream: ClientConfig.BufferBody %d is negative", cfg.BufferBody)
	}
	c := &Client{
		rt: cfg.Transport, retry: retry, failures: cfg.FailureStatuses, cred: cfg.Credential,
		log: cfg.Logger, now: cfg.Now, sleep: cfg.Sleep, buffer: cfg.BufferBody, onRetry: cfg.OnRetry,
		onHeader: cfg.OnHeaders,
	}
	if c.sleep == nil {
		c.sleep = sleepCtx
	}
	r := cfg.Rand
	if r == nil {
		r = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	c.rnd = &lockedRand{r: r}
	if cfg.RateLimit > 0 {
		burst := cfg.Burst
		if burst == 0 {
			burst = 1
		}
		c.limiter = rate.NewLimiter(rate.Limit(cfg.RateLimit), burst)
	}
	runner, err := NewRunner(cfg.Command)
	if err != nil {
		return nil, err
	}
	c.runner = runner
	if c.rt == nil {
		c.own = http.DefaultTransport.(*http.Transport).Clone()
		c.rt = c.own
	}
	_, c.inline = c.rt.(*http.Transport)
	return c, nil
}

// Runner exposes the client's command (state, name).
func (c *Client) Runner() *Runner { return c.runner }

// Close releases the client's goroutines: the Runner's, and the idle connections of the
// transport the Client created (a Transport given in the config is left alone).
func (c *Client) Close() error {
	err := c.runner.Close()
	if c.own != nil {
		c.own.CloseIdleConnections()
	}
	return err
}

// Do sends req: 2xx-4xx answers come back as a response with a nil error; failures as typed
// errors, a failing status as *StatusError (with the answer's header and a body excerpt of at
// most 4 KiB; the body is closed). The body stays readable after Do returns, until the
// caller closes it or reads it to the end, bounded by req's context only.
func (c *Client) Do(req *http.Request) (*http.Response, error) {
	return c.DoWith(nil, req)
}

// DoWith is Do with each attempt run as rn's command instead of the client's own (nil:
// the client's own): rn's breaker admits and counts the attempts and its concurrency
// limit bounds them, so that callers sharing rn (one route of a fallback engine, see
// httpfallback.Engine.Runner) share one breaker whichever way they reach the upstream.
// The client's per-attempt timeout (ClientConfig.Command.Timeout) still bounds each
// attempt, as does rn's timeout when it is shorter; an attempt cut by the former fails
// with ErrTimeout, which rn's breaker counts. Retries, rate limit and credential are the
// client's.
func (c *Client) DoWith(rn *Runner, req *http.Request) (*http.Response, error) {
	resp, err := c.send(rn, req)
	if se, ok := errors.AsType[*StatusError](err); ok && resp != nil {
		if fb, ok := resp.Body.(*fullBody); ok {
			se.Body = fb.excerpt() // read ahead whole: no copy, nothing to drain
			return nil, err
		}
		se.Body, _ = io.ReadAll(io.LimitReader(resp.Body, MaxExcerpt))
		drainClose(resp.Body)
		return nil, err
	}
	return resp, err
}

// RoundTrip implements http.RoundTripper: like Do, but a failing status is returned as the
// response (body unread), not as an error.
func (c *Client) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := c.send(nil, req)
	if resp != nil {
		return resp, nil
	}
	return nil, err
}

// failureStatus reports whether an answer with status counts as a failure.
func (c *Client) failureStatus(status int) bool {
	if status >= 500 {
		return true
	}
	for _, s := range c.failures {
		if s == status {
			return true
		}
	}
	return false
}

// send runs the attempts as rn's command (nil: the client's). It returns a response only
// with a nil error or a *StatusError.
func (c *Client) send(rn *Runner, req *http.Request) (*http.Response, error) {
	if rn == nil {
		rn = c.runner
	}
	ctx := req.Context()
	canRetry := c.retry.MaxAttempts > 1 && idempotent(req) && replayable(req)
	var lastErr error
	for n := 1; ; n++ {
		if c.limiter != nil {
			if err := c.rateLimited(req, n, lastErr); err != nil {
				return nil, err
			}
		}
		resp, err := c.attempt(ctx, rn, req, n)
		retry := false
		switch {
		case !canRetry || n >= c.retry.MaxAttempts:
		case resp != nil:
			retry = c.retry.retryStatus(resp.StatusCode)
		default:
			retry = retryable(err)
		}
		if !retry {
			return resp, err
		}
		wait, ok := c.retryWait(ctx, n, resp)
		if !ok {
			return resp, err // waiting would pass the deadline: the last answer stands
		}
		if err == nil {
			err = &StatusError{StatusCode: resp.StatusCode, Header: resp.Header.Clone()}
		}
		if resp != nil {
			drainClose(resp.Body)
		}
		if c.log != nil {
			c.logRetry(ctx, rn, req, n, err, wait)
		}
		if c.onRetry != nil {
			c.onRetry(req, n, Reason(err))
		}
		lastErr = err
		if serr := c.sleep(ctx, wait); serr != nil {
			if cerr := ctx.Err(); cerr != nil {
				return nil, cerr
			}
			return nil, serr
		}
	}
}

// The helpers below are functions of their own so that what they hold does not sit in
// send's frame, which stays on the stack under every attempt (a goroutine that outgrows
// its stack copies it whole).

// rateLimited returns the error of attempt n refused by the rate limit (nil: admitted);
// lastErr is the previous attempt's failure.
func (c *Client) rateLimited(req *http.Request, n int, lastErr error) error {
	if c.limiter.AllowN(c.now(), 1) {
		return nil
	}
	if lastErr != nil {
		return fmt.Errorf("%w (rate limit refused retry %d): %w", ErrOverloaded, n-1, lastErr)
	}
	closeBody(req.Body) // a RoundTripper closes the body, also when it sends nothing
	return fmt.Errorf("%w (rate limit)", ErrOverloaded)
}

// retryWait returns the wait before the retry of attempt n, whose answer was resp (nil:
// none): the backoff, or the answer's Retry-After up to MaxRetryAfter. ok is false when
// the wait would pass ctx's deadline.
func (c *Client) retryWait(ctx context.Context, n int, resp *http.Response) (wait time.Duration, ok bool) {
	wait = c.retry.backoff(n, c.rnd.int64n)
	if resp != nil {
		if ra, ok := ParseRetryAfter(resp.Header.Get("Retry-After"), c.now()); ok {
			wait = min(ra, c.retry.MaxRetryAfter)
		}
	}
	if dl, ok := ctx.Deadline(); ok && c.now().Add(wait).After(dl) {
		return wait, false
	}
	if dl, ok := ctx.Value(retryDeadlineKey{}).(time.Time); ok && c.now().Add(wait).After(dl) {
		return wait, false
	}
	return wait, true
}

// retryDeadlineKey is the context key of WithRetryDeadline's time.
type retryDeadlineKey struct{}

// WithRetryDeadline returns a copy of parent that carries t: a Client sending a request
// with it starts no wait before a retry (backoff or Retry-After) that would end after t,
// and returns the last answer instead, as it does for a context deadline. Unlike a
// deadline, t bounds nothing else: the attempts' own contexts, and the timeouts derived
// from them, do not see it. It is for a caller that bounds a part of the call itself (say,
// a budget until response headers, stopped in OnHeaders), where a context deadline would
// stand in for the attempts' timeouts after that part is over.
func WithRetryDeadline(parent context.Context, t time.Time) context.Context {
	return context.WithValue(parent, retryDeadlineKey{}, t)
}

// logRetry logs a retry at Debug.
func (c *Client) logRetry(ctx context.Context, rn *Runner, req *http.Request, n int, err error, wait time.Duration) {
	c.log.LogAttrs(ctx, slog.LevelDebug, "upstream: retrying",
		slog.String("command", rn.Name()), slog.String("method", req.Method),
		slog.String("host", req.URL.Host), slog.String("path", req.URL.Path),
		slog.Int("attempt", n), slog.String("reason", Reason(err)), slog.Duration("delay", wait))
}

// attempt sends one attempt as one command run. It returns a response only with a nil
// error or a *StatusError; the response's body cancels the attempt's context when it is
// closed or read to its end. The attempt's request body (req.Body for the first attempt,
// a GetBody copy after) is closed by the transport once sent, by attempt otherwise.
func (c *Client) attempt(ctx context.Context, rn *Runner, req *http.Request, n int) (*http.Response, error) {
	// The attempt's context is not derived from the run's context: the run's context ends
	// when the run returns, and the caller still has to read the body.
	actx, acancel := context.WithCancel(ctx)
	// A shallow copy shares req's header, which a RoundTripper must not modify; only a
	// credential, set on the attempt's header, needs a deep one.
	var areq *http.Request
	if c.cred != nil {
		areq = req.Clone(actx)
	} else {
		areq = req.WithContext(actx)
	}
	if n > 1 && req.Body != nil && req.Body != http.NoBody {
		body, err := req.GetBody()
		if err != nil {
			acancel()
			return nil, fmt.Errorf("upstream: replaying the request body: %w", err)
		}
		areq.Body = body
	}
	if c.cred != nil {
		name, value, err := c.cred(ctx)
		if err != nil {
			acancel()
			closeBody(areq.Body)
			return nil, fmt.Errorf("%w: %w", errCredential, err)
		}
		areq.Header.Set(name, value)
	}
	// What the run and the caller share, under st.mu (one value, so that the run's
	// closure moves one variable to the heap, not five).
	var st struct {
		mu        sync.Mutex
		got       *http.Response
		abandoned bool
		sent      bool
		gotFull   bool
	}
	run := func(wctx context.Context) error {
		if rn != c.runner && c.runner.Timeout() < rn.Timeout() {
			// Another command's run: the client's per-attempt timeout bounds it too, and
			// an attempt it cuts is a timeout that command's breaker counts (not a
			// context error, which hystrix would not count).
			var cancel context.CancelFunc
			wctx, cancel = context.WithTimeoutCause(wctx, c.runner.Timeout(), errAttemptTimeout)
			defer cancel()
		}
		st.mu.Lock()
		if st.abandoned { // the verdict was given before the request could be sent
			st.mu.Unlock()
			return nil
		}
		st.sent = true // from here the transport owns areq.Body
		st.mu.Unlock()
		// The timeout bounds the attempt until the response headers, and with BufferBody
		// until the body is buffered (or its first BufferBody bytes are).
		stop := context.AfterFunc(wctx, acancel)
		resp, err := c.rt.RoundTrip(areq)
		if err == nil && c.onHeader != nil {
			c.onHeader(req, resp.StatusCode)
		}
		var rerr error
		full := false
		switch {
		case err != nil:
		case c.readsAhead(resp):
			if full, rerr = readAhead(resp, c.buffer); rerr != nil {
				resp.Body.Close() // closed, not drained: the connection is dropped
				resp = nil
			}
		case c.consumes(resp):
			// The client reads this body itself (Do's excerpt, the drain before a retry):
			// read what it will read here, under the timeout, so that a body that stalls
			// cannot hold Do past the attempt. A body that breaks off leaves the status;
			// the connection is dropped, and the body yields what arrived and then the
			// error (never an empty or shorter body passed off as whole).
			var ferr error
			if full, ferr = readAhead(resp, drainLimit); ferr != nil {
				resp.Body.Close()
			}
		}
		if !stop() {
			if resp != nil {
				resp.Body.Close()
			}
			if err == nil {
				err = wctx.Err() // the timeout (or the caller) ended the attempt
			}
			if errors.Is(context.Cause(wctx), errAttemptTimeout) && ctx.Err() == nil {
				return fmt.Errorf("%w (command %s: attempt after %v)", ErrTimeout, rn.Name(), c.runner.Timeout())
			}
			return err
		}
		// the query is left out of errors: it may carry keys
		if err != nil {
			acancel()
			return fmt.Errorf("upstream: %s %s%s: %w", req.Method, req.URL.Host, req.URL.Path, err)
		}
		if rerr != nil {
			acancel()
			// a body that broke off is a truncated answer (invalid-response), whatever
			// the transport's cause; the cause stays in the text
			return fmt.Errorf("upstream: %s %s%s: reading the body: %w: %v",
				req.Method, req.URL.Host, req.URL.Path, io.ErrUnexpectedEOF, rerr)
		}
		st.mu.Lock()
		if st.abandoned { // the verdict was given without this response
			st.mu.Unlock()
			drainClose(resp.Body)
			acancel()
			return nil
		}
		st.gotFull = full
		st.got = resp
		st.mu.Unlock()
		if c.failureStatus(resp.StatusCode) {
			// resp's own header: resp goes back with the error only to send, which either
			// drops resp (DoWith, a retry) or the error (RoundTrip), so neither copy is
			// seen beside the other.
			return &StatusError{StatusCode: resp.StatusCode, Header: resp.Header}
		}
		return nil // 2xx-4xx: answered
	}
	var err error
	if c.inline {
		err = rn.runInline(ctx, run)
	} else {
		err = rn.Run(ctx, run)
	}
	st.mu.Lock()
	resp, full := st.got, st.gotFull
	st.abandoned = true
	if !st.sent {
		closeBody(areq.Body)
	}
	st.mu.Unlock()
	if resp != nil && (err == nil || isType[*StatusError](err)) {
		if full || resp.Body == nil || resp.Body == http.NoBody {
			acancel() // nothing left to read from the connection
		} else {
			resp.Body = &attemptBody{rc: resp.Body, cancel: acancel}
		}
		return resp, err
	}
	if resp != nil {
		drainClose(resp.Body)
	}
	acancel()
	return nil, err
}

// readsAhead reports whether the attempt reads resp's body ahead (BufferBody): a body of
// a 2xx or 3xx answer that does not count as a failure. 1xx (a 101 upgrade's body is the
// connection), 4xx and failing statuses keep streaming as they did.
func (c *Client) readsAhead(resp *http.Response) bool {
	return c.buffer > 0 && resp.StatusCode >= 200 && resp.StatusCode < 400 &&
		!c.failureStatus(resp.StatusCode) && resp.Body != nil && resp.Body != http.NoBody
}

// consumes reports whether the client itself reads resp's body: a failing status (the
// StatusError excerpt) or a retried one (drained before the retry). RoundTrip hands such a
// body back whole: the part read ahead, then the rest of the stream.
func (c *Client) consumes(resp *http.Response) bool {
	return (c.failureStatus(resp.StatusCode) || c.retry.retryStatus(resp.StatusCode)) &&
		resp.Body != nil && resp.Body != http.NoBody
}

// readAhead reads up to limit bytes of resp.Body. A body that ends within limit is closed
// (its connection goes back to the pool) and replaced by a reader over the bytes, with
// ContentLength set: full is true. A longer body is replaced by a reader that yields the
// bytes read and then the rest of the stream. On a read error the body is replaced by one
// that yields the bytes read and then that error, and is left to the caller to close (it
// closes the original body).
func readAhead(resp *http.Response, limit int64) (full bool, err error) {
	// one byte beyond the limit tells a body of exactly limit bytes from a longer one
	want := limit + 1
	if want <= 0 { // limit is math.MaxInt64
		want = limit
	}
	// An unknown length starts small and grows as the body arrives: a failing answer's
	// body is mostly a line or a short JSON, and a long body's reads come in a few KiB
	// at a time (the transport's buffer) whatever the room.
	size := min(want, 512)
	if cl := resp.ContentLength; cl >= 0 && cl < want {
		size = cl + 1 // room for the known length, and for reading its end
	}
	buf := make([]byte, 0, size)
	for int64(len(buf)) < want {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)] // let append grow it
		}
		n, rerr := resp.Body.Read(buf[len(buf):min(int64(cap(buf)), want)])
		buf = buf[:len(buf)+n]
		if rerr == io.EOF {
			_ = resp.Body.Close()
			resp.Body = newFullBody(buf)
			resp.ContentLength = int64(len(buf))
			resp.TransferEncoding = nil
			return true, nil
		}
		if rerr != nil {
			resp.Body = &prefixBody{r: io.MultiReader(bytes.NewReader(buf), errReader{rerr}), rc: resp.Body}
			return false, rerr
		}
	}
	resp.Body = &prefixBody{r: io.MultiReader(bytes.NewReader(buf), resp.Body), rc: resp.Body}
	return false, nil
}

// fullBody is a body read ahead to its end (readAhead): its bytes, read back. Closing it
// does nothing (the original body is closed already).
type fullBody struct {
	bytes.Reader
	b []byte
}

func newFullBody(b []byte) *fullBody {
	fb := &fullBody{b: b}
	fb.Reset(b)
	return fb
}

func (*fullBody) Close() error { return nil }

// excerpt returns the body's first MaxExcerpt bytes for a StatusError: the buffer itself
// (capped) when the body is no longer, else a copy, so that the error does not keep a
// larger buffer alive.
func (b *fullBody) excerpt() []byte {
	if len(b.b) <= MaxExcerpt {
		return b.b[:len(b.b):len(b.b)]
	}
	return bytes.Clone(b.b[:MaxExcerpt])
}

// prefixBody yields a body's buffered prefix and then the rest of its stream.
type prefixBody struct {
	r  io.Reader
	rc io.Closer
}

func (b *prefixBody) Read(p []byte) (int, error) { return b.r.Read(p) }
func (b *prefixBody) Close() error               { return b.rc.Close() }

// errReader fails every read with err: a body's end that broke off.
type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// attemptBody cancels its attempt's context once the body is closed or fully read.
type attemptBody struct {
	rc     io.ReadCloser
	cancel context.CancelFunc
}

func (b *attemptBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if err != nil {
		b.cancel()
	}
	return n, err
}

func (b *attemptBody) Close() error {
	err := b.rc.Close()
	b.cancel()
	return err
}

// closeBody closes a request body that was never handed to the transport.
func closeBody(body io.ReadCloser) {
	if body != nil {
		_ = body.Close()
	}
}

// drainClose reads at most drainLimit bytes of body so its connection can be reused, then
// closes it.
func drainClose(body io.ReadCloser) {
	if body == nil {
		return
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(body, drainLimit))
	_ = body.Close()
}
