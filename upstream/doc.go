// Package upstream calls upstream APIs through hystrix-go commands, with safe retries and
// typed failures. It is the only package of failsoft that touches hystrix-go.
//
// A Runner runs work as one named hystrix command and handles hystrix-go's sharp edges:
// the work gets a context that really ends at the timeout, panics are recovered as
// *PanicError, the caller's own cancellation never counts against the breaker, an answer
// marked with Answered (a 4xx) counts as a success, no fallback is passed to hystrix, and
// the concurrency limit holds until the work really returns. Run runs a function on a
// goroutine of hystrix's; Admit admits work that must run on the caller's goroutine.
//
// A Client is an http.RoundTripper and a Do method over a Runner with retries: exponential
// backoff with full jitter and a cap, Retry-After honoured but capped and never beyond the
// context's deadline, only for idempotent methods or requests carrying Idempotency-Key.
// Each attempt is its own command run, so a breaker that opens stops the retries at once.
// The response body stays readable after Do returns: the attempt's context is cancelled
// only when the body is closed or fully read.
//
// Every failure has a Reason: circuit-open, timeout, overloaded, connect-error,
// upstream-5xx, invalid-response, canceled.
package upstream
