// Package echofallback mounts the failsoft fallback engine (package httpfallback) as native
// Echo v4 middleware: an Echo app keeps answering, with the last good response or a
// configured default payload, while whatever its handlers depend on is failing.
//
//	m, err := echofallback.New(echofallback.Config{Engine: httpfallback.Config{Name: "api"}})
//	if err != nil { ... }
//	defer m.Close()
//	e.Use(m.MiddlewareFunc())
//
// # What a request goes through
//
// Everything is decided by the engine (see package httpfallback): a fresh hit is written
// from the store without running the handler and without touching hystrix; a stale entry
// within stale-while-revalidate is written at once and refreshed in the background; a miss
// runs the handler once per key (concurrent requests for the same key wait for it) as the
// route's hystrix command; on failure the client gets stale data, a default payload, or a
// clear error. Every answer carries Cache-Status (RFC 9211), and Age when it came from the
// store.
//
// Routes are Echo route templates (c.Path(), for example "/users/:id"), never raw paths:
// they name the hystrix commands (one circuit per route, so their number is bounded) and
// key Config.Engine.Defaults. Mount the middleware with Echo.Use, Group.Use or on a route,
// not with Echo.Pre, which runs before routing.
//
// # Inline handlers, and why echo.Context stays safe
//
// The handler runs INLINE on the request's goroutine, inside Engine.ServeLazy and
// Engine.RunCommand: the hystrix command admits it (breaker, concurrency limit) and accounts
// for its outcome, but does not run it on a goroutine of its own. For the duration of the
// handler the middleware gives the echo.Context a new echo.Response that writes into the
// engine's buffer and a request whose context ends at the command's timeout; an error the
// handler returns is turned into a response by Echo's HTTPErrorHandler into that buffer, so
// the engine judges exactly the status the client would have seen. The context's original
// response and request are restored (also when the handler panics) before the engine writes
// the final answer, once, through the original c.Response(), so Echo sees one committed
// response and the Before/After hooks of middlewares mounted outside this one run once.
//
// The consequence, chosen on purpose: a handler that ignores its context delays its own
// request past the timeout, but the answer is then the timeout fallback, and nothing runs on
// with the pooled echo.Context after the middleware has returned — the data race of Echo's
// old Timeout middleware cannot happen. A test with handlers that keep using c after their
// deadline, run under -race, checks it. The alternative, running the handler on a command
// goroutine, would answer the client at the timeout but leave that goroutine using c.
//
// A background fetch is not the request's: the refresh after a stale hit, and the fetch of
// a key holding an entry that may be served stale (the engine runs it in the background so
// that the client gets the entry at Config.Engine.SoftTimeout, 200 ms by default, whatever
// the handler does). It runs the rest of the chain on a new echo.Context routed afresh from
// the request (route parameters found again), never on the pooled one, so a handler that
// hangs, ignoring its context, delays no client holding a stale copy and touches no
// recycled context. Values
// that middlewares mounted before this one stored with c.Set are not visible to it. A fetch
// knows it is the request's own because the engine marks the contexts of its background
// fetches (httpfallback.InBackground) and calls every other fetch on the request's
// goroutine, inside ServeLazy. As a safety net, a fetch on c holds a lock the middleware
// takes before it returns, and once it has returned every fetch runs on a new context.
// What a fetch needs (c, the rest of the chain) is put together only when the engine may
// fetch: a fresh hit, or a stale or default answer while the route's breaker is open,
// costs the middleware no allocation of its own.
//
// Two consequences for the middlewares around it. A handler's panic is recovered by the
// engine as a failure (Cache-Status detail=panic, then stale, default or a 500), so Echo's
// Recover mounted outside never sees it; Recover mounted inside turns it into a 500 first.
// Response headers that middlewares mounted outside set (a request id, CORS) stay on the
// original response: they reach the client with every answer and are never stored, while
// what the chain inside sets is part of the stored answer.
//
// Requests the Skipper selects (by default httpfallback.IsStreaming: protocol upgrades such
// as WebSocket, CONNECT tunnels and Server-Sent Events streams, which cannot be buffered)
// bypass the middleware. To share one engine between Echo routes, net/http handlers and the
// reverse proxy, create it with httpfallback.New and wrap it with FromEngine.
package echofallback
