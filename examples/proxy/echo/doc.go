// Command echo shows the failsoft proxy mounted inside an Echo application: requests under
// /api/ are forwarded (cached, with fallback) to the upstream, the rest is the app's own.
//
//	go run ./examples/proxy/echo -listen 127.0.0.1:8080 -upstream http://127.0.0.1:9000
package main
