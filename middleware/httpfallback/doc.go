// Package httpfallback is the fallback engine of failsoft and its net/http middleware.
//
// An Engine sits between a client and a source (a wrapped handler, the Echo adapter's
// handler chain, or a Fetcher calling an upstream over HTTP). It keeps good responses in a
// cache.Store and, when the source fails, answers with what it has: a stale response, a
// configured default payload, or a clear error. Every answer says what happened in a
// Cache-Status field (RFC 9211) and, when it comes from a stored entry, an Age field. The
// engine's member goes last, after the members the answer already carries (an upstream
// cache's), on every path.
//
//	eng, err := httpfallback.New(httpfallback.Config{Name: "catalog"})
//	...
//	defer eng.Close()
//	mux.Handle("GET /items/{id}", eng.Handler(itemsHandler))
//
// # The request's path
//
// Engine.Handler and Engine.Serve take every request down one path, in this order (Handler
// first passes a long-lived exchange, IsStreaming, straight to the wrapped handler, which
// the engine then never sees):
//
//	after Close                    the source is called directly and its answer written through
//	                               (failsoft; fwd=bypass), without the store
//	other methods (not GET/HEAD)   the source runs as its command; the answer is written through
//	                               (failsoft; fwd=method; fwd-status=N); a non-error answer to an
//	                               unsafe method (POST, PUT, PATCH, DELETE, ...) purges the URL's
//	                               entry. No stale, no default on failure.
//	GET or HEAD with a body        the same (failsoft; fwd=bypass; fwd-status=N): the key cannot
//	                               see the body, so the answer is neither stored, shared nor served
//	                               from the store (a body of unknown length, as HTTP/3 reports on
//	                               every GET, is read once: empty, the request is an ordinary GET)
//	fresh entry                    written from the store; no command, no lock, no goroutine
//	                               (failsoft; hit; ttl=N)
//	stale, within                  written at once (failsoft; hit; ttl=-N; detail=stale-while-revalidate);
//	stale-while-revalidate         one background refresh per key, owned by the Engine
//	stale, within stale-if-error   the fetch runs in the background; its answer is written if
//	                               it comes within Config.SoftTimeout (the stale entry if its
//	                               body is too large to store: detail=too-large), else the
//	                               stale entry (failsoft; fwd=stale; ttl=-N;
//	                               detail=soft-timeout) and the fetch goes on and stores;
//	                               while a fetch of the key runs, the entry at once
//	                               (failsoft; hit; ttl=-N; detail=in-flight)
//	breaker open                   stale, default or error at once: no command, no goroutine
//	miss, gone                     one fetch per key: the first request leads, the others
//	                               wait up to Config.LockTimeout and share its outcome
//	                               (failsoft; fwd=uri-miss; fwd-status=200; collapsed) when
//	                               it may be reused: fresh, or a failure; else they share
//	                               the next fetch, which one of them leads
//
// The outcome of a fetch is classified once:
//
//   - good and storable: stored and written (failsoft; fwd=uri-miss; fwd-status=200; stored);
//     fwd=stale when a stale entry existed; not storable: written without "stored", the
//     reason in detail;
//   - 4xx: the caller's answer, passed through, neither stored nor counted as a failure
//     (unless Config.FailureStatuses lists it: a failure; or Policy.Statuses does: stored);
//     with explicit freshness (max-age, Expires) a 4xx or 3xx is stored and served while
//     fresh, never stale, and not over a 2xx that may still be served stale
//     (detail=last-good-kept; see cache.Policy.StaleNon2xx);
//   - 304 to the engine's own conditional (If-None-Match / If-Modified-Since from the stale
//     entry's validators): the entry is refreshed (RFC 9111 4.3.4), stored and written;
//     a 304 whose header a full answer could not be stored for everyone with (it sets a
//     cookie, says private or no-store, or answers a credentialed request without public
//     or s-maxage: cache.Policy.ShareRefused) refreshes only the fetching request's answer;
//   - failure (an error from the source, a 5xx or one of Config.FailureStatuses, a panic, a
//     timeout, an open circuit, the concurrency limit, a Config.Validate error): the failure
//     chain, in this order: Config.Alternate (its own command), the stale entry within
//     stale-if-error (failsoft; fwd=stale; fwd-status=503; ttl=-42; detail=upstream-5xx, or
//     failsoft; hit; ttl=-42; detail=circuit-open when the source was not called), the
//     route's default payload or the global one (detail=default, Cache-Control: no-store,
//     never stored), and last an error: the source's own failing answer when it wrote one,
//     else application/problem+json (RFC 9457) with 503 and Retry-After for circuit-open
//     and overloaded, 504 for a timeout, 500 for a panic, 502 otherwise.
//
// # Handlers run inline
//
// A wrapped handler runs on the request's own goroutine, never on a goroutine of hystrix-go.
// The route's command (upstream.Runner.Admit) only admits the call (breaker, concurrency
// limit) and accounts for its outcome; the handler gets a context that ends at the
// command's timeout and writes into the engine's buffer. This is the one design that gives
// both guarantees the engine needs:
//
//   - nothing the request's goroutine runs outlives the middleware, so a framework's
//     pooled request context (Echo's echo.Context) is never touched by a handler that
//     outlived its request (a refresh in the background runs on a goroutine of the
//     engine's: see InBackground, and Engine.Handler for routers that pool per-request
//     state);
//   - a large answer can be streamed: the buffer holds up to Policy.MaxBodyBytes and beyond
//     that switches to writing straight to the client (status, headers, the buffered
//     prefix, then the rest; Cache-Status detail=too-large), and such an answer is never
//     stored. A streamed answer is final: the failure chain cannot replace it.
//
// The price: a handler that ignores its context delays its own response past the timeout.
// Its late answer is then discarded and the failure chain answers (a timeout), and the
// breaker counts it; but the client waits for the handler to return. Handlers should honour
// r.Context().
//
// Only the request's goroutine writes to its ResponseWriter, and it writes once. Results
// shared between requests (an entry, a fetch outcome) are immutable; each request writes
// its own copy of the header fields.
//
// A HEAD is answered from the GET entry, and a HEAD miss is fetched as a GET so that its
// answer can be stored. The engine is a shared cache: request Cache-Control directives
// (no-cache, max-age=0) do not bypass a fresh entry; the client's own If-None-Match, or
// when it has none a valid If-Modified-Since (compared with the entry's Last-Modified, else
// its Date, else the time it was stored), is answered from the entry with 304 wherever an
// entry is written (fresh, stale, just stored), and conditionals are never forwarded to
// the source.
// Because a stored answer is shared by every request with the same key, the request given
// to the source on a GET or HEAD carries its host in the key's form (lowercase, without
// the scheme's default port: the same authority), and the headers frameworks honour to
// rewrite the host, scheme, URL or method (X-Forwarded-Host, X-Forwarded-Proto,
// X-Original-URL, X-HTTP-Method-Override and the rest of cache.DefaultKeyedHeaders) are
// part of the default key rather than stripped: a handler behind a trusted reverse proxy
// still sees them, and an attacker's values only poison a key no victim's request maps to.
//
// # Commands
//
// Route r runs as the hystrix command Config.Name+"/"+r, created on first use of the route
// (never on the hit path); the alternate as Name+"/alternate/"+r. r is the route template
// (Config.Route, else the ServeMux pattern r.Pattern, else "*"): never a raw path, as each
// name is a hystrix circuit that lives as long as the process.
//
// r.Pattern is set by the ServeMux when it dispatches, so it is empty in a middleware that
// wraps the whole mux: eng.Handler(mux) runs every route as the one command "*" (one
// breaker, one concurrency limit, one default for all). Either wrap each handler, so the
// mux has set r.Pattern by the time the engine sees the request:
//
//	mux.Handle("GET /items/{id}", eng.Handler(items))
//	mux.Handle("GET /users/{id}", eng.Handler(users))
//
// or keep wrapping the mux and name the route with Config.Route, e.g. by asking the mux
// which pattern it would pick:
//
//	cfg.Route = func(r *http.Request) string { _, pattern := mux.Handler(r); return pattern }
//	srv.Handler = eng.Handler(mux)
//
// Each Engine has circuits of its own, whatever its Name: Engines may share a Name, at once
// or one after another (an Engine rebuilt on a config reload), and never share a breaker.
//
// # Fetchers and errors
//
// An adapter whose source is not a handler (a Fetcher calling an upstream over HTTP)
// calls Engine.Serve with the route and the Fetcher (or Engine.ServeLazy, with a func that
// builds the Fetcher only when the source may be called). A Fetcher that makes its own
// attempts runs each of them as the route's command, Engine.Runner(route) (with
// upstream.Client.DoWith), so that the route has one breaker,
// which the engine reads before it fetches. A Fetcher refusing the request itself (the
// request's fault, not the source's) returns a *RefusalError, answered with its status as
// problem+json (failsoft; detail=refused). Config.ErrorHandler replaces the last resort of
// the failure chain, as httputil.ReverseProxy's ErrorHandler does; Engine.WriteError writes
// the engine's own problem+json for an error, never the source's failing answer.
//
// # One fetch per key
//
// The leader fetches with a context that keeps its request's values but not its
// cancellation, so the waiters get the result even if the leader's client hangs up, and a
// client hanging up never counts against the breaker. A waiter's own cancellation only
// ends its wait. When the leader is stuck past LockTimeout, a waiter that holds a stale
// entry within stale-if-error answers with it (a source that slow is failing: failsoft;
// fwd=stale; ...; collapsed; detail=lock-timeout); one without fetches on its own and does
// not store (detail=lock-timeout), as NGINX's cache lock does. A waiter whose
// request is another variant (Vary) of the leader's, or whose leader streamed, fetches on
// its own too.
//
// A waiter arrived after the leader's fetch started, so the leader's answer may be older
// than the waiter's request: the waiter takes it only when it may be reused without
// validation (RFC 9111 section 4), that is when it is fresh (or a failure). An answer that
// says no-cache, or is stale on arrival (max-age=0), must be validated first (RFC 9111
// 5.2.2.4): its waiters take the next fetch of the key instead, which starts after they
// arrived and so is as new as a fetch of each one's own. One of them leads it, revalidating
// the entry just stored (a 304 when unchanged), and the others wait on it and take its
// answer whatever it says (failsoft; fwd=stale; fwd-status=200; collapsed). So a hot URL
// whose answers say no-cache still gets one fetch at a time, not one per waiting request,
// and a waiter waits for two fetches at most (within LockTimeout). The trade-off: such a
// waiter waits one fetch longer than before, and an answer is shared by requests that all
// arrived before its fetch started, rather than sent once per request as a strict reading
// of no-cache would (NGINX's cache lock then serializes the waiters; Varnish's reworked
// waiting list counts the fetch a request waited on as its revalidation, and delivers even
// an answer fetched before the request arrived).
//
// # The soft timeout
//
// While the engine holds an entry that may be served stale on failure, no client waits for
// a slow upstream, a retry's backoff or a half-open probe longer than Config.SoftTimeout
// (DefaultSoftTimeout; per route in Config.Routes): the fetch of such a key always runs in
// the background, as a refresh does, and the request waits for it only that long. Entries
// whose response forbids serving them stale (must-revalidate, proxy-revalidate, no-cache,
// s-maxage) are never served this way. A negative SoftTimeout turns it off: such a request
// leads or waits like any other (and a waiter stuck past LockTimeout gets the entry,
// detail=lock-timeout).
//
// # Background refresh and Close
//
// A refresh (or the background fetch of a key holding a stale entry) runs on a goroutine the Engine owns, with a clone of the request and a context
// derived from the Engine's (cancelled by Close) bounded by the command timeout. A Fetcher
// must therefore not rely on per-request state that is recycled when the request ends.
// Close cancels refreshes, waits for them, closes the route commands and the store if the
// Engine created it. After Close, Serve still answers: it calls the source directly and
// writes its answer through (failsoft; fwd=bypass), without the store.
//
// # Observability
//
// Config.OnEvent receives one answer event per request (hit, stale with the reason,
// default, error, or forward: the source's own answer) with its duration, and what
// happened on the way: miss, stored, refresh, each call of the source (upstream, with its
// failure reason and duration) and breaker state changes. The nested modules
// metrics/prometheus and metrics/otel turn them into metrics. Config.Logger gets one
// Debug line per request; at Warn and above only what changes (a breaker opening or
// closing, a route starting to serve stale, defaults or errors) and, while a route is
// degraded, one summary line per Config.LogInterval. Logs carry the route, method and
// path, never the query string or header values (which may hold credentials).
// Engine.Stats is a snapshot of atomic counters, per route with each route's breaker
// state, that marshals to JSON.
package httpfallback
