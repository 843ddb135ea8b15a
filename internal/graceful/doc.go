// Package graceful is the plumbing of the example programs: Main parses their common flags
// and runs them until SIGINT or SIGTERM; Serve runs an HTTP server until its context ends,
// then lets in-flight requests finish before returning, so that what the handler owns (a
// fallback engine, its store) is closed only after traffic has drained.
package graceful
