// Package proxy is failsoft's standalone caching fallback reverse proxy: an http.Handler
// in front of one upstream base URL that keeps answering while the upstream fails.
//
//	p, err := proxy.New(proxy.Config{Upstream: "http://127.0.0.1:9000"})
//	...
//	srv := &http.Server{Addr: ":8080", Handler: p}
//	... srv.Shutdown(ctx); p.Close()
//
// Each request is forwarded through an upstream.Client (retries for idempotent requests,
// a per-attempt timeout, a rate limit, a credential) and served through an
// httpfallback.Engine: good answers are stored, and when the upstream fails the client
// gets the last good answer (stale), a default payload, or a clear problem+json error,
// each saying what happened in Cache-Status.
//
// The breaker is per route: each Config.Routes prefix is a route, and so is each first
// path segment ("/users" for /users/42) up to Config.SegmentRoutes of them (the rest
// share "*"). The client's attempts run as the engine's command of the route, so one
// failing endpoint opens its own breaker, not the whole upstream's, and the engine reads
// that breaker before it fetches (an open breaker answers stale at once).
//
// The proxy forwards only what it can forward safely: the target is the base URL joined
// with the cleaned request path, hop-by-hop fields are dropped both ways, forwarding
// fields the cache key does not see are dropped (Config.PassHeaders), and it refuses
// itself what it does not carry (CONNECT, protocol upgrades, event streams, TRACE unless
// Config.AllowTrace; a body over Config.MaxRequestBody) with problem+json and
// Cache-Status "failsoft; detail=refused". Config.MaskErrors hides an upstream's own
// failing answers behind the engine's problem.
package proxy
