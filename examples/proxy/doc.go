// Command proxy runs failsoft as a caching fallback reverse proxy (a sidecar) in front of
// one upstream base URL:
//
//	go run ./examples/proxy -listen 127.0.0.1:8080 -upstream http://127.0.0.1:9000
//
// Every request is forwarded through a hystrix command with retries for idempotent
// requests; good responses are cached by their Cache-Control (or -fresh when they state no
// freshness); when the upstream fails, the last good response is served within the -stale
// window, labelled with Cache-Status and Age. Each first path segment has a breaker of its
// own (-segment-routes); -mask-errors hides an upstream's failing answers behind
// failsoft's problem+json. SIGINT or SIGTERM shuts it down gracefully:
// in-flight requests finish, background refreshes stop, the cache is closed.
//
// With -admin 127.0.0.1:9091 (off by default; a loopback address unless -admin-public is
// given; -admin-token T requires "Authorization: Bearer T") it serves an operator's
// endpoints on that address, never on the proxied one:
//
//	GET    /metrics           Prometheus text format: per-route counters, breaker state, concurrency, store
//	GET    /healthz           200 while the process serves
//	GET    /readyz            200, then 503 from the start of a graceful shutdown
//	GET    /stats             the proxy's Stats as JSON, per route with breaker state
//	DELETE /cache?url=URL     purge a URL (a path, or a URL whose host is ignored): {"purged": N}
//	DELETE /cache?tag=T       purge every entry whose answer carried T in Surrogate-Key or Cache-Tag: {"purged": N}
//
// /metrics is written by hand from Stats because this program lives in failsoft's main
// module, which does not depend on Prometheus' client library; an application of its own
// module mounts metrics/prometheus instead, which adds latency histograms.
//
// proxy -h lists the flags; a bad flag is reported once, by name, with the usage line
// (exit status 2).
package main
