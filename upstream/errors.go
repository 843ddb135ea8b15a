package upstream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"syscall"
)

// Errors callers branch on. They are wrapped with %w, so test them with errors.Is.
var (
	// ErrCircuitOpen means the breaker refused the call: the upstream was not called.
	ErrCircuitOpen = errors.New("upstream: circuit open")
	// ErrTimeout means the command's timeout passed before the work answered.
	ErrTimeout = errors.New("upstream: timeout")
	// ErrOverloaded means the concurrency limit or the client-side rate limit refused the
	// call: the upstream was not called.
	ErrOverloaded = errors.New("upstream: overloaded")
)

// Reasons returned by Reason: the names of failures in Cache-Status details, events, logs
// and metrics. The middlewares use the same names and add their own (see httpfallback).
const (
	ReasonCircuitOpen     = "circuit-open"     // ErrCircuitOpen: the upstream was not called
	ReasonTimeout         = "timeout"          // ErrTimeout
	ReasonOverloaded      = "overloaded"       // ErrOverloaded: the upstream was not called
	ReasonConnectError    = "connect-error"    // the upstream could not be reached, or dropped the connection
	ReasonUpstream5xx     = "upstream-5xx"     // *StatusError: a 5xx or another status counted as a failure
	ReasonInvalidResponse = "invalid-response" // a truncated or malformed answer, or any other error
	ReasonPanic           = "panic"            // *PanicError: the work panicked
	ReasonCanceled        = "canceled"         // the caller's own context ended
)

// MaxExcerpt bounds StatusError.Body, for this package and for callers that build a
// StatusError from an answer they hold (the fallback engine does).
const MaxExcerpt = 4 << 10

// StatusError is an upstream answer that counts as a failure (5xx, or a configured status).
type StatusError struct {
	StatusCode int
	Header     http.Header
	Body       []byte // a bounded excerpt (at most MaxExcerpt bytes); nil when not read
}

// Error names the status; it never includes headers or the body.
func (e *StatusError) Error() string {
	return "upstream: status " + strconv.Itoa(e.StatusCode) + " " + http.StatusText(e.StatusCode)
}

// PanicError is a panic recovered from work: the work a Runner runs, or (in the
// middlewares) a wrapped handler or fetch. Its reason is "panic".
type PanicError struct {
	Value any    // the value passed to panic
	Stack []byte // the stack of the panicking goroutine
}

// Error reports the panic value (not the stack).
func (e *PanicError) Error() string { return fmt.Sprintf("upstream: panic: %v", e.Value) }

// Unwrap returns the panic value when it is an error.
func (e *PanicError) Unwrap() error {
	if err, ok := e.Value.(error); ok {
		return err
	}
	return nil
}

// Reason names a failure for logs, metrics and Cache-Status detail (one of the Reason
// constants); "" for nil. A panic is "panic" whatever its value; a context's own error (the
// caller went away) is "canceled"; a truncated or malformed answer, and any error not
// otherwise classified, are "invalid-response".
func Reason(err error) string {
	// errors.AsType, not errors.As: no allocation (a failing request's path calls this).
	switch {
	case err == nil:
		return ""
	case isType[*PanicError](err):
		return ReasonPanic
	case errors.Is(err, ErrCircuitOpen):
		return ReasonCircuitOpen
	case errors.Is(err, ErrTimeout):
		return ReasonTimeout
	case errors.Is(err, ErrOverloaded):
		return ReasonOverloaded
	case isType[*StatusError](err):
		return ReasonUpstream5xx
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return ReasonCanceled
	case isConnectError(err):
		return ReasonConnectError
	default:
		return ReasonInvalidResponse
	}
}

// isConnectError reports a failure to reach the upstream or a connection it dropped.
func isConnectError(err error) bool {
	if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNABORTED) {
		return true
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return false // a truncated answer: invalid-response
	}
	var op *net.OpError
	if errors.As(err, &op) {
		return true
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return true
	}
	// The transport reports a connection closed before any answer as a plain io.EOF.
	return errors.Is(err, io.EOF)
}

// answeredError carries the outcome of a run that answered (for example a 4xx).
type answeredError struct{ err error }

func (a *answeredError) Error() string {
	if a.err == nil {
		return "upstream: answered"
	}
	return a.err.Error()
}
func (a *answeredError) Unwrap() error { return a.err }

// Answered wraps the outcome of a run that answered (for example a 4xx) so that it does
// not count against the breaker: the breaker records a success, and Run (or Admit's done)
// returns err itself. Answered(nil) is the same as nil.
func Answered(err error) error {
	if err == nil {
		return nil
	}
	return &answeredError{err: err}
}

// unanswer reports whether err was marked by Answered and returns the inner error.
func unanswer(err error) (error, bool) {
	if err == nil {
		return nil, false
	}
	if a, ok := errors.AsType[*answeredError](err); ok {
		return a.err, true
	}
	return err, false
}

// isType reports whether err's tree holds an error of type E (errors.AsType, which does
// not allocate as errors.As with a pointer to a local does).
func isType[E error](err error) bool {
	_, ok := errors.AsType[E](err)
	return ok
}
