package echofallback

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/failsoft/failsoft/middleware/httpfallback"
)

// ErrRouteSet is returned by New when Config.Engine.Route is set: the Echo adapter always
// names routes by the Echo route template (c.Path()), so a Route func would be ignored.
var ErrRouteSet = errors.New("echofallback: Config.Engine.Route must be nil: Echo requests are routed by c.Path()")

// ErrNilEngine is returned by FromEngine for a nil engine.
var ErrNilEngine = errors.New("echofallback: FromEngine: engine is nil")

// Config configures a Middleware. Every zero value is a documented default.
type Config struct {
	// Engine configures the engine New creates (store, policy, command template, defaults,
	// events...). Its zero value is valid; see httpfallback.Config for each field's default.
	// Engine.Route must be nil: the route of an Echo request is its route template c.Path()
	// (for example "/users/:id"), never the raw path, so the number of hystrix commands
	// is bounded by the number of routes. Engine.Defaults is keyed by those templates.
	Engine httpfallback.Config

	// Skipper returns true for requests that bypass the middleware entirely (the next
	// handler runs as if the middleware were not mounted). nil: skip only long-lived
	// exchanges (httpfallback.IsStreaming): protocol upgrades (WebSocket and other
	// "Connection: Upgrade" requests) and CONNECT tunnels, which take over the connection,
	// and Server-Sent Events streams (Accept: text/event-stream); none can be buffered.
	Skipper middleware.Skipper
}

// Middleware is the Echo adapter over an *httpfallback.Engine. It is safe for concurrent
// use; mount it with Echo.Use, Group.Use or per route (not with Echo.Pre: before routing
// there is no route template).
type Middleware struct {
	engine  *httpfallback.Engine
	owned   bool
	skipper middleware.Skipper
	built   handlers // the handlers built around the routes' next: see handlers

	closeOnce sync.Once
	closeErr  error
}

// New validates cfg, creates the engine it describes and returns the middleware, which owns
// that engine (Close closes it). An invalid configuration returns an error naming the field.
func New(cfg Config) (*Middleware, error) {
	if cfg.Engine.Route != nil {
		return nil, ErrRouteSet
	}
	e, err := httpfallback.New(cfg.Engine)
	if err != nil {
		return nil, fmt.Errorf("echofallback: Config.Engine: %w", err)
	}
	m, _ := FromEngine(e, cfg.Skipper) // e is not nil
	m.owned = true
	return m, nil
}

// FromEngine returns a middleware that serves Echo requests through an existing engine, so
// that one engine (one store, one set of circuits) can serve Echo routes, net/http handlers
// and proxies at once. The middleware does not own e: Close leaves it open. skipper may be
// nil (see Config.Skipper). A nil e returns ErrNilEngine.
func FromEngine(e *httpfallback.Engine, skipper middleware.Skipper) (*Middleware, error) {
	if e == nil {
		return nil, ErrNilEngine
	}
	if skipper == nil {
		skipper = skipStreaming
	}
	return &Middleware{engine: e, skipper: skipper}, nil
}

// skipStreaming is the default Skipper: long-lived exchanges (httpfallback.IsStreaming:
// protocol upgrades, Server-Sent Events) bypass the middleware.
func skipStreaming(c echo.Context) bool { return httpfallback.IsStreaming(c.Request()) }

// Engine returns the engine the middleware serves through (for Purge, Stats, or mounting
// the same engine as net/http middleware).
func (m *Middleware) Engine() *httpfallback.Engine { return m.engine }

// Stats returns a snapshot of the engine's counters.
func (m *Middleware) Stats() httpfallback.Stats { return m.engine.Stats() }

// Close stops the engine's background refreshes and closes its owned store when the
// middleware created the engine (New); for FromEngine it does nothing. Safe to call twice.
func (m *Middleware) Close() error {
	m.closeOnce.Do(func() {
		if m.owned {
			m.closeErr = m.engine.Close()
		}
	})
	return m.closeErr
}

// MiddlewareFunc returns the Echo middleware: e.Use(m.MiddlewareFunc()).
//
// For each request not skipped it calls Engine.ServeLazy on the request's goroutine with
// the route template c.Path(). A fresh hit is written from the store without running next
// (and without building anything a fetch would need). When the engine fetches, next runs
// inline as the route's command: with the response swapped for one writing into the
// engine's buffer, and the request carrying the command's deadline in its context. The
// error next returns goes through Echo's HTTPErrorHandler into that buffer, so the engine
// judges the status the client would have seen. The engine then writes the final response
// once, through c.Response(); the middleware returns nil.
//
// Echo calls the returned function on every request, with the route's handler as next;
// the handler built around a given next is kept and returned again (see handlers), so
// that mounting the middleware costs no allocation per request.
func (m *Middleware) MiddlewareFunc() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		id, i := funcID(next)
		if h := m.built.lookup(id, i); h != nil {
			return h
		}
		h := m.handler(next)
		m.built.remember(id, i, next, h)
		return h
	}
}

// handler is the middleware's handler around next.
func (m *Middleware) handler(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if m.skipper(c) {
			return next(c)
		}
		route := c.Path()
		if route == "" {
			route = "*"
		}
		// The call (what a fetch needs: c, next) is built only when the engine may
		// fetch; this func stays on the stack (the engine only calls it).
		var cl *call
		m.engine.ServeLazy(c.Response(), c.Request(), route, func() httpfallback.Fetcher {
			cl = &call{m: m, c: c, e: c.Echo(), next: next, route: route}
			return cl.fetch
		})
		if cl != nil {
			// Wait for a fetch still using c (none, unless the engine called one
			// elsewhere) and forbid new ones: from here on c belongs to Echo again.
			cl.mu.Lock()
			cl.returned = true
			cl.mu.Unlock()
		}
		return nil
	}
}

// call is one request through the middleware that the engine may fetch for. Its fields
// other than mu and returned never change after creation.
type call struct {
	m     *Middleware
	c     echo.Context
	e     *echo.Echo
	next  echo.HandlerFunc
	route string

	mu       sync.Mutex // held while a fetch uses c; taken by the middleware before returning
	returned bool       // the middleware returned: c may already serve another request
}

// own reports whether ctx is the context of a fetch on the request's goroutine, not of the
// engine's background fetch. The engine calls a Fetcher off the calling goroutine only in
// a background fetch (the refresh of a stale entry, the fetch of a key held stale under
// the soft timeout), whose context it marks (httpfallback.InBackground); every other call
// runs on the goroutine that called ServeLazy, before it returns.
func (cl *call) own(ctx context.Context) bool { return !httpfallback.InBackground(ctx) }

// fetch is the Fetcher handed to ServeLazy: it runs next as the route's command, on c when the
// fetch is the request's own and the middleware has not returned, else on a new context.
func (cl *call) fetch(ctx context.Context, w http.ResponseWriter, r *http.Request) error {
	if cl.own(ctx) {
		cl.mu.Lock()
		if !cl.returned {
			defer cl.mu.Unlock()
			return cl.m.engine.RunCommand(ctx, cl.route, w, r, cl.inline)
		}
		cl.mu.Unlock()
	}
	return cl.m.engine.RunCommand(ctx, cl.route, w, r, cl.detached)
}

// inline runs next with the request's own echo.Context, its response writing into w (the
// engine's buffer) and its request carrying ctx. It restores c before returning, also when
// next panics (the engine recovers the panic as a failure).
func (cl *call) inline(ctx context.Context, w http.ResponseWriter, r *http.Request) error {
	c := cl.c
	origResp, origReq := c.Response(), c.Request()
	defer func() {
		c.SetResponse(origResp)
		c.SetRequest(origReq)
	}()
	// A new echo.Response: Before/After hooks registered outside this middleware stay on
	// the original response and run once, when the engine writes the final answer; hooks
	// registered inside the chain run on the buffered answer, which they shape.
	c.SetResponse(echo.NewResponse(w, cl.e))
	if r.Context() != ctx {
		r = r.WithContext(ctx)
	}
	c.SetRequest(r)
	if err := cl.next(c); err != nil {
		cl.e.HTTPErrorHandler(err, c)
	}
	return nil
}

// detached runs next for a fetch that is not the request's own (a background refresh after
// a stale hit): on a new echo.Context routed afresh, never on the pooled c. Values other
// middlewares stored with c.Set before this one are not visible there.
func (cl *call) detached(ctx context.Context, w http.ResponseWriter, r *http.Request) error {
	if r.Context() != ctx {
		r = r.WithContext(ctx)
	}
	ec := cl.e.NewContext(r, w)
	router := cl.e.Router()
	if routers := cl.e.Routers(); len(routers) > 0 {
		if hr, ok := routers[r.Host]; ok {
			router = hr
		}
	}
	router.Find(r.Method, echo.GetPath(r), ec)
	if err := cl.next(ec); err != nil {
		cl.e.HTTPErrorHandler(err, ec)
	}
	return nil
}
