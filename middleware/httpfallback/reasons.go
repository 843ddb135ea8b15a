package httpfallback

import "github.com/failsoft/failsoft/upstream"

// Reasons name why an answer is not the source's own: Event.Reason, the Cache-Status
// detail parameter, logs, metrics and Default.Func's reason argument. A failure of the
// source has upstream.Reason's name (the same constants, repeated here so that one list
// holds every name the engine uses); the engine adds its own.
const (
	ReasonCircuitOpen     = upstream.ReasonCircuitOpen     // the breaker is open: the source was not called
	ReasonTimeout         = upstream.ReasonTimeout         // the command's timeout passed
	ReasonOverloaded      = upstream.ReasonOverloaded      // the concurrency limit: the source was not called
	ReasonConnectError    = upstream.ReasonConnectError    // the upstream could not be reached
	ReasonUpstream5xx     = upstream.ReasonUpstream5xx     // a 5xx, or one of Config.FailureStatuses
	ReasonInvalidResponse = upstream.ReasonInvalidResponse // refused by Config.Validate, truncated, malformed
	ReasonPanic           = upstream.ReasonPanic           // the source panicked
	ReasonCanceled        = upstream.ReasonCanceled        // the client went away

	// The engine's own reasons.

	ReasonLockTimeout          = "lock-timeout"           // the fetch this request waited on passed Config.LockTimeout
	ReasonStaleWhileRevalidate = "stale-while-revalidate" // within stale-while-revalidate: refreshed in the background
	ReasonInFlight             = "in-flight"              // another request's fetch of the key is running
	ReasonSoftTimeout          = "soft-timeout"           // the fetch passed the soft timeout and goes on in the background
	ReasonTooLarge             = "too-large"              // the answer's body is over Policy.MaxBodyBytes: not stored
	ReasonRefused              = "refused"                // a *RefusalError: the request's fault, the source was not called
)
