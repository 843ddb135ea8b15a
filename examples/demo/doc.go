// Command demo shows failsoft keeping an API answering through an upstream outage, on one
// machine with no outside services:
//
//	go run ./examples/demo
//
// It starts an embedded upstream on loopback that goes through phases (healthy, slow,
// erroring with 503, hanging, down with connections refused, recovered), an Echo app that
// mounts failsoft's middleware in front of a handler calling that upstream, and clients that
// drive steady traffic over a set of keys. It prints a timeline, one line per second, and a
// summary per phase: how many answers were fresh, fetched, stale, default or errors, the
// p50/p99 latency, the breaker's states and how many calls reached the upstream.
//
// Flags change the phases and their length; -json prints a machine-readable summary.
package main
