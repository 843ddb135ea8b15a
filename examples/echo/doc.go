// Command echo mounts failsoft on an Echo app whose quote service fails every third call:
//
//	go run ./examples/echo -addr 127.0.0.1:8080 -timeout 1s
//	curl -i http://127.0.0.1:8080/quotes/1   # watch Cache-Status and Age
//
// Good answers are kept (fresh for 5s, served on failure for an hour); a failure with
// nothing stored gets the route's default payload. SIGINT or SIGTERM shuts it down cleanly.
package main
