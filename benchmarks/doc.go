// Package benchmarks holds failsoft's micro benchmarks (fresh hit, miss and
// store, stale on error, stale with the breaker open, default payload; through net/http,
// Echo and the proxy; serial and parallel; each beside a bare handler) and, in degrade and
// cmd/degrade, the degradation harness that compares failsoft with hystrix-go, failsafe-go,
// heimdall and gregjones/httpcache against a fault-injecting upstream. It is its own module
// so that the peers never enter the library's go.mod. See README.md.
package benchmarks
