// Package upstream calls upstream APIs through hystrix-go commands, with safe retries and
// typed failures. It is the only package of failsoft that touches hystrix-go.
//
// To call an HTTP API, create a Client with NewClient (only ClientConfig.Command.Name is
// required) and call its Do, or use it as an http.Client's Transport; to run any other call
// as a command, create a Runner with NewRunner. With the fallback engine (httpfallback) or
// the proxy, this package is met as their configs' Settings, RetryPolicy and Common (the
// settings a ClientConfig and an httpfallback.Config share).
//
// A Runner runs work as one named hystrix command and handles hystrix-go's sharp edges:
// the work gets a context that really ends at the timeout, panics are recovered as
// *PanicError, the caller's own cancellation never counts against the breaker, an answer
// marked with Answered (a 4xx) counts as a success, no fallback is passed to hystrix, and
// the concurrency limit holds until the work really returns. Run runs a function on a
// goroutine of hystrix's; Admit admits work that must run on the caller's goroutine, and
// asks and tells the circuit directly, without starting a goroutine.
//
// A Client is an http.RoundTripper and a Do method over a Runner with retries: exponential
// backoff with full jitter and a cap, Retry-After honoured but capped and never beyond the
// context's deadline, only for idempotent methods or requests carrying Idempotency-Key.
// Each attempt is its own command run, so a breaker that opens stops the retries at once.
// The response body stays readable after Do returns: the attempt's context is cancelled
// only when the body is closed or fully read.
//
// By default an attempt ends at the response headers: the attempt timeout and the breaker
// see only the status, and the body streams to the caller afterwards. With
// ClientConfig.BufferBody > 0 each attempt also reads the first BufferBody bytes of a 2xx
// or 3xx body inside its command run, under its timeout: a truncated or broken body
// (invalid-response) or a body still trickling at the timeout (timeout) fails the attempt,
// counts against the breaker and is retried like any other failure. A body that fits is
// handed back buffered; a longer one continues from the live stream after the buffered
// prefix.
//
// Every failure has a Reason, one of the Reason constants: circuit-open, timeout,
// overloaded, connect-error, upstream-5xx, invalid-response, panic, canceled.
package upstream
