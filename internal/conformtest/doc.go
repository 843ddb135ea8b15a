// Package conformtest is failsoft's HTTP caching conformance suite (RFC 9111, RFC 9110
// range requests, RFC 5861): each rule a subtest named after it, run through any of the
// module's mounts. A mount's test file calls each section (Storing, Reuse, Fields, Range,
// StaleExtensions) with a Mount that serves an origin handler through failsoft.
package conformtest
