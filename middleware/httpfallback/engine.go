package httpfallback

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/failsoft/failsoft/cache"
	"github.com/failsoft/failsoft/internal/fieldset"
	"github.com/failsoft/failsoft/upstream"
)

// Engine is the fallback engine: cache lookup, one fetch per key, stale, defaults, errors.
// It is safe for concurrent use; Close it when done.
type Engine struct {
	cfg            Config
	store          cache.Store
	owned          *cache.Memory                      // the store, when the Engine created it
	prefixes       []string                           // Defaults keys ending in "/", longest first
	defaultHeaders map[*Default]*defaultHeader        // the static defaults' headers, laid out
	keyFn          cache.KeyFunc                      // Config.Key, else cache.Key with the default options, prepared
	appendKey      func([]byte, *http.Request) []byte // keyFn into a buffer, when keys may be views (see viewKey); else nil
	appendURLKey   func([]byte, *http.Request) []byte // appendKey without the keyed headers, for a request carrying none (viewKey)
	keyed          []string                           // the keyed headers (cache.DefaultKeyedHeaders), canonical
	keyedSet       fieldset.Set                       // their filter
	asks           askedFields                        // the filters of the other fields the path looks up
	keyBufs        sync.Pool                          // *[]byte for viewKey
	clk            *coarseClock                       // Config.Now when it was nil; stopped by Close
	stopwatch      func() time.Time                   // times Durations: Config.Now as given, else time.Now
	memo           *hitMemo                           // strings a fresh hit writes
	open           *outcome                           // the outcome of a call the open breaker refused (read-only)
	routes         map[string]*routeSettings          // Config.Routes in force
	defRoute       *routeSettings                     // the settings of every other route
	obs            observer                           // per-route counters and the quiet log
	purge          purgeIndex                         // the hosts and tags of stored entries (purge.go)

	base   context.Context // cancelled by Close; parent of background refreshes
	cancel context.CancelFunc
	wg     sync.WaitGroup // background refreshes

	mu      sync.Mutex
	closed  bool
	flights map[string]*flight // one fetch per key
	flying  atomic.Int32       // len(flights), read without e.mu
	workers workers            // the goroutines of background fetches (workers.go)
	timers  timerPool          // the soft timeout's and the lock timeout's timers
	// runners are the routes' commands: a map replaced by a larger copy (under mu) when a
	// route's command is made, read without mu.
	runners atomic.Pointer[map[string]*upstream.Runner]

	isClosed  atomic.Bool
	closeOnce sync.Once
	closeErr  error

	misses, stored, stale, defaults, errs, collapsed, refreshes, softTimeouts atomic.Uint64
	waiting                                                                   atomic.Int64
}

// flight is one fetch of a key that other requests may wait on. out is written before
// done is closed and never changed after. done is made by the first request that waits
// (awaitLocked, under e.mu): most fetches have no one waiting, and a channel is an
// allocation.
type flight struct {
	done chan struct{}
	out  *outcome

	// Under e.mu: the requests waiting on f (counted in Stats.Waiting until f's outcome
	// is published or they stop waiting), and whether it is published.
	waiters   int64
	published bool
}

// attachLocked makes r wait on f: counted in Stats.Waiting, which lead's publication
// of f's outcome takes it out of. It returns f's done channel (awaitLocked). e.mu must be
// held.
func (e *Engine) attachLocked(f *flight) <-chan struct{} {
	f.waiters++
	e.waiting.Add(1)
	return f.awaitLocked()
}

// leave takes a request that stops waiting on f before its outcome (its client went
// away, the lock timeout passed) out of Stats.Waiting.
func (e *Engine) leave(f *flight) {
	e.mu.Lock()
	if !f.published {
		f.waiters--
		e.waiting.Add(-1)
	}
	e.mu.Unlock()
}

// awaitLocked returns the channel closed when f's outcome is published, making it on first
// use. e.mu must be held, and f must still be registered in e.flights (lead closes the
// channel only if it exists when it unregisters f).
func (f *flight) awaitLocked() <-chan struct{} {
	if f.done == nil {
		f.done = make(chan struct{})
	}
	return f.done
}

// source is what answers on a miss: either a wrapped handler, run inline as the route's
// command (Handler), or a Fetcher that runs its own command (an upstream client, the Echo adapter).
type source struct {
	fetch   Fetcher
	handler http.Handler
	// closedRead: the route's breaker was read closed just before this fetch (the
	// leader's, in serve): the handler's command does not read it again (AdmitRead).
	closedRead bool
}

// New validates cfg and returns an Engine. It fails when a field is invalid (the error
// names it).
func New(cfg Config) (*Engine, error) {
	// Without Config.Now, the engine runs on its coarse clock; Durations are timed with
	// time.Now (see coarseClock).
	var clk *coarseClock
	stopwatch := cfg.Now
	if cfg.Now == nil {
		clk = newCoarseClock()
		cfg.Now, stopwatch = clk.now, time.Now
	}
	cfg, err := cfg.normalize()
	if err != nil {
		return nil, err
	}
	e := &Engine{
		cfg:       cfg,
		store:     cfg.Store,
		flights:   make(map[string]*flight),
		workers:   workers{jobs: make(chan func())},
		memo:      new(hitMemo),
		clk:       clk,
		stopwatch: stopwatch,
		open:      failedOutcome(upstream.ErrCircuitOpen, nil),
		obs:       observer{quiet: newQuietLog(cfg)},
		purge:     purgeIndex{tags: cache.NewTags(0)},
	}
	e.obs.def = e.obs.routes.get(defaultRoute)
	e.routes, e.defRoute = settingsOf(cfg)
	e.defaultHeaders = layoutDefaults(cfg)
	// One key function serves every route: it hashes the credential into the key when any
	// policy in force (Config.Policy or a route's) stores credentialed answers.
	shared := e.defRoute.policy.ShareCredentialed
	for _, s := range e.routes {
		shared = shared || s.policy.ShareCredentialed
	}
	keyOpts := cache.KeyOptions{Credentials: shared, Headers: cache.DefaultKeyedHeaders()}
	e.keyFn = cfg.Key
	if e.keyFn == nil {
		e.keyFn = keyOpts.Func()
		e.purge.keyed = keyOpts.Headers
	}
	for p := range cfg.Defaults {
		if strings.HasSuffix(p, "/") {
			e.prefixes = append(e.prefixes, p)
		}
	}
	sort.Slice(e.prefixes, func(i, j int) bool { return len(e.prefixes[i]) > len(e.prefixes[j]) })
	// The catch-all route's command is created now (a circuit of this Engine's own, even
	// when another Engine has the same Name), so that a failure to create it fails New.
	if _, err := e.runner(defaultRoute); err != nil {
		return nil, fmt.Errorf("httpfallback: Config.Name %q / Config.Command: %w", cfg.Name, err)
	}
	if e.store == nil {
		// The store's own clock (its sweeper's, once a minute) is Config.Now as given, else
		// time.Now: the coarse clock's goroutine runs only while requests read it.
		storeNow := cfg.Now
		if clk != nil {
			storeNow = time.Now
		}
		m, err := cache.New(cache.Config{MaxBytes: cfg.MaxBytes, Now: storeNow})
		if err != nil {
			e.closeRunners()
			return nil, fmt.Errorf("httpfallback: Config.MaxBytes: %w", err)
		}
		e.store, e.owned = m, m
	}
	overrides := upstream.MethodOverrideFields()
	e.asks = askedFields{
		override:    fieldset.Of(overrides[:]),
		conditional: fieldset.Of([]string{"If-None-Match", "If-Modified-Since"}),
		rng:         fieldset.Of([]string{"Range"}),
	}
	if _, ok := e.store.(*cache.Memory); ok && cfg.Key == nil {
		e.appendKey = keyOpts.AppendFunc()
		// A request carrying none of the keyed headers has the key of the same options
		// without them (the key's header part is written only for a header carried), built
		// without reading its fields again: viewKey picks it from the fields screen saw.
		urlOpts := keyOpts
		urlOpts.Headers = nil
		e.appendURLKey = urlOpts.AppendFunc()
		e.keyed, e.keyedSet = keyOpts.Headers, fieldset.Of(keyOpts.Headers)
		e.keyBufs.New = func() any { b := make([]byte, 0, 256); return &b }
	}
	e.base, e.cancel = context.WithCancel(context.Background())
	return e, nil
}

const defaultRoute = "*"

// Handler wraps next as net/http middleware: next runs inline on the request's goroutine
// as the route's command (see RunCommand), only when the store cannot answer.
//
// A refresh in the background (a stale entry's, or a key's fetch a client holding a stale
// copy stopped waiting for: see Config.SoftTimeout) runs next on a goroutine of the
// Engine's, possibly after Serve has returned, with a clone of the request whose context
// keeps its values (see InBackground). So wrap a router that keeps per-request state in
// the context and recycles it when the request ends (chi's route context), rather than
// mounting Handler among its middlewares: next then routes the clone afresh.
//
// A long-lived exchange (IsStreaming: a protocol upgrade such as WebSocket, or a
// Server-Sent Events stream) goes straight to next, as if the middleware were not mounted:
// an upgrade takes over the connection, which the engine's buffer cannot hand over (a
// handler refused the hijack would answer 500, and the route's breaker would count it),
// and an event stream must reach the client as it is written and outlives any command
// timeout (buffered, it would end as a timeout counted against the breaker).
func (e *Engine) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if IsStreaming(r) {
			next.ServeHTTP(w, r)
			return
		}
		e.serve(w, r, e.route(r), source{handler: next}, nil)
	})
}

// IsUpgrade reports whether r asks for a protocol upgrade (RFC 9110 section 7.8): an
// Upgrade field and "upgrade" among the Connection options (ASCII case-insensitive); or
// whether it is a CONNECT, which opens a tunnel (and carries WebSocket over HTTP/2 and
// HTTP/3, RFC 8441 and 9220, where there is no Upgrade field).
func IsUpgrade(r *http.Request) bool {
	if r.Method == http.MethodConnect {
		return true
	}
	h := r.Header
	if len(h["Upgrade"]) == 0 {
		return false
	}
	for _, v := range h.Values("Connection") {
		for part := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(part), "upgrade") {
				return true
			}
		}
	}
	return false
}

// IsStreaming reports whether r asks for a long-lived exchange that is neither cached nor
// run as a command: a protocol upgrade (IsUpgrade) or a Server-Sent Events stream (an
// Accept field listing text/event-stream, as EventSource sends).
func IsStreaming(r *http.Request) bool {
	return IsUpgrade(r) || acceptsEventStream(r.Header["Accept"])
}

// acceptsEventStream reports whether one of the Accept values lists text/event-stream
// (media types are ASCII case-insensitive; parameters are ignored).
func acceptsEventStream(accept []string) bool {
	for _, v := range accept {
		// It runs on every request, fresh hits included: most values are rejected here,
		// without allocating or splitting them.
		if !mentionsEventStream(v) {
			continue
		}
		for part := range strings.SplitSeq(v, ",") {
			mt, _, _ := strings.Cut(part, ";")
			if strings.EqualFold(strings.TrimSpace(mt), "text/event-stream") {
				return true
			}
		}
	}
	return false
}

// mentionsEventStream reports whether v holds "text/event-stream" in any ASCII case. It
// looks only around each '-' (found by the fast IndexByte): a browser's long Accept value
// is rejected in a few nanoseconds, where lowering it and searching it cost ~200 ns.
func mentionsEventStream(v string) bool {
	const mt, dash = "text/event-stream", len("text/event")
	for i := 0; ; {
		j := strings.IndexByte(v[i:], '-')
		if j < 0 {
			return false
		}
		i += j
		if i >= dash && i-dash+len(mt) <= len(v) && strings.EqualFold(v[i-dash:i-dash+len(mt)], mt) {
			return true
		}
		i++
	}
}

// settings returns route's settings in force.
func (e *Engine) settings(route string) *routeSettings {
	if s := e.routes[route]; s != nil {
		return s
	}
	return e.defRoute
}

// route names r's route template.
func (e *Engine) route(r *http.Request) string {
	if e.cfg.Route != nil {
		if rt := e.cfg.Route(r); rt != "" {
			return rt
		}
		return defaultRoute
	}
	if r.Pattern != "" {
		return r.Pattern
	}
	return defaultRoute
}

// Serve answers r on w, fetching with fetch when needed; route names the command and the
// defaults. Adapters (Echo, an upstream client's Fetcher) call it; only the calling goroutine writes to w.
// fetch is expected to run its own command (RunCommand, or an upstream.Client).
func (e *Engine) Serve(w http.ResponseWriter, r *http.Request, route string, fetch Fetcher) {
	if route == "" {
		route = defaultRoute
	}
	e.serve(w, r, route, source{fetch: fetch}, nil)
}

// ServeLazy is Serve for an adapter whose Fetcher costs something to build (per-request
// state it allocates, as the Echo adapter's does): the engine calls newFetch, which must
// return a non-nil Fetcher, only when it may need the source (a miss, the refresh of a
// stale entry, a request it passes through, any request after Close), at most once per
// call, on the calling goroutine before ServeLazy returns. A fresh hit, a stale entry
// served while its key's fetch is in flight and a stale or default answer while the
// route's breaker is open never call it: they cost what they cost through Handler.
func (e *Engine) ServeLazy(w http.ResponseWriter, r *http.Request, route string, newFetch func() Fetcher) {
	if route == "" {
		route = defaultRoute
	}
	e.serve(w, r, route, source{}, newFetch)
}

// withFetch returns src with the Fetcher newFetch builds, when newFetch is set (see
// ServeLazy); else src. It only calls newFetch, so that a newFetch the caller built on its
// stack stays there.
func withFetch(src source, newFetch func() Fetcher) source {
	if newFetch != nil {
		src.fetch = newFetch()
	}
	return src
}

// exchange is one request on its way through the engine: what each step of the path
// reads. It belongs to one goroutine: the request's own, or a background fetch's (which
// has its own exchange, without a client).
type exchange struct {
	w         http.ResponseWriter // the client; nil in a background fetch
	r         *http.Request
	route     string
	key       string       // "" for a request the store never sees
	ent       *cache.Entry // the entry stored for r; nil when none (or Gone)
	src       source
	rt        *routeSettings
	collapsed bool // the answer is another request's fetch's
	owned     bool // r is this exchange's own clone (a background fetch's): fetch may change it
}

// serve is the request's whole path; see the package doc for the picture. The source is
// src, or the one newFetch builds when it is set (ServeLazy): built (withFetch) only on the
// paths that may call it.
func (e *Engine) serve(w http.ResponseWriter, r *http.Request, route string, src source, newFetch func() Fetcher) {
	fields, answered := e.screen(w, r, route, src, newFetch) // limits and method overrides: screen.go
	if answered {
		return
	}
	if e.isClosed.Load() {
		e.bypass(&exchange{w: w, r: r, route: route, src: withFetch(src, newFetch), rt: e.settings(route)})
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		e.passThrough(&exchange{w: w, r: r, route: route, src: withFetch(src, newFetch), rt: e.settings(route)}, "method")
		return
	}
	if r.ContentLength != 0 {
		var hasBody bool
		if r, hasBody = probeBody(r); hasBody {
			// A GET or HEAD with a body (a search API's query, say): the key cannot see
			// the body, so its answer is neither stored, shared nor served from the store.
			e.passThrough(&exchange{w: w, r: r, route: route, src: withFetch(src, newFetch), rt: e.settings(route)}, "bypass")
			return
		}
	}
	ctx := r.Context()
	now := e.cfg.Now()
	start := now // Config.Now as given times Durations too: one reading
	if e.clk != nil {
		start = e.clock()
	}
	key, kb := e.viewKey(r, fields)
	ent, state := cache.Lookup(ctx, e.store, key, r, now)
	switch state {
	case cache.Fresh:
		e.hit(route, key, ent.Status, start)
		if e.cfg.Logger != nil && e.cfg.Logger.Enabled(ctx, slog.LevelDebug) {
			e.cfg.Logger.LogAttrs(ctx, slog.LevelDebug, "failsoft: hit", e.reqAttrs(r, route)...)
		}
		e.writeEntry(w, r, fields, ent, now, e.memo.hitStatus(ent.TTL(now)))
		e.putKeyBuf(kb)
		return
	case cache.Gone:
		ent = nil
	}
	if state == cache.Stale || e.cfg.OnEvent != nil {
		// The refresh keeps the key, and OnEvent may: a copy now. Otherwise it stays a view
		// (see viewKey) until this request fetches or waits: an open breaker's answer, or a
		// stale one while the key is in flight, keeps nothing of it.
		key, kb = e.ownKey(key, kb), nil
	}
	r = e.withStart(r, start)
	ex := &exchange{w: w, r: r, route: route, key: key, ent: ent, src: src, rt: e.settings(route)} // src: see newFetch
	if state == cache.Stale {
		// Within stale-while-revalidate: answer now, refresh once in the background
		// (unless the route's breaker is open: it would refuse the refresh).
		e.serveStale(ex, now, ReasonStaleWhileRevalidate, false)
		if f := e.refreshFlight(ex, newFetch); f != nil {
			e.goFetch(ex, f)
		}
		return
	}
	e.misses.Add(1)
	if !e.counted(route, EventMiss, "", false) {
		e.emit(&Event{Kind: EventMiss, Route: route, Key: key})
	}
	e.log(ctx, slog.LevelDebug, "failsoft: miss", r, route)

	// A stale entry that may be served when the fetch fails (within stale-if-error) is
	// also what answers while the fetch is slow: no request holding one waits longer
	// than the route's soft timeout for the upstream, another request's fetch, a retry's
	// backoff or a half-open probe.
	servable := state == cache.StaleIfError && ex.rt.soft > 0
	if e.cfg.Alternate == nil && e.clk != nil && e.flying.Load() == 0 {
		// No key is in flight and the route's breaker was read open a moment ago
		// (upstream.Runner.OpenAt): the answer the loop below gives an open breaker, without
		// the engine's lock or the breaker's, which every refused request would contend for.
		if rn := e.runnerOf(route); rn != nil && rn.OpenAt(now) {
			e.serveOpen(ex, state, now)
			e.putKeyBuf(kb)
			return
		}
	}
	closedRead := false
	for {
		e.mu.Lock()
		if f := e.flights[key]; f != nil {
			if servable {
				e.mu.Unlock()
				e.serveStale(ex, now, ReasonInFlight, false)
				e.putKeyBuf(kb)
				return
			}
			done := e.attachLocked(f)
			e.mu.Unlock()
			ex.key = e.ownKey(ex.key, kb)
			ex.src = withFetch(ex.src, newFetch) // the wait may end in a fetch of its own
			e.wait(ex, f, done)
			return
		}
		if e.cfg.Alternate == nil {
			st := e.breakerLocked(route, now)
			if st == upstream.Open {
				// The route's breaker is open: the source would not be called. Stale,
				// default or error at once: no flight, no command, no goroutine.
				e.mu.Unlock()
				e.serveOpen(ex, state, now)
				e.putKeyBuf(kb)
				return
			}
			closedRead = st == upstream.Closed
		}
		if newFetch == nil {
			break // e.mu held
		}
		// This request fetches: its source is built first (ServeLazy), outside e.mu and
		// before a flight is registered (newFetch is the caller's code), then the flights
		// and the breaker are looked at again.
		e.mu.Unlock()
		ex.src, newFetch = withFetch(ex.src, newFetch), nil
	}
	// This request fetches (e.mu held): its flight and exchange keep the key.
	key = e.ownKey(key, kb)
	ex.key = key
	if servable {
		if f := e.newFlightLocked(key); f != nil {
			done := f.awaitLocked()
			e.mu.Unlock()
			e.softWait(ex, f, done)
			return
		}
		// Closed meanwhile: fetch inline, as any request (still under the lock, so that
		// no other fetch of the key can register in between).
	}
	f := e.addFlightLocked(key)
	e.mu.Unlock()
	ex.src.closedRead = closedRead
	e.leadInline(ex, f)
}

// leadInline runs the fetch of f (registered by addFlightLocked) on the request's
// goroutine and writes its outcome. The leader fetches for everyone waiting on the key,
// so its client hanging up must not cancel the fetch: the context keeps the request's
// values but not its cancellation. The command's own deadline bounds it (RunCommand, or
// the Fetcher's client).
func (e *Engine) leadInline(ex *exchange, f *flight) {
	o := e.lead(context.WithoutCancel(ex.r.Context()), ex, f)
	if o.streamed {
		return
	}
	e.respond(ex, o)
}

// serveOpen answers a request whose route's breaker is open (the source would not be
// called): its stale entry when it may be served, else the default or the error, at once.
func (e *Engine) serveOpen(ex *exchange, state cache.State, now time.Time) {
	if state.ServableStale() {
		e.serveStale(ex, now, e.open.reason, false)
		return
	}
	e.serveFailureAt(ex, e.open, now)
}

// softWait starts the fetch of ex's key in the background (f is its flight) and waits
// for it up to the route's soft timeout: its outcome is written when it comes in time
// (ex's stale entry when its body was too large to store: detail=too-large), else ex's
// stale entry (detail=soft-timeout), and the fetch goes on, storing what it gets. done
// is f's (awaitLocked).
func (e *Engine) softWait(ex *exchange, f *flight, done <-chan struct{}) {
	e.goFetch(ex, f)
	t := e.timers.start(ex.rt.soft)
	defer e.timers.put(t)
	select {
	case <-done:
		if o := f.out; !o.tooLarge {
			e.respond(ex, o)
			return
		}
		// Too large to store, and the background fetch had no client to stream it to.
		// A fetch of this request's own, streamed, is bounded by no soft deadline: the
		// stale entry answers instead.
		e.serveStaleAs(ex, e.cfg.Now(), ReasonTooLarge, true, f.out.status)
	case <-t.C:
		e.softTimeouts.Add(1)
		e.serveStale(ex, e.cfg.Now(), ReasonSoftTimeout, true)
	case <-ex.r.Context().Done():
		// The client is gone; the fetch carries on and stores what it gets.
	}
}

// lead runs the flight's fetch and publishes its outcome, whatever happens: when the
// fetch panics (a hook: the source's panics are recovered by its command), a failure, so
// that no request waiting on f reads a nil outcome.
func (e *Engine) lead(ctx context.Context, ex *exchange, f *flight) (o *outcome) {
	defer func() {
		if o == nil {
			o = failedOutcome(&upstream.PanicError{Value: "httpfallback: the fetch did not complete"}, nil)
		}
		f.out = o
		e.mu.Lock()
		delete(e.flights, ex.key)
		e.flying.Add(-1)
		f.published = true
		e.waiting.Add(-f.waiters)
		done := f.done // made by whoever waits, under e.mu, while f was registered
		e.mu.Unlock()
		if done != nil {
			close(done)
		}
	}()
	return e.fetch(ctx, ex, "")
}

// wait follows another request's fetch of ex's key for up to LockTimeout (with the soft
// timeout on, a request holding an entry that may be served stale is answered at once
// instead). If the leader is stuck past that, ex's entry is served stale when it may be;
// else, or when the leader's outcome cannot be shared (streamed, another variant), this
// request fetches on its own and does not store (as NGINX's cache lock does).
//
// f started before this request arrived, so its answer may be older than the request: it
// is reused only when it may be without validation (outcome.reusable, RFC 9111 4). When
// it may not (no-cache, max-age=0), the request takes the next fetch of the key instead,
// which starts after it arrived and so answers it as a fetch of its own would: it waits
// on it, or leads it when none is running, revalidating the entry f stored. The waiters
// of such an answer thus make one fetch, not one each, and wait for two at most.
// done is f's (awaitLocked).
func (e *Engine) wait(ex *exchange, f *flight, done <-chan struct{}) {
	t := e.timers.start(e.cfg.LockTimeout)
	defer e.timers.put(t)
	why := ReasonLockTimeout
	for before := true; ; before = false {
		var o *outcome
		select {
		case <-done:
			o = f.out
		case <-ex.r.Context().Done():
			// The client is gone; the leader carries on for the others.
			e.leave(f)
			return
		case <-t.C:
			if ex.ent != nil && ex.ent.State(e.cfg.Now()).ServableStale() {
				// Soft timeout off, and the fetch this request waits on is stuck past the
				// lock timeout: a failure stale-if-error covers. Answer with the entry now
				// rather than start a second fetch that would take as long.
				e.leave(f)
				ex.collapsed = true
				e.serveFailure(ex, &outcome{err: upstream.ErrTimeout, reason: ReasonLockTimeout, called: true})
				return
			}
			e.log(ex.r.Context(), slog.LevelDebug, "failsoft: lock timeout, fetching without the lock", ex.r, ex.route)
			e.leave(f)
		}
		if o == nil {
			break
		}
		if !o.sharable(ex.r) {
			why = "not-shared"
			break
		}
		if !before || o.reusable(e.cfg.Now()) {
			e.collapsed.Add(1)
			ex.collapsed = true
			e.respond(ex, o)
			return
		}
		ex.ent = o.entry // the next fetch revalidates it
		e.mu.Lock()
		if g := e.flights[ex.key]; g != nil {
			f, done = g, e.attachLocked(g)
			e.mu.Unlock()
			continue
		}
		f = e.addFlightLocked(ex.key)
		e.mu.Unlock()
		e.leadInline(ex, f)
		return
	}
	o := e.fetch(ex.r.Context(), ex, why)
	if o.streamed {
		return
	}
	e.respond(ex, o)
}

// refreshFlight registers the background refresh of ex's key and returns its flight; nil
// when a fetch of the key is running, the Engine is closed, or the route's breaker is open
// and no Alternate is set (the refresh would be refused). When a refresh will start,
// ex's source is built first (withFetch, newFetch being the caller's code: outside e.mu and
// before the flight exists), then the flights and the breaker are looked at again.
func (e *Engine) refreshFlight(ex *exchange, newFetch func() Fetcher) *flight {
	for {
		e.mu.Lock()
		var f *flight
		if e.cfg.Alternate != nil || !e.breakerOpenLocked(ex.route) {
			if newFetch != nil && !e.closed && e.flights[ex.key] == nil {
				e.mu.Unlock()
				ex.src, newFetch = withFetch(ex.src, newFetch), nil
				continue
			}
			f = e.newFlightLocked(ex.key)
		}
		e.mu.Unlock()
		return f
	}
}

// newFlightLocked registers the flight of key for a background fetch (and counts it in
// e.wg), unless a fetch of key is already running or the Engine is closed (nil). e.mu
// must be held.
func (e *Engine) newFlightLocked(key string) *flight {
	if e.closed || e.flights[key] != nil {
		return nil
	}
	e.wg.Add(1)
	return e.addFlightLocked(key)
}

// addFlightLocked registers a flight of key, which has none. e.mu must be held.
func (e *Engine) addFlightLocked(key string) *flight {
	f := &flight{}
	e.flights[key] = f
	e.flying.Add(1)
	return f
}

// breakerOpenLocked reports whether route's command exists and its breaker is open (its
// sleep window not yet passed: a half-open breaker lets a probe through). A Fetcher that
// makes its own calls runs them as the route's command (Runner), so this is its breaker
// too. e.mu must be held.
func (e *Engine) breakerOpenLocked(route string) bool {
	return e.breakerLocked(route, time.Time{}) == upstream.Open
}

// breakerLocked is the state of route's breaker (Closed when its command does not exist
// yet) at now, the request's clock reading (zero: none). e.mu must be held.
func (e *Engine) breakerLocked(route string, now time.Time) upstream.BreakerState {
	rn := e.runnerOf(route)
	switch {
	case rn == nil:
		return upstream.Closed
	case e.clk != nil && !now.IsZero():
		// now is the coarse clock's (a time.Now reading, a millisecond old at most): the
		// runner need not read the clock again.
		return rn.StateAt(now)
	}
	return rn.State()
}

// backgroundKey marks the context of a fetch the Engine runs on a goroutine of its own.
type backgroundKey struct{}

// InBackground reports whether ctx is, or derives from, the context of a fetch the Engine
// runs on a goroutine of its own (the refresh of a stale entry, or the fetch of a key
// holding an entry that may be served stale, which the client does not wait for past the
// soft timeout) rather than on the request's goroutine. Such a fetch carries the request's
// context values but not its cancellation, and may run after Serve has returned: a Fetcher
// must not touch per-request state that is recycled when the request ends (a pooled
// framework context) when InBackground is true.
func InBackground(ctx context.Context) bool { return ctx.Value(backgroundKey{}) != nil }

// goFetch runs the fetch of f (registered by newFlightLocked) on a goroutine the Engine
// owns: on a clone of ex's request taken now (ex's request is not used after Serve
// returns), with a context that keeps the request's values, is cancelled by Close and is
// bounded by the command timeout (see InBackground), and without a client: the outcome is
// stored, and published to f.
func (e *Engine) goFetch(ex *exchange, f *flight) {
	// The request's values go with the fetch (route parameters a router keeps in the
	// context, a trace), as they do with an inline leader's; its cancellation does not:
	// the Engine's (Close) and the command timeout bound the fetch.
	parent := context.WithValue(context.WithoutCancel(ex.r.Context()), backgroundKey{}, true)
	ctx, cancel := context.WithTimeout(parent, e.cfg.Command.Timeout)
	stop := context.AfterFunc(e.base, cancel)
	req := ex.r.Clone(ctx)
	req.Method = http.MethodGet
	req.Body, req.GetBody, req.ContentLength = http.NoBody, nil, 0
	bg := &exchange{r: req, route: ex.route, key: ex.key, ent: ex.ent, src: ex.src, rt: ex.rt, owned: true}
	e.goBackground(func() {
		defer e.wg.Done()
		defer cancel()
		defer stop()
		defer func() {
			// The source's panics are recovered by the command; this is for the hooks
			// (OnEvent, Logger): in a goroutine of ours, a panic would end the process.
			if v := recover(); v != nil {
				e.log(ctx, slog.LevelError, "failsoft: background fetch panicked", req, bg.route, slog.String("panic", fmt.Sprint(v)))
			}
		}()
		o := e.lead(ctx, bg, f)
		e.refreshes.Add(1)
		e.emit(&Event{Kind: EventRefresh, Route: bg.route, Key: bg.key, Reason: o.reason, Status: o.status})
		if o.err != nil {
			e.log(ctx, slog.LevelDebug, "failsoft: background fetch failed", req, bg.route, slog.String("reason", o.reason))
		} else {
			e.log(ctx, slog.LevelDebug, "failsoft: background fetch", req, bg.route, slog.Int("status", o.status), slog.Bool("stored", o.stored))
		}
	})
}

// passThrough runs the source as its command for a request the store cannot serve (any
// method but GET and HEAD: fwd "method"; a GET or HEAD with a body: fwd "bypass"): never
// cached, never stale; a non-error answer to an unsafe method (not OPTIONS or TRACE)
// invalidates the URL's stored entry, and those of its same-origin Location and
// Content-Location.
func (e *Engine) passThrough(ex *exchange, fwd string) {
	w, r := ex.w, ex.r
	r = e.withStart(r, e.clock())
	ex.r = r
	buf := newBuffer(w, ex.rt.policy.MaxBodyBytes, false, fwd)
	err := e.runObserved(r.Context(), ex.route, ex.src, buf, r)
	status := buf.code()
	if err == nil && e.isFailure(status) {
		err = &upstream.StatusError{StatusCode: status, Header: buf.header, Body: excerpt(buf.body)}
	}
	if err == nil && status < 400 && unsafeRequest(r) {
		e.invalidate(r, buf.header) // RFC 9111 4.4: invalidate.go
	}
	if buf.streaming {
		e.emit(&Event{Kind: EventForward, Route: ex.route, Status: status, Fwd: fwd, Duration: e.since(r)})
		return
	}
	if err != nil {
		o := e.failed(err, buf)
		o.fwd = fwd
		e.serveError(ex, o)
		return
	}
	e.emit(&Event{Kind: EventForward, Route: ex.route, Status: status, Fwd: fwd, Duration: e.since(r)})
	e.writeAnswer(w, r, status, buf.header, buf.body, member{fwd: fwd, fwdStatus: status}.String())
}

// probeBody reports whether r, a GET or HEAD with a ContentLength other than 0, carries a
// body. A known length does; an unknown one (-1) is what a net/http server reports for a
// chunked HTTP/1.1 body and for an HTTP/2 stream its client left open after the headers,
// and what quic-go's HTTP/3 server reports for every request without Content-Length,
// plain GETs included: one read of the body tells. An empty body is replaced by
// http.NoBody (with ContentLength 0) on a shallow copy of r, which is returned; a body that
// has bytes, or whose read failed, is given back whole on the copy (the byte read, then
// the rest; or the error). The read waits as any read of the request body does (the
// server's read timeouts bound it).
func probeBody(r *http.Request) (*http.Request, bool) {
	if r.ContentLength > 0 || r.Body == nil || r.Body == http.NoBody {
		return r, r.ContentLength > 0
	}
	var one [1]byte
	n, err := io.ReadFull(r.Body, one[:])
	c := r.WithContext(r.Context())
	switch {
	case err == io.EOF:
		c.Body, c.ContentLength = http.NoBody, 0
		return c, false
	case err != nil:
		c.Body = readCloser{Reader: errReader{err}, Closer: r.Body}
	default:
		c.Body = readCloser{Reader: io.MultiReader(bytes.NewReader(one[:n]), r.Body), Closer: r.Body}
	}
	return c, true
}

// readCloser is a request body read through Reader and closed through Closer.
type readCloser struct {
	io.Reader
	io.Closer
}

// errReader fails every read with err.
type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// unsafeMethod reports whether method is unsafe (RFC 9110 9.2.1): not GET, HEAD, OPTIONS
// or TRACE.
func unsafeMethod(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return false
	}
	return true
}

// bypass answers after Close: the source is called directly, nothing is stored or served
// from the store (an owned store is closed by then), and no background work starts.
func (e *Engine) bypass(ex *exchange) {
	// Our member goes after the answer's own, when its header is written (RFC 9211).
	r := e.withStart(ex.r, e.clock())
	ex.r = r
	rec := &statusRecorder{ResponseWriter: ex.w, cacheStatus: member{fwd: "bypass"}.String()}
	err := e.runObserved(r.Context(), ex.route, ex.src, rec, r)
	if rec.status != 0 {
		e.emit(&Event{Kind: EventForward, Route: ex.route, Status: rec.status, Fwd: "bypass", Duration: e.since(r)})
		return
	}
	if err != nil {
		o := e.failed(err, nil)
		o.fwd = "bypass"
		e.serveError(ex, o)
		return
	}
	e.emit(&Event{Kind: EventForward, Route: ex.route, Status: http.StatusOK, Fwd: "bypass", Duration: e.since(r)})
	rec.stamp() // the source wrote nothing: the server sends 200 with this header
}

// key builds the cache key of r.
func (e *Engine) key(r *http.Request) string { return e.keyFn(r) }

// viewKey returns r's key. With the default key function over a cache.Memory store (which
// keeps no reference to the key a Get is given), key is a view of a pooled buffer, kb,
// rather than a string of its own: a fresh hit, which keeps nothing of its key, allocates
// none. kb is nil otherwise. The caller keeps key only through ownKey (a copy), and hands
// kb back with ownKey or putKeyBuf, after which the view must not be used.
//
// fields is the filter of r's field names (screen's fieldset.Scan; fieldset.All() when
// unknown): a request that certainly carries none of the keyed headers, the usual one, is
// keyed without its fields being read again.
func (e *Engine) viewKey(r *http.Request, fields fieldset.Set) (key string, kb *[]byte) {
	if e.appendKey == nil {
		return e.keyFn(r), nil
	}
	appendKey := e.appendKey
	if !e.carriesKeyed(r.Header, &fields) {
		appendKey = e.appendURLKey
	}
	kb = e.keyBufs.Get().(*[]byte)
	*kb = appendKey((*kb)[:0], r)
	return unsafe.String(unsafe.SliceData(*kb), len(*kb)), kb
}

// carriesKeyed reports whether h may carry a value of a keyed header: false only when
// none of them has a line (so that its key has no header part), looked up only for the
// names fields may hold.
func (e *Engine) carriesKeyed(h http.Header, fields *fieldset.Set) bool {
	if !fields.Meets(&e.keyedSet) {
		return false
	}
	for _, n := range e.keyed {
		if fields.MayHave(n) && len(h[n]) > 0 {
			return true
		}
	}
	return false
}

// ownKey returns key as a string of its own and hands kb back (see viewKey).
func (e *Engine) ownKey(key string, kb *[]byte) string {
	if kb == nil {
		return key
	}
	key = strings.Clone(key)
	e.putKeyBuf(kb)
	return key
}

// putKeyBuf hands kb back to the pool (nil: nothing); a buffer a long key grew is dropped.
func (e *Engine) putKeyBuf(kb *[]byte) {
	if kb != nil && cap(*kb) <= maxPooledKey {
		e.keyBufs.Put(kb)
	}
}

// maxPooledKey is the capacity of the largest key buffer viewKey keeps for reuse.
const maxPooledKey = 4 << 10

// Stats returns a snapshot: the engine's counters, per route with the state of each
// route's breaker, and the store's.
func (e *Engine) Stats() Stats {
	s := Stats{
		Name:         e.cfg.Name,
		Misses:       e.misses.Load(),
		Stored:       e.stored.Load(),
		Stale:        e.stale.Load(),
		Defaults:     e.defaults.Load(),
		Errors:       e.errs.Load(),
		Collapsed:    e.collapsed.Load(),
		Refreshes:    e.refreshes.Load(),
		SoftTimeouts: e.softTimeouts.Load(),
		Waiting:      e.waiting.Load(),
	}
	s.Routes, s.Forwarded, s.UpstreamCalls, s.UpstreamFailures = e.routeStats()
	for _, rs := range s.Routes {
		s.Retries += rs.Retries
		s.Hits += rs.Hits // counted per route only: one atomic add per fresh hit
	}
	if sp, ok := e.store.(interface{ Stats() cache.Stats }); ok {
		s.Store = sp.Stats()
	}
	return s
}

// Close stops background refreshes (their contexts are cancelled), waits for them, closes
// the route commands and an owned store. It is safe to call twice and concurrently.
// After Close, Serve still answers, by calling the source directly (Cache-Status
// "failsoft; fwd=bypass"): nothing is read from or written to the store.
func (e *Engine) Close() error {
	e.closeOnce.Do(func() {
		e.mu.Lock()
		e.closed = true
		e.mu.Unlock()
		e.isClosed.Store(true)
		e.cancel()
		e.wg.Wait()
		errs := []error{e.closeRunners()}
		if e.owned != nil {
			errs = append(errs, e.owned.Close())
		}
		if e.clk != nil {
			e.clk.close()
		}
		e.closeErr = errors.Join(errs...)
	})
	return e.closeErr
}

func (e *Engine) closeRunners() error {
	var errs []error
	for _, r := range e.allRunners() {
		errs = append(errs, r.Close())
	}
	return errors.Join(errs...)
}

// log logs at level with the request's route, method and path (never its query string
// or header values, which may carry credentials).
func (e *Engine) log(ctx context.Context, level slog.Level, msg string, r *http.Request, route string, attrs ...slog.Attr) {
	if e.cfg.Logger == nil || !e.cfg.Logger.Enabled(ctx, level) {
		return
	}
	e.cfg.Logger.LogAttrs(ctx, level, msg, append(e.reqAttrs(r, route), attrs...)...)
}

func (e *Engine) reqAttrs(r *http.Request, route string) []slog.Attr {
	return []slog.Attr{
		slog.String("engine", e.cfg.Name),
		slog.String("route", route),
		slog.String("method", r.Method),
		slog.String("path", r.URL.Path),
	}
}

// timerPool keeps stopped timers for the waits of one Engine (the soft timeout, the lock
// timeout): a timer is three allocations, and every request served stale after a slow or
// failing fetch waits on one. The zero value is ready.
type timerPool struct{ p sync.Pool }

// start returns a timer that fires after d.
func (tp *timerPool) start(d time.Duration) *time.Timer {
	if t, ok := tp.p.Get().(*time.Timer); ok {
		t.Reset(d)
		return t
	}
	return time.NewTimer(d)
}

// put stops t and keeps it for a later start. A value it delivered that nobody received is
// dropped first (with Go 1.23's timers, Stop already guarantees that; with
// GODEBUG=asynctimerchan=1 the value may sit in the channel).
func (tp *timerPool) put(t *time.Timer) {
	if !t.Stop() {
		select {
		case <-t.C:
		default:
		}
	}
	tp.p.Put(t)
}
