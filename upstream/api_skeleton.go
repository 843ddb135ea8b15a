package upstream

// API SKELETON — written by the lead so that the other packages can be built in parallel.
// The upstream helper replaces every body here with the real implementation (and may split
// this file), keeping the exported names and signatures. Any change of signature must be
// agreed with the lead: httpfallback and echofallback code against it.

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"time"
)

// Errors callers branch on.
var (
	ErrCircuitOpen = errors.New("upstream: circuit open")
	ErrTimeout     = errors.New("upstream: timeout")
	ErrOverloaded  = errors.New("upstream: overloaded")
)

// StatusError is an upstream answer that counts as a failure (5xx, or a configured status).
type StatusError struct {
	StatusCode int
	Header     http.Header
	Body       []byte // a bounded excerpt
}

func (e *StatusError) Error() string { return "upstream: status " + http.StatusText(e.StatusCode) }

// Reason names a failure for logs, metrics and Cache-Status detail: "circuit-open",
// "timeout", "overloaded", "connect-error", "upstream-5xx", "invalid-response", "canceled";
// "" for nil.
func Reason(err error) string { return "" }

// Answered wraps the outcome of a run that answered (for example a 4xx) so that it does
// not count against the breaker; Run returns err itself.
func Answered(err error) error { return err }

// BreakerState is a circuit's state.
type BreakerState uint8

const (
	Closed BreakerState = iota
	Open
	HalfOpen
)

func (s BreakerState) String() string { return [...]string{"closed", "open", "half-open"}[s] }

// Settings configure one command (one circuit). Every zero value is a documented default.
type Settings struct {
	Name                   string        // required, unique per process
	Timeout                time.Duration // 0: 1s
	MaxConcurrent          int           // 0: 100
	RequestVolumeThreshold int           // 0: 20
	ErrorPercentThreshold  int           // 0: 50
	SleepWindow            time.Duration // 0: 5s
	// OnStateChange is called (from a goroutine the Runner owns) when the state changes.
	OnStateChange func(name string, from, to BreakerState)
}

// Runner runs work as one named hystrix command.
type Runner struct{}

// NewRunner configures the command before its first use and refuses a duplicate name.
func NewRunner(s Settings) (*Runner, error) { return nil, errors.New("unimplemented") }

// Run runs fn as the command: fn gets a context that ends at the timeout; panics are
// recovered as failures; the caller's cancellation is returned as ctx.Err() and never
// counted; the result is typed (see the Err values, *StatusError, Reason).
func (r *Runner) Run(ctx context.Context, fn func(ctx context.Context) error) error {
	return errors.New("unimplemented")
}

// Admit is for work that must run on the caller's goroutine (a wrapped handler): it asks
// the breaker and the concurrency limit for admission and returns a context bounded by the
// timeout and a done func that reports the outcome (nil, Answered(err), or a failure) and
// returns the command's final result. done must be called exactly once.
func (r *Runner) Admit(ctx context.Context) (context.Context, func(outcome error) error, error) {
	return ctx, func(error) error { return nil }, errors.New("unimplemented")
}

// State reads the breaker without consuming the half-open probe.
func (r *Runner) State() BreakerState { return Closed }

// Name is the command name.
func (r *Runner) Name() string { return "" }

// Timeout is the per-attempt timeout in force.
func (r *Runner) Timeout() time.Duration { return 0 }

// Close stops the Runner's goroutines. The hystrix circuit itself lives on (hystrix-go).
func (r *Runner) Close() error { return nil }

// RetryPolicy configures retries.
type RetryPolicy struct {
	MaxAttempts   int           // 0: 3; 1 disables retries
	BaseDelay     time.Duration // 0: 100ms
	MaxDelay      time.Duration // 0: 2s (backoff cap)
	MaxRetryAfter time.Duration // 0: 30s (Retry-After cap)
	RetryStatuses []int         // nil: 429, 500, 502, 503, 504
}

// ClientConfig configures a Client.
type ClientConfig struct {
	Command   Settings
	Retry     RetryPolicy
	Transport http.RoundTripper // nil: a clone of http.DefaultTransport
	// RateLimit per second (0: none) and Burst (0: 1) before the upstream is called.
	RateLimit float64
	Burst     int
	// Credential returns a header to add per attempt (never logged).
	Credential func(ctx context.Context) (name, value string, err error)
	// FailureStatuses count as failures besides 5xx (for example 429).
	FailureStatuses []int
	Logger          *slog.Logger
	Now             func() time.Time
	Sleep           func(ctx context.Context, d time.Duration) error // nil: a timer
	Rand            *rand.Rand                                       // nil: seeded
}

// Client calls one upstream through a Runner with retries.
type Client struct{}

// NewClient validates cfg and returns a Client.
func NewClient(cfg ClientConfig) (*Client, error) { return nil, errors.New("unimplemented") }

// Do sends req: 2xx-4xx answers come back as a response; failures as typed errors
// (a failing status as *StatusError). The body stays readable after Do returns.
func (c *Client) Do(req *http.Request) (*http.Response, error) {
	return nil, errors.New("unimplemented")
}

// RoundTrip implements http.RoundTripper: like Do, but a failing status is returned as the
// response, not as an error.
func (c *Client) RoundTrip(req *http.Request) (*http.Response, error) {
	return nil, errors.New("unimplemented")
}

// Runner exposes the client's command (state, name).
func (c *Client) Runner() *Runner { return nil }

// Close releases the client's goroutines.
func (c *Client) Close() error { return nil }
