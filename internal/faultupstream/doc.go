// Package faultupstream is a loopback HTTP upstream whose behaviour can be switched at run
// time, for tests, the demo and the benchmarks.
//
// A Server starts healthy on 127.0.0.1 and answers every GET with a deterministic JSON body
// for the request path and the current version (see Body). Set switches it to a Fault:
//
//	Healthy()                  answer at once
//	Latency(d)                 answer after d
//	Errors(fraction, status)   fail that share of requests with status, evenly spread
//	                           (0.5 fails every 2nd request); SeededErrors picks at random
//	Outage()                   listener closed and open connections dropped: connection refused;
//	                           the same port is listened on again when the fault ends
//	Blackhole()                accept and read the request, never answer (until the request's
//	                           context ends or Close)
//	Flapping(period)           alternate Healthy and Outage every period of Config.Now's clock;
//	                           an owned goroutine polls the clock, or call Tick
//	SlowBody(chunk, every)     send the headers, then chunk bytes of the body every interval
//	Truncated()                declare the full Content-Length, send half the body, drop the
//	                           connection
//
// Clients check what they got with Verify: a body is usable only if it parses, names the
// requested path and its checksum matches. Requests counts the requests that reached the
// server; LastServed tells when a path's body was last sent complete, which gives the age
// of data a cache serves later.
//
// Close stops the listener, every connection and every goroutine the Server started.
package faultupstream
