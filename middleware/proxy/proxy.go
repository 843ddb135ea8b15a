package httpfallback

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/failsoft/failsoft/cache"
	"github.com/failsoft/failsoft/upstream"
)

// RouteOverride overrides the upstream's freshness for the requests under a path prefix:
// the operator's say over what the upstream's Cache-Control states (cache.Policy's
// OverrideFreshness, which also overrides no-cache). no-store, private and the other rules
// against storing still apply.
type RouteOverride struct {
	// Prefix is matched against the cleaned request path (before the upstream base path is
	// added): "/static/" matches "/static/app.js". Required, it must start with "/".
	// The longest matching prefix wins.
	Prefix string
	// Fresh replaces the response's own freshness. Required, > 0.
	Fresh time.Duration
}

// DefaultProxyBufferBody is how much of each upstream body a proxy attempt reads inside
// its command when ProxyConfig.Client.BufferBody is 0.
const DefaultProxyBufferBody = 1 << 20

// ProxyConfig configures a Proxy. Every zero value is a documented default.
type ProxyConfig struct {
	// Upstream is the base URL every request is forwarded under: scheme http or https, a
	// host, and optionally a base path. It may not have a query, a fragment or user info
	// (use Client.Credential for credentials). Required.
	Upstream string
	// Engine configures the engine the proxy serves through (store, policy, stale windows,
	// defaults, events). Engine.Store nil: the proxy owns a cache.Memory of Engine.MaxBytes
	// (shared by every route) and closes it in Close. Engine.Command.Timeout bounds each
	// forwarded request until its response headers arrive (every attempt and backoff: it is
	// the client's context deadline, so a Retry-After wait that would pass it is not taken,
	// and past it the request is a "timeout" failure), background refreshes, and how long
	// requests wait for another's fetch of the same key; 0: the client's per-attempt
	// timeout times its attempts, plus its longest backoffs and a tenth of an attempt, so
	// that attempts end by their own timeouts, which the breaker counts. Engine.Route nil: the route is the matching Routes
	// prefix, else "*".
	Engine Config
	// Client configures the upstream client every forwarded request goes through (its
	// command, retries, rate limit, credential). Client.Command.Name "": Engine.Name (or
	// "failsoft") + "/proxy". Zero fields of Client.Command take Engine.Command's values;
	// the resulting Client.Command.SleepWindow is the engine's too (it is the Retry-After
	// of a 503 while the client's breaker is open).
	// Client.FailureStatuses nil: Engine.FailureStatuses. Client.Transport nil: a clone of
	// http.DefaultTransport that ignores proxy environment variables, does not compress on
	// its own (the client's Accept-Encoding is passed through) and keeps up to 256 idle
	// connections to the upstream; the proxy closes its idle connections in Close.
	// Client.BufferBody 0: DefaultProxyBufferBody, at most Engine.Policy.MaxBodyBytes: each
	// attempt reads that much of the body inside its command, so a body that breaks off or
	// trickles past the attempt timeout is a failure the breaker counts and the retries see,
	// not a 200 found broken afterwards. Longer bodies stream on after that prefix.
	Client upstream.ClientConfig
	// Routes override freshness per path prefix. Each override runs on its own engine over
	// the same store and client (the route name is the prefix).
	Routes []RouteOverride
	// BodyIdleTimeout bounds the wait for each read of the upstream's response body once
	// its headers have arrived (Engine.Command.Timeout bounds the wait for the headers): a
	// body that stalls longer is a failure ("invalid-response"), never stored. 0: 30s.
	BodyIdleTimeout time.Duration
	// MaxRequestBody bounds request bodies, streamed upstream as they arrive: a larger one
	// is answered 413 (at once when Content-Length says so, else when the limit is passed,
	// and then the upstream request is abandoned). 0: 10 MiB; negative: no limit.
	MaxRequestBody int64
}

// Proxy is a caching fallback reverse proxy for one upstream base URL: an http.Handler that
// forwards each request through an upstream.Client (hystrix command, retries for idempotent
// requests) and serves it through the Engine (store, stale, defaults, Cache-Status), so a
// failing upstream is answered from the cache. Create it with NewProxy and Close it.
//
// The target of every request is the base URL joined with the request's cleaned path and
// its query: the Host header, an absolute-form request URI, dot segments or encoded slashes
// never select another host nor leave the base path (what cannot be joined safely is
// answered 400). Hop-by-hop headers are dropped both ways. X-Forwarded-For gets the
// client's address appended (earlier values are kept, as httputil.ReverseProxy does);
// X-Forwarded-Host (the request's Host) and X-Forwarded-Proto are replaced, never taken
// from the client, and the client's Forwarded (RFC 7239) is dropped. Request bodies are
// streamed, never buffered, so a request with a body is never retried; a request without
// one is retried only when its method is idempotent or it carries an Idempotency-Key (the
// upstream.Client's rule). Long-lived exchanges (WebSocket and other protocol upgrades, a
// GET or HEAD whose Accept lists text/event-stream) are not carried: they are answered 501.
// Another method accepting an event stream is forwarded: an answer streaming longer than
// the attempt timeout is cut.
//
// After Close, requests are still forwarded, without the cache (Cache-Status
// "failsoft; fwd=bypass"): close the Proxy after the server has stopped.
type Proxy struct {
	base     *url.URL // scheme and host of the upstream
	basePath string   // escaped base path without its trailing slash
	maxBody  int64
	idle     time.Duration
	bufs     sync.Pool // *[]byte copy buffers

	engine *Engine      // routes without an override
	routes []proxyRoute // overrides, longest prefix first
	route  func(*http.Request) string
	budget time.Duration // the engine's Command.Timeout: bounds a fetch until response headers
	client *upstream.Client
	store  *cache.Memory // owned store, nil when the caller gave one
	tr     *http.Transport
	fetch  Fetcher

	closeOnce sync.Once
	closeErr  error
}

type proxyRoute struct {
	prefix string
	engine *Engine
}

// Errors the proxy answers itself, before or instead of the upstream.
var (
	errRequestTooLarge = errors.New("httpfallback: proxy: request body too large")
	errRequestBody     = errors.New("httpfallback: proxy: reading the request body failed")
	errBodyStalled     = errors.New("httpfallback: proxy: upstream body stalled past BodyIdleTimeout")
	errHeaderBudget    = errors.New("httpfallback: proxy: no response headers within the engine's Command.Timeout")
)

const defaultMaxRequestBody = 10 << 20

// NewProxy validates cfg and returns a Proxy. Errors name the offending field.
func NewProxy(cfg ProxyConfig) (*Proxy, error) {
	base, err := parseUpstream(cfg.Upstream)
	if err != nil {
		return nil, err
	}
	p := &Proxy{
		base:     &url.URL{Scheme: base.Scheme, Host: base.Host},
		basePath: strings.TrimSuffix(base.EscapedPath(), "/"),
		maxBody:  cfg.MaxRequestBody,
		route:    cfg.Engine.Route,
	}
	if p.maxBody == 0 {
		p.maxBody = defaultMaxRequestBody
	}
	switch {
	case cfg.BodyIdleTimeout < 0:
		return nil, fmt.Errorf("httpfallback: ProxyConfig.BodyIdleTimeout is negative (%v)", cfg.BodyIdleTimeout)
	case cfg.BodyIdleTimeout == 0:
		p.idle = 30 * time.Second
	default:
		p.idle = cfg.BodyIdleTimeout
	}
	p.bufs.New = func() any { b := make([]byte, 32<<10); return &b }
	seen := make(map[string]bool, len(cfg.Routes))
	for i, ro := range cfg.Routes {
		switch {
		case !strings.HasPrefix(ro.Prefix, "/"):
			return nil, fmt.Errorf("httpfallback: ProxyConfig.Routes[%d].Prefix %q must start with /", i, ro.Prefix)
		case ro.Fresh <= 0:
			return nil, fmt.Errorf("httpfallback: ProxyConfig.Routes[%d].Fresh must be > 0, got %v", i, ro.Fresh)
		case seen[ro.Prefix]:
			return nil, fmt.Errorf("httpfallback: ProxyConfig.Routes[%d].Prefix %q is given twice", i, ro.Prefix)
		}
		if _, err := cleanPath(ro.Prefix); err != nil {
			return nil, fmt.Errorf("httpfallback: ProxyConfig.Routes[%d].Prefix %q: %w", i, ro.Prefix, err)
		}
		seen[ro.Prefix] = true
	}

	name := cfg.Engine.Name
	if name == "" {
		name = "failsoft"
	}
	ccfg := cfg.Client
	if ccfg.Command.Name == "" {
		ccfg.Command.Name = name + "/proxy"
	}
	ccfg.Command = inheritSettings(ccfg.Command, cfg.Engine.Command)
	// In proxy mode the breaker that trips is the client's: report its changes as the
	// engine's EventBreaker (route "proxy"), as the middleware does for its route commands.
	// It goes through the engine (set below, before any request can change the state), so
	// that its quiet log sees it too.
	if user := ccfg.Command.OnStateChange; cfg.Engine.OnEvent != nil || cfg.Engine.Logger != nil {
		ccfg.Command.OnStateChange = func(name string, from, to upstream.BreakerState) {
			defer recoverHook(cfg.Engine.Logger, name)
			if p.engine != nil {
				p.engine.emit(Event{Kind: EventBreaker, Route: "proxy", From: from, To: to})
			}
			if user != nil {
				user(name, from, to)
			}
		}
	}
	// Retries are counted as the engine's EventRetry (route "proxy"), for Stats and metrics.
	userRetry := ccfg.OnRetry
	ccfg.OnRetry = func(attempt int, reason string) {
		if p.engine != nil {
			p.engine.emit(Event{Kind: EventRetry, Route: "proxy", Reason: reason})
		}
		if userRetry != nil {
			userRetry(attempt, reason)
		}
	}
	if ccfg.FailureStatuses == nil {
		ccfg.FailureStatuses = cfg.Engine.FailureStatuses
	}
	if ccfg.BufferBody == 0 {
		ccfg.BufferBody = DefaultProxyBufferBody
		if m := cfg.Engine.Policy.MaxBodyBytes; m > 0 && m < ccfg.BufferBody {
			ccfg.BufferBody = m
		}
	}
	if ccfg.Logger == nil {
		ccfg.Logger = cfg.Engine.Logger
	}
	if ccfg.Transport == nil {
		p.tr = defaultProxyTransport()
		ccfg.Transport = p.tr
	}

	ecfg := cfg.Engine
	if ccfg.Command.SleepWindow != 0 {
		// The breaker that opens is the client's: a 503's Retry-After is its sleep window.
		ecfg.Command.SleepWindow = ccfg.Command.SleepWindow
	}
	if ecfg.Command.Timeout == 0 {
		ecfg.Command.Timeout = clientBudget(ccfg)
	}
	if ecfg.Store == nil {
		p.store, err = cache.New(cache.Config{MaxBytes: ecfg.MaxBytes, Now: ecfg.Now})
		if err != nil {
			return nil, fmt.Errorf("httpfallback: ProxyConfig.Engine.MaxBytes: %w", err)
		}
		ecfg.Store = p.store
	}
	p.client, err = upstream.NewClient(ccfg)
	if err != nil {
		p.closeOwned()
		return nil, fmt.Errorf("httpfallback: ProxyConfig.Client: %w", err)
	}
	p.engine, err = New(ecfg)
	if err != nil {
		p.closeOwned()
		return nil, fmt.Errorf("httpfallback: ProxyConfig.Engine: %w", err)
	}
	// The breaker that opens is the client's: with it open, a request is answered (stale,
	// default or error) at once, without a flight, a fetch or a goroutine.
	p.engine.fetchBreaker = p.client.Runner()
	for i, ro := range cfg.Routes {
		rcfg := ecfg
		rcfg.Name = name + "/route" + strconv.Itoa(i)
		rcfg.Policy.OverrideFreshness = ro.Fresh
		e, err := New(rcfg)
		if err != nil {
			p.closeOwned()
			return nil, fmt.Errorf("httpfallback: ProxyConfig.Routes[%d]: %w", i, err)
		}
		e.fetchBreaker = p.client.Runner()
		p.routes = append(p.routes, proxyRoute{prefix: ro.Prefix, engine: e})
	}
	// Longest prefix first, so the first match is the most specific.
	for i := 1; i < len(p.routes); i++ {
		for j := i; j > 0 && len(p.routes[j].prefix) > len(p.routes[j-1].prefix); j-- {
			p.routes[j], p.routes[j-1] = p.routes[j-1], p.routes[j]
		}
	}
	p.budget = p.engine.cfg.Command.Timeout
	p.fetch = p.forward
	return p, nil
}

// parseUpstream validates ProxyConfig.Upstream.
func parseUpstream(raw string) (*url.URL, error) {
	if raw == "" {
		return nil, errors.New("httpfallback: ProxyConfig.Upstream is required")
	}
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // without the URL, which may hold a password
		}
		return nil, fmt.Errorf("httpfallback: ProxyConfig.Upstream: %w", err)
	}
	raw = u.Redacted()
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("httpfallback: ProxyConfig.Upstream %q: scheme must be http or https", raw)
	case u.Host == "" || u.Hostname() == "":
		return nil, fmt.Errorf("httpfallback: ProxyConfig.Upstream %q: host is required", raw)
	case u.User != nil:
		return nil, fmt.Errorf("httpfallback: ProxyConfig.Upstream: user info is not allowed, use Client.Credential")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return nil, fmt.Errorf("httpfallback: ProxyConfig.Upstream %q: query and fragment are not allowed", raw)
	}
	if p := u.EscapedPath(); p != "" {
		if c, err := cleanPath(p); err != nil || strings.TrimSuffix(c, "/") != strings.TrimSuffix(p, "/") {
			return nil, fmt.Errorf("httpfallback: ProxyConfig.Upstream %q: base path must be clean (no dot segments, empty segments or encoded slashes)", raw)
		}
	}
	return u, nil
}

// clientBudget is the longest a client configured by c takes until response headers when
// every attempt runs into its own timeout: attempts x timeout, plus the longest backoffs
// between them, plus a tenth of an attempt for scheduling. The engine's budget defaults to
// it, so that an attempt ends by its own timeout (a failure the breaker counts) rather than
// by the budget (a cancellation, which it does not). The upstream package's defaults apply
// to zero fields: 1s, 3 attempts, backoff base 100ms and cap 2s.
func clientBudget(c upstream.ClientConfig) time.Duration {
	per, attempts := c.Command.Timeout, c.Retry.MaxAttempts
	base, maxDelay := c.Retry.BaseDelay, c.Retry.MaxDelay
	if per <= 0 {
		per = time.Second
	}
	if attempts <= 0 {
		attempts = 3
	}
	if base <= 0 {
		base = 100 * time.Millisecond
	}
	if maxDelay <= 0 {
		maxDelay = 2 * time.Second
	}
	budget := per*time.Duration(attempts) + per/10
	for i, d := 0, base; i < attempts-1; i, d = i+1, d*2 {
		budget += min(d, maxDelay)
	}
	return budget
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
	return s
}

// defaultProxyTransport is the transport of a Proxy whose Client.Transport is nil.
func defaultProxyTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = nil
	t.DisableCompression = true
	t.MaxIdleConns = 512
	t.MaxIdleConnsPerHost = 256
	return t
}

// ServeHTTP forwards r to the upstream through the engine.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	reqPath := r.URL.EscapedPath()
	clean, err := cleanPath(reqPath)
	if err != nil {
		writeProxyProblem(w, http.StatusBadRequest, "The request path cannot be forwarded safely.")
		return
	}
	if IsUpgrade(r) || (IsStreaming(r) && (r.Method == http.MethodGet || r.Method == http.MethodHead)) {
		// Not carried: stripped of its hop-by-hop Upgrade, a WebSocket handshake would reach
		// the upstream as a plain GET (whose answer could be stored), and an event stream
		// would be read ahead and cut by the attempt timeout. A clear refusal instead. An
		// event stream is what a GET listing text/event-stream asks for (EventSource); any
		// other method that lists it among the types it accepts (an MCP client's POST
		// sends "application/json, text/event-stream") is forwarded as it always was.
		writeProxyProblem(w, http.StatusNotImplemented, "The proxy does not carry protocol upgrades (WebSocket) or event streams.")
		return
	}
	if p.maxBody > 0 && r.ContentLength > p.maxBody {
		writeProxyProblem(w, http.StatusRequestEntityTooLarge, "The request body is larger than "+strconv.FormatInt(p.maxBody, 10)+" bytes.")
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
	route, e := p.routeOf(r, clean)
	e.Serve(w, r, route, p.fetch)
}

// routeOf picks the engine and route name for a request whose cleaned path is clean.
func (p *Proxy) routeOf(r *http.Request, clean string) (string, *Engine) {
	for _, ro := range p.routes {
		if strings.HasPrefix(clean, ro.prefix) {
			if p.route != nil {
				return p.route(r), ro.engine
			}
			return ro.prefix, ro.engine
		}
	}
	if p.route != nil {
		return p.route(r), p.engine
	}
	return "*", p.engine
}

// forward is the proxy's Fetcher: it sends r upstream through the client and copies the
// answer to w: status, headers minus hop-by-hop ones, and the body streamed. A body that
// cannot be read to its end is a failure ("invalid-response"), never an answer.
func (p *Proxy) forward(ctx context.Context, w http.ResponseWriter, r *http.Request) error {
	target, err := joinPath(p.basePath, r.URL.EscapedPath())
	if err != nil {
		return &refusal{http.StatusBadRequest, "The request path cannot be forwarded safely."}
	}
	u := &url.URL{Scheme: p.base.Scheme, Host: p.base.Host, RawQuery: r.URL.RawQuery}
	if u.Path, err = url.PathUnescape(target); err != nil {
		return &refusal{http.StatusBadRequest, "The request path cannot be forwarded safely."}
	}
	u.RawPath = target

	// A failure to read the request body is the caller's: it cancels the outbound request
	// (so the client neither counts it against the breaker nor retries it) and is answered
	// 400 or 413 here.
	octx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	out := &http.Request{
		Method:     r.Method,
		URL:        u,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     outboundHeader(r),
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
	// cancellation, and its waiters give up after that budget. The client sees the budget as
	// its context's deadline (no Retry-After wait that would pass it), and a timer cancels
	// the request if the headers are still missing then. The timer is stopped once they have
	// arrived, so a long body is bounded by BodyIdleTimeout only. A request with a body (an
	// upload, never shared: it keeps its client's cancellation) has no such budget, so a slow
	// upload is not cut by it.
	var timer *time.Timer
	if out.Body == nil {
		timer = time.AfterFunc(p.budget, func() { cancel(errHeaderBudget) })
		out = out.WithContext(headerBudget{Context: octx, deadline: time.Now().Add(p.budget)})
	} else {
		out = out.WithContext(octx)
	}

	resp, err := p.client.Do(out)
	if timer != nil && !timer.Stop() && err == nil {
		// The budget ran out just as the headers arrived: the body would fail anyway.
		_ = resp.Body.Close()
		resp, err = nil, errHeaderBudget
	}
	if err != nil {
		if se := (*upstream.StatusError)(nil); errors.As(err, &se) && se.Header != nil {
			// The failing answer may be served as the last resort: hop-by-hop fields
			// stay on this hop, as for any answer.
			removeHopByHop(se.Header)
		}
		switch cause := context.Cause(octx); {
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(cause, errHeaderBudget):
			return fmt.Errorf("%w: %w", upstream.ErrTimeout, errHeaderBudget)
		case errors.Is(cause, errRequestTooLarge):
			return &refusal{http.StatusRequestEntityTooLarge, "The request body is larger than " + strconv.FormatInt(p.maxBody, 10) + " bytes."}
		case errors.Is(cause, errRequestBody):
			return &refusal{http.StatusBadRequest, "The request body could not be read."}
		}
		return err
	}
	defer resp.Body.Close()

	removeHopByHop(resp.Header)
	h := w.Header()
	for k, vv := range resp.Header {
		h[k] = vv
	}
	w.WriteHeader(resp.StatusCode)
	if r.Method == http.MethodHead {
		return nil
	}
	n, readErr, err := p.copyBody(w, resp.Body, func() { cancel(errBodyStalled) })
	switch {
	case readErr != nil:
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if errors.Is(context.Cause(octx), errBodyStalled) {
			readErr = errBodyStalled
		}
		// Wrapped as io.ErrUnexpectedEOF so that upstream.Reason says "invalid-response",
		// even when the connection was reset mid-body.
		return fmt.Errorf("httpfallback: proxy: upstream body broken after %d bytes: %w (%v)", n, io.ErrUnexpectedEOF, readErr)
	case errors.Is(err, http.ErrBodyNotAllowed):
		return nil // a HEAD too large to store: its headers are out, the body is not wanted
	case err != nil:
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("httpfallback: proxy: writing the response: %w", err)
	}
	return nil
}

// headerBudget is a proxy fetch's context until the response headers: its Deadline is the
// header budget's end (or the parent's, when earlier), so that the client does not start a
// retry wait that would pass it. The budget is enforced by a timer cancelling the parent,
// not by this context, and that timer is stopped once headers arrive, which a context
// deadline could not be.
type headerBudget struct {
	context.Context
	deadline time.Time
}

// Deadline reports the earlier of the budget's end and the parent's deadline.
func (c headerBudget) Deadline() (time.Time, bool) {
	if d, ok := c.Context.Deadline(); ok && d.Before(c.deadline) {
		return d, true
	}
	return c.deadline, true
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

// refusal is the proxy's fetch refusing the request itself (a body over MaxRequestBody or
// unreadable, a path that cannot be joined): the engine answers it with writeProxyProblem
// (see serveError), never as an upstream failure.
type refusal struct {
	status int
	detail string
}

func (r *refusal) Error() string {
	return "httpfallback: proxy refused the request (" + strconv.Itoa(r.status) + "): " + r.detail
}

// writeProxyProblem answers a request the proxy refuses itself (RFC 9457 problem+json).
func writeProxyProblem(w http.ResponseWriter, status int, detail string) {
	h := w.Header()
	h.Set("Content-Type", "application/problem+json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Status", "failsoft; detail=refused")
	body, _ := json.Marshal(problem{Type: "about:blank", Title: http.StatusText(status), Status: status, Detail: detail, Reason: "refused"})
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// Stats returns the engine's counters, summed over the route overrides' engines (their
// routes listed after the main engine's), the client's breaker as the route "proxy", and
// the owned store's counters.
func (p *Proxy) Stats() Stats {
	s := p.engine.Stats()
	for _, ro := range p.routes {
		rs := ro.engine.Stats()
		s.Hits += rs.Hits
		s.Misses += rs.Misses
		s.Stored += rs.Stored
		s.Stale += rs.Stale
		s.Defaults += rs.Defaults
		s.Errors += rs.Errors
		s.Collapsed += rs.Collapsed
		s.Refreshes += rs.Refreshes
		s.Forwarded += rs.Forwarded
		s.UpstreamCalls += rs.UpstreamCalls
		s.UpstreamFailures += rs.UpstreamFailures
		s.Retries += rs.Retries
		s.SoftTimeouts += rs.SoftTimeouts
		s.Waiting += rs.Waiting
		s.Routes = append(s.Routes, rs.Routes...)
	}
	// The breaker every forwarded request goes through is the client's (EventBreaker's
	// route "proxy").
	rn := p.client.Runner()
	i := slices.IndexFunc(s.Routes, func(rs RouteStats) bool { return rs.Route == "proxy" })
	if i < 0 {
		s.Routes = append(s.Routes, RouteStats{Route: "proxy"})
		i = len(s.Routes) - 1
	}
	s.Routes[i].Breaker, s.Routes[i].InFlight, s.Routes[i].MaxConcurrent = rn.State().String(), rn.InFlight(), rn.MaxConcurrent()
	if p.store != nil {
		s.Store = p.store.Stats()
	}
	return s
}

// Close stops background refreshes and waits for them, releases the client, closes the
// idle upstream connections of an owned transport and closes an owned store. Call it after
// the server has stopped sending requests (http.Server.Shutdown). Safe to call twice.
func (p *Proxy) Close() error {
	p.closeOnce.Do(func() { p.closeErr = p.closeOwned() })
	return p.closeErr
}

// closeOwned closes what exists, engines first (their refreshes use the client and store).
func (p *Proxy) closeOwned() error {
	var errs []error
	if p.engine != nil {
		errs = append(errs, p.engine.Close())
	}
	for _, ro := range p.routes {
		errs = append(errs, ro.engine.Close())
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
// and host are ignored). See Engine.PurgePath.
func (p *Proxy) PurgeURL(ctx context.Context, target string) (int, error) {
	n := 0
	for _, e := range p.engines() {
		m, err := e.PurgePath(ctx, target)
		if err != nil {
			return n, err
		}
		n += m
	}
	return n, nil
}

// PurgeTag removes every stored entry whose upstream answer carried tag in Surrogate-Key
// or Cache-Tag, and reports how many it removed. See Engine.PurgeTag.
func (p *Proxy) PurgeTag(ctx context.Context, tag string) (int, error) {
	n := 0
	for _, e := range p.engines() {
		m, err := e.PurgeTag(ctx, tag)
		if err != nil {
			return n, err
		}
		n += m
	}
	return n, nil
}

// engines returns the main engine and the route overrides' engines.
func (p *Proxy) engines() []*Engine {
	es := []*Engine{p.engine}
	for _, ro := range p.routes {
		es = append(es, ro.engine)
	}
	return es
}
