package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/failsoft/failsoft/cache"
	"github.com/failsoft/failsoft/middleware/httpfallback"
	"github.com/failsoft/failsoft/upstream"
)

// RouteOverride overrides the upstream's freshness for the requests under a path prefix:
// the operator's say over what the upstream's Cache-Control states (cache.Policy's
// OverrideFreshness, which also overrides no-cache). no-store, private and the other rules
// against storing still apply.
type RouteOverride struct {
	// Prefix is matched against the cleaned request path (before the upstream base path is
	// added): "/static/" matches "/static/app.js". Required, it must start with "/".
	// The longest matching prefix wins; it is the request's route.
	Prefix string
	// Fresh replaces the response's own freshness. Required, > 0.
	Fresh time.Duration
}

// DefaultBufferBody is how much of each upstream body an attempt reads inside its command
// when Config.Client.BufferBody is 0.
const DefaultBufferBody = 1 << 20

// DefaultSegmentRoutes is the number of first path segments that get a route (and a
// breaker) of their own when Config.SegmentRoutes is 0.
const DefaultSegmentRoutes = 32

// maxSegmentLen bounds a first path segment that becomes a route's name; a longer one is
// routed to "*".
const maxSegmentLen = 64

// Config configures a Proxy. Every zero value is a documented default.
type Config struct {
	// Upstream is the base URL every request is forwarded under: scheme http or https, a
	// host, and optionally a base path. It may not have a query, a fragment or user info
	// (use Client.Credential for credentials). Required.
	Upstream string
	// Engine configures the engine the proxy serves through (store, policy, stale windows,
	// defaults, events). Engine.Store nil: the proxy owns a cache.Memory of Engine.MaxBytes
	// and closes it in Close. Engine.Command.Timeout is a forwarded request's budget until
	// its response headers arrive, every attempt and backoff included (a Retry-After wait
	// that would pass it is not taken; past it the request fails with "timeout", and the
	// attempt it cuts counts as a timeout for the route's breaker); it also
	// bounds background refreshes and how long requests wait for another's fetch of the
	// same key. 0: long enough for every attempt to end by its own timeout, which the
	// breaker counts (attempts x per-attempt timeout, plus the backoffs and a tenth of an
	// attempt). Engine.Route names the route of a request under no Routes prefix (nil: see
	// SegmentRoutes). Engine.ErrorHandler: see MaskErrors.
	Engine httpfallback.Config
	// Client configures the upstream client every forwarded request goes through (retries,
	// rate limit, credential, per-attempt timeout). Its shared settings (upstream.Common)
	// left unset take the Engine's: each field of Command but Name, FailureStatuses and
	// Logger (not Now: the engine's clock ages entries, the client's paces retries).
	// Attempts run as the engine's command of the request's route: one breaker and one
	// concurrency limit per route, with the resulting breaker settings; the resulting
	// SleepWindow is the Retry-After of a 503 while a route's breaker is open.
	// Client.Command.Timeout is the per-attempt timeout (0: Engine.Command.Timeout, itself
	// 0: upstream.DefaultTimeout). Client.Command.Name "": Engine.Name (or
	// httpfallback.DefaultName) + "/proxy", the client's own command, which runs the
	// attempts only after Close.
	// Client.Transport nil: a clone of http.DefaultTransport that ignores proxy environment
	// variables, does not compress on its own (the client's Accept-Encoding is passed
	// through) and keeps up to 256 idle connections to the upstream, closed by Close.
	// Client.BufferBody 0: DefaultBufferBody, at most Engine.Policy.MaxBodyBytes, read
	// inside each attempt's command, so a body that breaks off or trickles past the attempt
	// timeout is a failure the breaker counts and the retries see, not a 200 found broken
	// afterwards.
	Client upstream.ClientConfig
	// Routes override freshness per path prefix; each prefix is a route of its own (its own
	// breaker).
	Routes []RouteOverride
	// SegmentRoutes bounds the routes made of first path segments: a request under no
	// Routes prefix (and with Engine.Route nil) is the route "/" + its first path segment
	// ("/users" for /users/42), with a breaker of its own, for the first SegmentRoutes
	// distinct segments the proxy sees; requests under any later segment (or a segment
	// longer than 64 bytes) share the route "*". One failing endpoint then opens its own
	// breaker, not the whole upstream's. 0: DefaultSegmentRoutes; negative: none, every
	// such request is the route "*" (one breaker for the upstream).
	SegmentRoutes int
	// BodyIdleTimeout bounds the wait for each read of the upstream's response body once
	// its headers have arrived (Engine.Command.Timeout bounds the wait for the headers): a
	// body that stalls longer is a failure ("invalid-response"), never stored. 0: 30s.
	BodyIdleTimeout time.Duration
	// MaxRequestBody bounds request bodies, streamed upstream as they arrive: a larger one
	// is answered 413 (at once when Content-Length says so, else when the limit is passed,
	// and then the upstream request is abandoned). 0: 10 MiB; negative: no limit.
	MaxRequestBody int64
	// AllowTrace forwards TRACE requests. false (the default): TRACE is answered 501, as
	// an upstream echoing it would hand a script the client's credentials (cross-site
	// tracing).
	AllowTrace bool
	// PassHeaders names request fields the proxy otherwise drops that it forwards as the
	// client sent them: Forwarded, X-Original-Host, X-Original-Uri, X-Forwarded-Server,
	// X-Forwarded-Uri, X-Forwarded-Path, Front-End-Https and X-Real-Ip. They are dropped
	// because the default key does not see them (an upstream reflecting one would have the
	// client's value stored and served to the next user): name one here only when the
	// upstream's answers do not depend on it, or key it too (Engine.Key). Hop-by-hop
	// fields cannot be named.
	PassHeaders []string
	// MaskErrors answers every failure that nothing stale and no default covers with the
	// engine's problem+json (httpfallback.Engine.WriteError), never with the upstream's
	// own failing answer (its internal headers, a stack trace in its body). false: the
	// upstream's failing answer is passed on when it sent one. It cannot be combined with
	// Engine.ErrorHandler.
	MaskErrors bool
}

// Proxy is a caching fallback reverse proxy for one upstream base URL: an http.Handler that
// forwards each request through an upstream.Client (retries for idempotent requests, each
// attempt run as the engine's command of the request's route) and serves it through an
// httpfallback.Engine (store, stale, defaults, Cache-Status), so a failing upstream is
// answered from the cache. Create it with New and Close it.
//
// The target of every request is the base URL joined with the request's cleaned path and
// its query: the Host header, an absolute-form request URI, dot segments or encoded slashes
// never select another host nor leave the base path (what cannot be joined safely is
// answered 400). Hop-by-hop headers (and the fields Connection names) are dropped both
// ways, but a request's "TE: trailers" is passed on, as httputil.ReverseProxy does.
// X-Forwarded-For gets the client's address appended (earlier values are kept unless
// Connection names the field, as httputil.ReverseProxy does);
// X-Forwarded-Host (the request's Host) and X-Forwarded-Proto are replaced, never taken
// from the client, and the client's Forwarded (RFC 7239) and the other fields
// Config.PassHeaders lists are dropped. Request bodies are streamed, never buffered, so a
// request with a body is never retried; a request without one is retried only when its
// method is idempotent or it carries an Idempotency-Key (the upstream.Client's rule).
// Long-lived exchanges (WebSocket and other protocol upgrades, CONNECT, a GET or HEAD whose
// Accept lists text/event-stream) are not carried: they are answered 501, as is TRACE
// unless Config.AllowTrace. Another method accepting an event stream is forwarded: an
// answer streaming longer than the attempt timeout is cut.
//
// After Close, requests are still forwarded, without the cache (Cache-Status
// "failsoft; fwd=bypass"): close the Proxy after the server has stopped.
type Proxy struct {
	base     *url.URL // scheme and host of the upstream
	basePath string   // escaped base path without its trailing slash
	maxBody  int64
	idle     time.Duration
	bufs     sync.Pool // *[]byte copy buffers
	trace    bool      // Config.AllowTrace
	pass     map[string]bool

	engine   *httpfallback.Engine
	prefixes []*proxyRoute // Routes prefixes, longest first: each is a route
	route    func(*http.Request) string
	segs     segmentRoutes
	star     *proxyRoute   // "*"
	named    sync.Map      // Engine.Route's names -> *proxyRoute
	budget   time.Duration // the engine's Command.Timeout: bounds a fetch until response headers
	client   *upstream.Client
	store    *cache.Memory // owned store, nil when the caller gave one
	tr       *http.Transport

	closing   atomic.Bool // Close has begun: fetches no longer use the routes' commands
	closeOnce sync.Once
	closeErr  error
}

// routeKey is the context key of a forwarded request's route, read by the client's OnRetry.
type routeKey struct{}

// Errors the proxy answers itself, before or instead of the upstream.
var (
	errRequestTooLarge = errors.New("proxy: request body too large")
	errRequestBody     = errors.New("proxy: reading the request body failed")
	errBodyStalled     = errors.New("proxy: upstream body stalled past BodyIdleTimeout")
	// errHeaderBudget is the cause the header budget cancels a fetch with. It wraps
	// upstream.ErrTimeout, so that the route's command counts the attempt it cuts as a
	// timeout (see upstream.Runner.Admit), not as a caller going away.
	errHeaderBudget = fmt.Errorf("%w: proxy: no response headers within the engine's Command.Timeout", upstream.ErrTimeout)
)

const defaultMaxRequestBody = 10 << 20

// New validates cfg and returns a Proxy. Errors name the offending field.
func New(cfg Config) (*Proxy, error) {
	base, err := parseUpstream(cfg.Upstream)
	if err != nil {
		return nil, err
	}
	p := &Proxy{
		base:     &url.URL{Scheme: base.Scheme, Host: base.Host},
		basePath: strings.TrimSuffix(base.EscapedPath(), "/"),
		maxBody:  cfg.MaxRequestBody,
		route:    cfg.Engine.Route,
		trace:    cfg.AllowTrace,
	}
	if p.maxBody == 0 {
		p.maxBody = defaultMaxRequestBody
	}
	p.star = p.newRoute("*")
	p.segs.star, p.segs.newRoute = p.star, p.newRoute
	switch {
	case cfg.BodyIdleTimeout < 0:
		return nil, fmt.Errorf("proxy: Config.BodyIdleTimeout is negative (%v)", cfg.BodyIdleTimeout)
	case cfg.BodyIdleTimeout == 0:
		p.idle = 30 * time.Second
	default:
		p.idle = cfg.BodyIdleTimeout
	}
	switch {
	case cfg.SegmentRoutes == 0:
		p.segs.max = DefaultSegmentRoutes
	case cfg.SegmentRoutes > 0:
		p.segs.max = cfg.SegmentRoutes
	}
	if cfg.MaskErrors && cfg.Engine.ErrorHandler != nil {
		return nil, errors.New("proxy: Config.MaskErrors and Config.Engine.ErrorHandler cannot both be set")
	}
	if p.pass, err = passHeaders(cfg.PassHeaders); err != nil {
		return nil, err
	}
	p.bufs.New = func() any { b := make([]byte, 32<<10); return &b }
	seen := make(map[string]bool, len(cfg.Routes))
	for i, ro := range cfg.Routes {
		switch {
		case !strings.HasPrefix(ro.Prefix, "/"):
			return nil, fmt.Errorf("proxy: Config.Routes[%d].Prefix %q must start with /", i, ro.Prefix)
		case ro.Fresh <= 0:
			return nil, fmt.Errorf("proxy: Config.Routes[%d].Fresh must be > 0, got %v", i, ro.Fresh)
		case seen[ro.Prefix]:
			return nil, fmt.Errorf("proxy: Config.Routes[%d].Prefix %q is given twice", i, ro.Prefix)
		}
		if _, err := cleanPath(ro.Prefix); err != nil {
			return nil, fmt.Errorf("proxy: Config.Routes[%d].Prefix %q: %w", i, ro.Prefix, err)
		}
		seen[ro.Prefix] = true
	}

	name := cfg.Engine.Name
	if name == "" {
		name = httpfallback.DefaultName
	}
	ccfg := cfg.Client
	if ccfg.Command.Name == "" {
		ccfg.Command.Name = name + "/proxy"
	}
	ccfg.Common = inherit(ccfg.Common, cfg.Engine.Common)
	// The client's own command runs the attempts only after Close (the engine's route
	// commands run them before): no hook there, the routes' commands report.
	ccfg.Command.OnStateChange = nil
	// Retries are reported to the engine on the request's route (EventRetry, Stats).
	// A retry takes up the fetch's header budget again (paused at the failed attempt's
	// headers): see outbound.
	userRetry := ccfg.OnRetry
	ccfg.OnRetry = func(req *http.Request, attempt int, reason string) {
		if fc, ok := req.Context().(*fetchContext); ok && fc.timed {
			fc.hb.resume()
		}
		if route, ok := req.Context().Value(routeKey{}).(string); ok && p.engine != nil {
			p.engine.Retried(route, reason)
		}
		if userRetry != nil {
			userRetry(req, attempt, reason)
		}
	}
	userHeaders := ccfg.OnHeaders
	ccfg.OnHeaders = func(req *http.Request, status int) {
		if fc, ok := req.Context().(*fetchContext); ok && fc.timed {
			fc.hb.pause()
		}
		if userHeaders != nil {
			userHeaders(req, status)
		}
	}
	if ccfg.BufferBody == 0 {
		ccfg.BufferBody = DefaultBufferBody
		if m := cfg.Engine.Policy.MaxBodyBytes; m > 0 && m < ccfg.BufferBody {
			ccfg.BufferBody = m
		}
	}
	if ccfg.Transport == nil {
		p.tr = defaultTransport()
		ccfg.Transport = p.tr
	}

	ecfg := cfg.Engine
	// The budget until response headers: the proxy enforces it on each fetch itself (a
	// timer), and it is how long requests wait for another's fetch.
	p.budget = cfg.Engine.Command.Timeout
	if p.budget == 0 {
		p.budget = clientBudget(ccfg)
	}
	if ecfg.LockTimeout == 0 {
		ecfg.LockTimeout = p.budget
	}
	// The route commands the attempts run as: the client's breaker settings, else the
	// engine's. Their timeout bounds one attempt (the client's own timeout cuts it before)
	// and must let an upload, which the budget does not bound, run its attempt's length.
	cmd := cfg.Client.Command
	cmd.Timeout = max(p.budget, ccfg.Command.Timeout)
	ecfg.Command = inheritSettings(cmd, cfg.Engine.Command)
	if cfg.MaskErrors {
		ecfg.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
			p.engine.WriteError(w, r, err)
		}
	}
	if len(cfg.Routes) > 0 {
		// Each prefix is a route of the one engine, with its freshness override.
		ecfg.Routes = maps.Clone(cfg.Engine.Routes)
		if ecfg.Routes == nil {
			ecfg.Routes = make(map[string]httpfallback.RouteSettings, len(cfg.Routes))
		}
		for _, ro := range cfg.Routes {
			rs := ecfg.Routes[ro.Prefix]
			pol := ecfg.Policy
			if rs.Policy != nil {
				pol = *rs.Policy
			}
			pol.OverrideFreshness = ro.Fresh
			rs.Policy = &pol
			ecfg.Routes[ro.Prefix] = rs
			p.prefixes = append(p.prefixes, p.newRoute(ro.Prefix))
		}
	}
	if ecfg.Store == nil {
		p.store, err = cache.New(cache.Config{MaxBytes: ecfg.MaxBytes, Now: ecfg.Now})
		if err != nil {
			return nil, fmt.Errorf("proxy: Config.Engine.MaxBytes: %w", err)
		}
		ecfg.Store = p.store
	}
	p.client, err = upstream.NewClient(ccfg)
	if err != nil {
		p.closeOwned()
		return nil, fmt.Errorf("proxy: Config.Client: %w", err)
	}
	p.engine, err = httpfallback.New(ecfg)
	if err != nil {
		p.closeOwned()
		return nil, fmt.Errorf("proxy: Config.Engine: %w", err)
	}
	// Longest prefix first, so the first match is the most specific.
	slices.SortStableFunc(p.prefixes, func(a, b *proxyRoute) int { return len(b.name) - len(a.name) })
	return p, nil
}

// parseUpstream validates Config.Upstream.
func parseUpstream(raw string) (*url.URL, error) {
	if raw == "" {
		return nil, errors.New("proxy: Config.Upstream is required")
	}
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // without the URL, which may hold a password
		}
		return nil, fmt.Errorf("proxy: Config.Upstream: %w", err)
	}
	raw = u.Redacted()
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("proxy: Config.Upstream %q: scheme must be http or https", raw)
	case u.Host == "" || u.Hostname() == "":
		return nil, fmt.Errorf("proxy: Config.Upstream %q: host is required", raw)
	case u.User != nil:
		return nil, fmt.Errorf("proxy: Config.Upstream: user info is not allowed, use Client.Credential")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return nil, fmt.Errorf("proxy: Config.Upstream %q: query and fragment are not allowed", raw)
	}
	if p := u.EscapedPath(); p != "" {
		if c, err := cleanPath(p); err != nil || strings.TrimSuffix(c, "/") != strings.TrimSuffix(p, "/") {
			return nil, fmt.Errorf("proxy: Config.Upstream %q: base path must be clean (no dot segments, empty segments or encoded slashes)", raw)
		}
	}
	return u, nil
}

// clientBudget is the longest a client configured by c takes until response headers when
// every attempt runs into its own timeout: attempts x timeout, plus the longest backoffs
// between them (each at most the retry's MaxDelay), plus a tenth of an attempt for
// scheduling, saturated at the longest Duration. The engine's budget defaults to it, so
// that every attempt can end by its own timeout rather than be cut by the budget. The
// upstream package's defaults apply to zero fields.
func clientBudget(c upstream.ClientConfig) time.Duration {
	per, attempts := c.Command.Timeout, c.Retry.MaxAttempts
	base, maxDelay := c.Retry.BaseDelay, c.Retry.MaxDelay
	if per <= 0 {
		per = upstream.DefaultTimeout
	}
	if attempts <= 0 {
		attempts = upstream.DefaultMaxAttempts
	}
	if base <= 0 {
		base = upstream.DefaultBaseDelay
	}
	if maxDelay <= 0 {
		maxDelay = upstream.DefaultMaxDelay
	}
	budget := satAdd(satMul(per, attempts), per/10)
	for i, d := 1, base; i < attempts; i++ {
		if d >= maxDelay { // every later backoff is capped
			return satAdd(budget, satMul(maxDelay, attempts-i))
		}
		budget = satAdd(budget, d)
		if d > maxDelay/2 {
			d = maxDelay
		} else {
			d *= 2
		}
	}
	return budget
}

// satAdd returns a+b for durations >= 0, saturated at the longest Duration.
func satAdd(a, b time.Duration) time.Duration {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// satMul returns d*n for d, n >= 0, saturated at the longest Duration.
func satMul(d time.Duration, n int) time.Duration {
	if n > 0 && d > math.MaxInt64/time.Duration(n) {
		return math.MaxInt64
	}
	return d * time.Duration(n)
}

// inherit fills the zero fields of c, the client's shared settings, from e, the engine's:
// Command's field by field (its Name excepted), FailureStatuses and Logger. Now is not
// inherited: the engine's clock ages stored entries (a test may hold it still), the
// client's measures Retry-After waits against the request's real deadline.
func inherit(c, e upstream.Common) upstream.Common {
	c.Command = inheritSettings(c.Command, e.Command)
	if c.FailureStatuses == nil {
		c.FailureStatuses = e.FailureStatuses
	}
	if c.Logger == nil {
		c.Logger = e.Logger
	}
	return c
}

// inheritSettings fills s's zero fields from def (Name excepted).
func inheritSettings(s, def upstream.Settings) upstream.Settings {
	if s.Timeout == 0 {
		s.Timeout = def.Timeout
	}
	if s.MaxConcurrent == 0 {
		s.MaxConcurrent = def.MaxConcurrent
	}
	if s.RequestVolumeThreshold == 0 {
		s.RequestVolumeThreshold = def.RequestVolumeThreshold
	}
	if s.ErrorPercentThreshold == 0 {
		s.ErrorPercentThreshold = def.ErrorPercentThreshold
	}
	if s.SleepWindow == 0 {
		s.SleepWindow = def.SleepWindow
	}
	if s.OnStateChange == nil {
		s.OnStateChange = def.OnStateChange
	}
	if s.StatePollInterval == 0 {
		s.StatePollInterval = def.StatePollInterval
	}
	return s
}

// defaultTransport is the transport of a Proxy whose Client.Transport is nil.
func defaultTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = nil
	t.DisableCompression = true
	t.MaxIdleConns = 512
	t.MaxIdleConnsPerHost = 256
	return t
}

// ServeHTTP forwards r to the upstream through the engine.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodConnect:
		// A tunnel (its authority-form target has no path to clean): not carried.
		p.refuse(w, r, http.StatusNotImplemented, "The proxy does not carry CONNECT tunnels.")
		return
	case r.Method == http.MethodTrace && !p.trace:
		p.refuse(w, r, http.StatusNotImplemented, "The proxy does not forward TRACE.")
		return
	}
	reqPath := r.URL.EscapedPath()
	clean, err := cleanPath(reqPath)
	if err != nil {
		p.refuse(w, r, http.StatusBadRequest, "The request path cannot be forwarded safely.")
		return
	}
	// An upgrade whatever the method; an event stream for a GET or HEAD (IsStreaming is
	// IsUpgrade or an event stream: each field is looked at once).
	getOrHead := r.Method == http.MethodGet || r.Method == http.MethodHead
	if (getOrHead && httpfallback.IsStreaming(r)) || (!getOrHead && httpfallback.IsUpgrade(r)) {
		// Not carried: stripped of its hop-by-hop Upgrade, a WebSocket handshake would reach
		// the upstream as a plain GET (whose answer could be stored), and an event stream
		// would be read ahead and cut by the attempt timeout. A clear refusal instead. An
		// event stream is what a GET listing text/event-stream asks for (EventSource); any
		// other method that lists it among the types it accepts (an MCP client's POST
		// sends "application/json, text/event-stream") is forwarded as it always was.
		p.refuse(w, r, http.StatusNotImplemented, "The proxy does not carry protocol upgrades (WebSocket) or event streams.")
		return
	}
	if p.maxBody > 0 && r.ContentLength > p.maxBody {
		p.refuse(w, r, http.StatusRequestEntityTooLarge, "The request body is larger than "+strconv.FormatInt(p.maxBody, 10)+" bytes.")
		return
	}
	if clean != reqPath {
		// Key and forward the cleaned path. (An absolute-form URI's scheme and host
		// never reach the target; they only take part in the cache key, like Host.)
		r2 := r.WithContext(r.Context())
		dec, _ := url.PathUnescape(clean) // cleanPath validated every escape
		r2.URL = &url.URL{Path: dec, RawPath: clean, RawQuery: r.URL.RawQuery}
		r = r2
	}
	// Range and If-Range reach the engine, which answers them from the stored entry
	// (206, 416, or the whole when If-Range does not match); forward never sends Range
	// upstream for a GET or HEAD (see there).
	rt := p.routeOf(r, clean)
	p.engine.Serve(w, r, rt.name, rt.fetch)
}

// refuse answers a request the proxy refuses itself (the engine's problem+json,
// Cache-Status "failsoft; detail=refused").
func (p *Proxy) refuse(w http.ResponseWriter, r *http.Request, status int, detail string) {
	p.engine.WriteError(w, r, &httpfallback.RefusalError{Status: status, Detail: detail})
}

// proxyRoute is one of the Proxy's routes: its name, the engine's route (and command), and
// its Fetcher, made once per route (routes are bounded: the prefixes, the segment routes,
// "*", and Engine.Route's names) and found with the route in one lookup.
type proxyRoute struct {
	name  string
	fetch httpfallback.Fetcher
	rn    atomic.Pointer[upstream.Runner] // the route's command, once a fetch has asked for it
}

// newRoute makes the route named name.
func (p *Proxy) newRoute(name string) *proxyRoute {
	rt := &proxyRoute{name: name}
	rt.fetch = func(ctx context.Context, w http.ResponseWriter, r *http.Request) error {
		return p.forward(ctx, w, r, rt)
	}
	return rt
}

// runner returns rt's command (nil once the Proxy is closing: the client's own), created
// by the engine on the route's first use and kept in rt, so that a fetch does not take
// the engine's lock to find it.
func (p *Proxy) runner(rt *proxyRoute) *upstream.Runner {
	if rn := rt.rn.Load(); rn != nil && !p.closing.Load() {
		return rn
	}
	rn, _ := p.engine.Runner(rt.name) // nil after Close
	if rn != nil {
		rt.rn.Store(rn)
	}
	return rn
}

// routeOf returns the route of a request whose cleaned path is clean: the longest Routes
// prefix; else Engine.Route's name; else the route of its first path segment.
func (p *Proxy) routeOf(r *http.Request, clean string) *proxyRoute {
	for _, rt := range p.prefixes {
		if strings.HasPrefix(clean, rt.name) {
			return rt
		}
	}
	if p.route != nil {
		name := p.route(r)
		if name == "" {
			return p.star
		}
		if rt, ok := p.named.Load(name); ok {
			return rt.(*proxyRoute)
		}
		rt, _ := p.named.LoadOrStore(name, p.newRoute(name))
		return rt.(*proxyRoute)
	}
	return p.segs.of(clean)
}

// forward is the Fetcher of route: it sends r upstream through the client, each attempt
// run as the engine's command of route, and copies the answer to w: status, headers
// minus hop-by-hop ones, and the body streamed. A body that cannot be read to its end is a
// failure ("invalid-response"), never an answer.
//
// Its own frame is kept small (the request is built, and failures are told, in functions
// of their own): it stays on the stack under every attempt, and a background fetch's
// goroutine that outgrows its stack copies it whole.
func (p *Proxy) forward(ctx context.Context, w http.ResponseWriter, r *http.Request, rt *proxyRoute) error {
	var ob outbound
	if err := p.outbound(ctx, r, rt, &ob); err != nil {
		return err
	}
	defer ob.cancel(nil)
	resp, err := p.client.DoWith(ob.rn, ob.req)
	if ob.hb != nil && !ob.hb.pause() && err == nil {
		// The budget ran out just as the headers arrived: the body would fail anyway.
		_ = resp.Body.Close()
		resp, err = nil, errHeaderBudget
	}
	if err != nil {
		return p.fetchFailed(ctx, ob.ctx, err)
	}
	defer resp.Body.Close()
	return p.answer(ctx, w, r, resp, &ob)
}

// outbound is what forward sends and how it is bounded.
type outbound struct {
	req    *http.Request
	rn     *upstream.Runner // the route's command (nil after Close: the client's own)
	ctx    context.Context  // the fetch's: cancelled with a cause when the proxy gives up
	cancel context.CancelCauseFunc
	hb     *headerBudget // nil for a request with a body, or when ctx ends first
}

// outbound prepares the upstream request for r on route rt into ob: the target under the
// base path, the forwarded header, the body (streamed, bounded) and the header budget. It
// returns the refusal of a path that cannot be joined safely; otherwise ob.cancel must
// be called.
func (p *Proxy) outbound(ctx context.Context, r *http.Request, rt *proxyRoute, ob *outbound) error {
	target, err := joinPath(p.basePath, r.URL.EscapedPath())
	if err != nil {
		return &httpfallback.RefusalError{Status: http.StatusBadRequest, Detail: "The request path cannot be forwarded safely."}
	}
	u := &url.URL{Scheme: p.base.Scheme, Host: p.base.Host, RawQuery: r.URL.RawQuery}
	if u.Path, err = url.PathUnescape(target); err != nil {
		return &httpfallback.RefusalError{Status: http.StatusBadRequest, Detail: "The request path cannot be forwarded safely."}
	}
	u.RawPath = target

	// The route's command, created on the route's first use: before the header budget
	// starts.
	ob.rn = p.runner(rt)

	// A failure to read the request body is the caller's: it cancels the outbound request
	// (so the client neither counts it against the breaker nor retries it) and is answered
	// 400 or 413 (fetchFailed).
	octx, cancel := context.WithCancelCause(ctx)
	ob.ctx, ob.cancel = octx, cancel
	// Built as a value and handed to the client as its one copy with the context
	// (WithContext), so that only that copy is allocated.
	out := http.Request{
		Method:     r.Method,
		URL:        u,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     outboundHeader(r, p.pass),
		Host:       u.Host,
	}
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		// A shared cache may ignore Range (RFC 9110 14.2): the upstream is asked for the
		// whole representation, which can be stored and shared (a 206 must never be shared
		// with a request for the whole: the engine hands a fetch's answer to every request
		// waiting on its key), and the engine answers the client's Range from it.
		delete(out.Header, "Range")
		delete(out.Header, "If-Range")
	}
	if r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0 {
		out.Body = &requestBody{r: r.Body, left: p.maxBody, limited: p.maxBody > 0, cancel: cancel}
		out.ContentLength = r.ContentLength
	}
	// The phase until response headers arrive (every attempt and every backoff) is bounded
	// by the engine's Command.Timeout: the leader of a fetch runs without the client's
	// cancellation, and its waiters give up after that budget. The client sees the budget's
	// end as its retry deadline (upstream.WithRetryDeadline: no Retry-After wait that would
	// pass it), and a timer cancels the request if the headers are still missing then. The
	// timer is paused inside the attempt as soon as its headers have arrived (the client's
	// OnHeaders), before the client reads the body ahead (BufferBody), and taken up again
	// if a retry follows (OnRetry): a body is bounded by the attempt's timeout while it is
	// read ahead and by BodyIdleTimeout after, never by the budget. The budget is not the
	// context's deadline: the attempt's timeouts, derived from that context, would take it
	// for theirs, and nothing would bound the read-ahead once the timer is paused. A
	// request with a body (an upload, never shared: it keeps its client's cancellation) has
	// no such budget, so a slow upload is not cut by it. The timer's cause wraps
	// upstream.ErrTimeout: an attempt it cuts is a timeout for the route's breaker (the
	// attempt's own timeout, inherited from the same Command.Timeout, would end a moment
	// after the budget: a hanging upstream would never be counted), while a client going
	// away stays neutral. A fetch whose context ends first (the engine's background fetch,
	// bounded by the same Command.Timeout taken a moment earlier) needs no timer: that end
	// cancels it before the budget's could.
	fctx := &fetchContext{Context: octx, route: rt.name}
	if out.Body == nil {
		end := time.Now().Add(p.budget)
		fctx.Context = upstream.WithRetryDeadline(octx, end)
		if dl, ok := ctx.Deadline(); !ok || end.Before(dl) {
			fctx.timed = true
			fctx.hb.start(end, p.budget, cancel)
			ob.hb = &fctx.hb
		}
	}
	ob.req = out.WithContext(fctx)
	return nil
}

// fetchFailed returns what forward returns for the client's error err: the caller's end,
// the header budget's timeout, a refusal of the request body, or err itself. octx is the
// fetch's context (its cause tells why the proxy cancelled it).
func (p *Proxy) fetchFailed(ctx, octx context.Context, err error) error {
	if se, ok := errors.AsType[*upstream.StatusError](err); ok && se.Header != nil {
		// The failing answer may be served as the last resort: hop-by-hop fields
		// stay on this hop, as for any answer.
		removeHopByHop(se.Header)
	}
	switch cause := context.Cause(octx); {
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.Is(cause, errHeaderBudget):
		return errHeaderBudget
	case errors.Is(cause, errRequestTooLarge):
		return &httpfallback.RefusalError{Status: http.StatusRequestEntityTooLarge, Detail: "The request body is larger than " + strconv.FormatInt(p.maxBody, 10) + " bytes."}
	case errors.Is(cause, errRequestBody):
		return &httpfallback.RefusalError{Status: http.StatusBadRequest, Detail: "The request body could not be read."}
	}
	return err
}

// answer copies resp to w: the header minus hop-by-hop fields, the status, and the body
// (none for HEAD), bounded by BodyIdleTimeout per read.
func (p *Proxy) answer(ctx context.Context, w http.ResponseWriter, r *http.Request, resp *http.Response, ob *outbound) error {
	removeHopByHop(resp.Header)
	h := w.Header()
	for k, vv := range resp.Header {
		h[k] = vv
	}
	w.WriteHeader(resp.StatusCode)
	if r.Method == http.MethodHead {
		return nil
	}
	cancel := ob.cancel
	n, readErr, err := p.copyBody(w, resp.Body, func() { cancel(errBodyStalled) })
	switch {
	case readErr != nil:
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if errors.Is(context.Cause(ob.ctx), errBodyStalled) {
			readErr = errBodyStalled
		}
		// Wrapped as io.ErrUnexpectedEOF so that upstream.Reason says "invalid-response",
		// even when the connection was reset mid-body.
		return fmt.Errorf("proxy: upstream body broken after %d bytes: %w (%v)", n, io.ErrUnexpectedEOF, readErr)
	case errors.Is(err, http.ErrBodyNotAllowed):
		return nil // a HEAD too large to store: its headers are out, the body is not wanted
	case err != nil:
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("proxy: writing the response: %w", err)
	}
	return nil
}

// fetchContext is the context of a proxy fetch's outbound request. Its value for routeKey
// is the request's route (for the client's OnRetry). With a header budget (timed), it holds
// the budget, which the client's OnHeaders and OnRetry find through it (the request they
// are given has this context). The budget is enforced by a timer cancelling the parent,
// not by a deadline: it is paused once headers arrive, which a deadline could not be.
type fetchContext struct {
	context.Context
	route string
	timed bool
	hb    headerBudget
}

// headerBudget is a fetch's budget until its response headers: a timer that cancels the
// fetch with errHeaderBudget at the budget's end, paused while an attempt's headers are in
// and taken up again for a retry. Its methods are safe for concurrent use (OnHeaders may
// run on the attempt's goroutine).
type headerBudget struct {
	mu     sync.Mutex
	end    time.Time
	timer  *time.Timer // running; nil while paused
	fired  bool        // the budget ran out: the fetch is cancelled, or about to be
	cancel context.CancelCauseFunc
}

// start starts the budget, which ends at end, d from now.
func (b *headerBudget) start(end time.Time, d time.Duration, cancel context.CancelCauseFunc) {
	b.end, b.cancel = end, cancel
	b.timer = time.AfterFunc(d, b.expire)
}

// expire ends the budget: the fetch is cancelled.
func (b *headerBudget) expire() {
	b.mu.Lock()
	b.fired = true
	b.mu.Unlock()
	b.cancel(errHeaderBudget)
}

// pause stops the budget's timer (headers have arrived) and reports whether the budget is
// still good: false when it ran out first.
func (b *headerBudget) pause() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.timer != nil && !b.timer.Stop() {
		b.fired = true // expire runs, or has run
	}
	b.timer = nil
	return !b.fired
}

// resume restarts a paused budget for what is left of it (a retry follows); what is left
// being nothing, it ends at once.
func (b *headerBudget) resume() {
	b.mu.Lock()
	if b.fired || b.timer != nil {
		b.mu.Unlock()
		return
	}
	if left := time.Until(b.end); left > 0 {
		b.timer = time.AfterFunc(left, b.expire)
		b.mu.Unlock()
		return
	}
	b.fired = true
	b.mu.Unlock()
	b.cancel(errHeaderBudget)
}

// Value answers routeKey with the route; any other key is the parent's.
func (c *fetchContext) Value(key any) any {
	if _, ok := key.(routeKey); ok {
		return c.route
	}
	return c.Context.Value(key)
}

// copyBody copies body to w with a pooled buffer. stalled is called when a read has waited
// the idle timeout (it must make the pending read fail); time spent writing to w (a slow
// client) does not count. It returns the bytes copied, the read error (other than io.EOF)
// and else the write error.
func (p *Proxy) copyBody(w io.Writer, body io.Reader, stalled func()) (int64, error, error) {
	br := &bodyReader{r: body, idle: p.idle}
	br.timer = time.AfterFunc(p.idle, stalled)
	br.timer.Stop() // armed by each Read, for that read's wait only
	defer br.timer.Stop()
	bp := p.bufs.Get().(*[]byte)
	n, err := io.CopyBuffer(w, br, *bp)
	p.bufs.Put(bp)
	if br.err != nil {
		return n, br.err, nil
	}
	return n, nil, err
}

// requestBody streams the client's request body upstream, enforcing the size limit; a read
// failure cancels the outbound request with its cause.
type requestBody struct {
	r       io.ReadCloser
	left    int64
	limited bool
	cancel  context.CancelCauseFunc
}

func (b *requestBody) Read(p []byte) (int, error) {
	if b.limited && int64(len(p)) > b.left+1 {
		p = p[:b.left+1]
	}
	n, err := b.r.Read(p)
	if b.limited {
		b.left -= int64(n)
		if b.left < 0 {
			b.cancel(errRequestTooLarge)
			return 0, errRequestTooLarge
		}
	}
	if err != nil && err != io.EOF {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			b.cancel(errRequestTooLarge)
		} else {
			b.cancel(fmt.Errorf("%w: %w", errRequestBody, err))
		}
	}
	return n, err
}

func (b *requestBody) Close() error { return b.r.Close() }

// bodyReader remembers a read error other than io.EOF, to tell a broken upstream body from
// a failed write to the client. The idle timer runs while a read waits, and only then.
type bodyReader struct {
	r     io.Reader
	err   error
	idle  time.Duration
	timer *time.Timer
}

func (b *bodyReader) Read(p []byte) (int, error) {
	b.timer.Reset(b.idle)
	n, err := b.r.Read(p)
	b.timer.Stop()
	if err != nil && err != io.EOF {
		b.err = err
	}
	return n, err
}

// Stats returns the engine's counters (with each route and its breaker) and the store's.
func (p *Proxy) Stats() httpfallback.Stats { return p.engine.Stats() }

// Close stops background refreshes and waits for them, releases the client, closes the
// idle upstream connections of an owned transport and closes an owned store. Call it after
// the server has stopped sending requests (http.Server.Shutdown). Safe to call twice.
func (p *Proxy) Close() error {
	p.closeOnce.Do(func() {
		p.closing.Store(true)
		p.closeErr = p.closeOwned()
	})
	return p.closeErr
}

// closeOwned closes what exists, engines first (their refreshes use the client and store).
func (p *Proxy) closeOwned() error {
	var errs []error
	if p.engine != nil {
		errs = append(errs, p.engine.Close())
	}
	if p.client != nil {
		errs = append(errs, p.client.Close())
	}
	if p.tr != nil {
		p.tr.CloseIdleConnections()
	}
	if p.store != nil {
		errs = append(errs, p.store.Close())
	}
	return errors.Join(errs...)
}

var _ http.Handler = (*Proxy)(nil)

// PurgeURL removes the stored entries of target's path and query, whatever host a client
// reached the proxy by (localhost:8080, 127.0.0.1:8080, a name: they are one upstream),
// and reports how many it removed. target is a path with its query or a URL (its scheme
// and host are ignored). See httpfallback.Engine.PurgePath.
func (p *Proxy) PurgeURL(ctx context.Context, target string) (int, error) {
	return p.engine.PurgePath(ctx, target)
}

// PurgeTag removes every stored entry whose upstream answer carried tag in Surrogate-Key
// or Cache-Tag, and reports how many it removed. See httpfallback.Engine.PurgeTag.
func (p *Proxy) PurgeTag(ctx context.Context, tag string) (int, error) {
	return p.engine.PurgeTag(ctx, tag)
}
