// Command proxy runs failsoft as a caching fallback reverse proxy (a sidecar) in front of
// one upstream base URL:
//
//	go run ./examples/proxy -listen 127.0.0.1:8080 -upstream http://127.0.0.1:9000
//
// Every request is forwarded through a hystrix command with retries for idempotent
// requests; good responses are cached by their Cache-Control (or -fresh when they state no
// freshness); when the upstream fails, the last good response is served within the -stale
// window, labelled with Cache-Status and Age. SIGINT or SIGTERM shuts it down gracefully:
// in-flight requests finish, background refreshes stop, the cache is closed.
package main
