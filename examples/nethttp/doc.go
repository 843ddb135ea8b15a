// Command nethttp mounts failsoft as net/http middleware on a Go 1.22 ServeMux route whose
// quote service fails every third call:
//
//	go run ./examples/nethttp -addr 127.0.0.1:8080 -timeout 1s
//	curl -i http://127.0.0.1:8080/quotes/1   # watch Cache-Status and Age
//
// Wrap each handler (not the mux): the route is the mux pattern (r.Pattern), so circuits
// and defaults are per route, never per raw path. SIGINT or SIGTERM shuts it down cleanly.
package main
