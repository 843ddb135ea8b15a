// Package benchtest holds what the middleware benchmarks share: a reusable ResponseWriter,
// the bare handler a fresh hit is compared with, and serial, parallel and loopback loops
// that report the process's CPU time per request besides wall-clock time.
package benchtest
