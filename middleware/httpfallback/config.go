package httpfallback

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/failsoft/failsoft/cache"
	"github.com/failsoft/failsoft/upstream"
)

// Fetcher produces a response for r by writing it to w (the engine's buffer, which may
// switch to streaming for bodies over the policy's maximum). It returns a typed error
// (upstream.ErrTimeout, *upstream.StatusError, ...) when the source failed, nil when w
// holds its answer. The engine adds If-None-Match / If-Modified-Since to r when it holds a
// stale entry with validators; a 304 written to w then refreshes that entry.
//
// A Fetcher may be called after Serve has returned, on a goroutine the Engine owns (the
// refresh of a stale entry, or the fetch of a key holding one: see Config.SoftTimeout),
// with a clone of the request whose context keeps the request's values but is cancelled by
// Close and bounded by the command timeout (InBackground reports it). It must therefore not
// capture per-request state that is recycled when the request ends (such as a pooled
// framework context); it should work from its ctx, w and r arguments only.
type Fetcher func(ctx context.Context, w http.ResponseWriter, r *http.Request) error

// Default is a configured default payload: static (Status, Header, Body) or, when Func is
// set, computed from the request and the failure reason. A default is never stored. New
// reads a static default's Header once (each answer writes its own copy of it); change
// neither it nor Body while the Engine serves.
type Default struct {
	Status int         // 0: 200
	Header http.Header // validated: no CR/LF
	Body   []byte
	Func   func(r *http.Request, reason string) (status int, header http.Header, body []byte)
}

// EventKind names what happened to a request.
type EventKind uint8

// Event kinds.
const (
	EventHit      EventKind = iota // served fresh from the store
	EventMiss                      // no usable entry: fetched
	EventStored                    // a fetched response was stored
	EventStale                     // a stale entry was served; Reason says why
	EventDefault                   // a default payload was served; Reason says why
	EventError                     // an error response was served; Reason says why
	EventRefresh                   // a background fetch (refresh, or a stale key's fetch) ended; Reason is "" on success
	EventBreaker                   // a route's circuit changed state (From, To)
	EventForward                   // the source's own answer was served (Fwd says how it was asked; Collapsed when waited on)
	EventUpstream                  // one call of the source ended (Reason "" when it answered well; Duration)
	EventRetry                     // a Fetcher's upstream client retries after a failed attempt (Reason): Engine.Retried
)

// String names the kind ("hit", "miss", ...).
func (k EventKind) String() string {
	switch k {
	case EventHit:
		return "hit"
	case EventMiss:
		return "miss"
	case EventStored:
		return "stored"
	case EventStale:
		return "stale"
	case EventDefault:
		return "default"
	case EventError:
		return "error"
	case EventRefresh:
		return "refresh"
	case EventBreaker:
		return "breaker"
	case EventForward:
		return "forward"
	case EventUpstream:
		return "upstream"
	case EventRetry:
		return "retry"
	}
	return fmt.Sprintf("EventKind(%d)", uint8(k))
}

// Event is passed to Config.OnEvent.
//
// Every request the engine answers produces exactly one answer event: EventHit,
// EventStale, EventDefault, EventError or EventForward (none when the client went away
// before an answer, or for a request refused with a *RefusalError). EventMiss, EventStored,
// EventRefresh, EventUpstream and EventBreaker say what happened on the way.
type Event struct {
	Kind   EventKind
	Engine string // Config.Name of the engine
	Route  string // the route template, never the URL
	Key    string
	Reason string // failure reason (upstream.Reason), "" when none
	Status int
	From   upstream.BreakerState // EventBreaker
	To     upstream.BreakerState // EventBreaker
	// Fwd is how an EventForward's answer was asked of the source, as Cache-Status's
	// fwd parameter: "uri-miss", "stale" (a stale entry was being refreshed), "method"
	// (not GET or HEAD), "bypass" (a GET with a body, or after Close).
	Fwd string
	// Collapsed is set on an answer event of a request that waited for another request's
	// fetch of the same key and was answered with its outcome.
	Collapsed bool
	// Duration is, on an answer event, the time from the engine receiving the request to
	// its answer being chosen (before the answer is written), by Config.Now; on
	// EventUpstream, how long the call of the source took. It is measured only when
	// OnEvent is set, and is 0 on the other kinds.
	Duration time.Duration
}

// Config configures an Engine. Every zero value is a documented default; bad values are
// refused by New with an error naming the field.
//
// Of the shared settings (upstream.Common): Command is the template for every route's
// command (its Name is ignored: see Name), and Command.Timeout also bounds background
// fetches and, by default, LockTimeout. FailureStatuses count for the wrapped handler's
// (or Fetcher's) answers as they do for a Client's. Now ages the stored entries and times
// Event.Duration; nil means the wall clock as the Engine reads it: ages from a reading a
// goroutine of the Engine's takes every millisecond while requests come in (an atomic load
// per request instead of a clock read; it lags time.Now by a millisecond or so, which
// nothing measured in seconds shows), durations from time.Now.
//
// Logger: each request is logged at Debug only (hits, misses, failures served stale,
// defaults, errors, and each background fetch). At Warn and above the engine logs what
// changes, per route: a breaker opening or closing; a route starting to serve stale
// entries or defaults (Warn) or errors (Error); while that lasts, one summary line per
// LogInterval with its answers by outcome; and the route answering normally again. An
// outage of thousands of requests a second is a few lines a minute. The breaker's
// half-open probes while it lasts (one per sleep window) are logged at Info. The query
// string is never logged.
type Config struct {
	// Common holds the settings shared with an upstream.Client: Command,
	// FailureStatuses, Logger, Now.
	upstream.Common
	// Name is the command namespace: route r runs as the command Name+"/"+r and the
	// alternate as Name+"/alternate/"+r; "" means DefaultName. Engines may share a Name, at
	// once or one after another (an engine rebuilt on a config reload): each has circuits
	// of its own.
	Name string
	// Store keeps the entries; nil means an owned cache.Memory of MaxBytes, closed by Close.
	// A Store given here is never closed by the Engine.
	Store cache.Store
	// MaxBytes bounds the owned store; 0 means 64 MiB. Negative is an error.
	MaxBytes int64
	// Policy holds the storage rules and default windows (see cache.Policy); its
	// MaxBodyBytes (0: 8 MiB) is also the size beyond which a response is streamed.
	Policy cache.Policy
	// Route names the route template of a request, for command names and Defaults;
	// nil means r.Pattern (set by a Go 1.22 ServeMux), else "*". Never return a raw path:
	// each distinct route creates a hystrix circuit that lives for the process.
	// r.Pattern is set only once a ServeMux has dispatched: an Engine wrapping a whole mux
	// (eng.Handler(mux)) sees it empty and runs every route as "*". Wrap each handler
	// instead (mux.Handle(pattern, eng.Handler(h))), or name the route here, e.g.
	// func(r *http.Request) string { _, p := mux.Handler(r); return p }. An empty result
	// means "*".
	Route func(*http.Request) string
	// Key builds the cache key; nil means cache.Key with the policy's credential option
	// (Policy.ShareCredentialed, set when it is set in Config.Policy or in any Routes
	// policy) and cache.DefaultKeyedHeaders as KeyOptions.Headers.
	// A custom Key must key every request header the handler's shareable answers depend
	// on (see cache.DefaultKeyedHeaders): the engine does not strip any.
	Key func(*http.Request) string
	// SoftTimeout bounds how long a request holding a stale entry waits for the upstream.
	// When the entry may be served on failure (it is within stale-if-error) and no fetch
	// of the key is running, the request starts one in the background, owned by the
	// Engine (bounded by Command.Timeout, cancelled by Close), and waits for it up to
	// SoftTimeout: past that it is answered with the stale entry (Cache-Status
	// "failsoft; fwd=stale; ttl=-N; detail=soft-timeout") while the fetch goes on and
	// stores what it gets. A fetch in time whose body is too large to store (it had no
	// client to stream to) is answered with the stale entry too ("failsoft; fwd=stale;
	// fwd-status=200; ttl=-N; detail=too-large"), not fetched again for this request.
	// When a fetch of the key is already running, the request is
	// answered with the entry at once ("failsoft; hit; ttl=-N; detail=in-flight"). So no
	// request holding a usable copy waits longer than SoftTimeout for a slow upstream, a
	// retry's backoff, a half-open probe or another request's fetch.
	//
	// 0 means DefaultSoftTimeout. Negative turns it off: such a request fetches inline
	// (or waits for the running fetch) like a request without a stale entry, and gets
	// the stale entry only when the fetch fails. Config.Routes can set it per route.
	SoftTimeout time.Duration
	// Routes overrides settings per route template (the names Route returns).
	Routes map[string]RouteSettings
	// LockTimeout is how long a request waits for other requests' fetches of the same key
	// (two at most: see the package doc, One fetch per key) before fetching on its own
	// (and not storing); 0 means Command.Timeout (itself 0: 1s).
	LockTimeout time.Duration
	// Default is the global default payload, served when no stale entry can be.
	Default *Default
	// Defaults are per route: the key is a route template (exact match) or a path prefix
	// ending in "/" (longest match on r.URL.Path). They take precedence over Default.
	Defaults map[string]*Default
	// Alternate is tried after the primary fails and before stale, as its own command.
	Alternate http.Handler
	// Validate checks a good answer; a non-nil error makes it a failure ("invalid-response"),
	// never stored.
	Validate func(status int, header http.Header, body []byte) error
	// ErrorHandler, when set, writes the last resort: the answer to a request whose source
	// failed (or refused it: a *RefusalError) when neither a stale entry nor a default
	// payload answers it, in the manner of httputil.ReverseProxy's ErrorHandler. err is the
	// failure (errors.Is and errors.As see upstream.ErrCircuitOpen, upstream.ErrTimeout,
	// *upstream.StatusError with the source's failing status, header and body excerpt,
	// *RefusalError, ...); upstream.Reason(err) names it. When err is a
	// *upstream.StatusError, it is the request's own copy (requests that waited on one
	// fetch share its outcome): the handler may modify its Header and Body. The engine's
	// Cache-Status member is on w's header when it is called. It runs on the request's
	// goroutine and must write the answer. nil: the source's own failing answer when it wrote one, else the
	// engine's problem+json (Engine.WriteError). An ErrorHandler that calls
	// Engine.WriteError for every err masks the source's failing answers (its internal
	// headers, a stack trace in its body) behind the engine's problem.
	ErrorHandler func(w http.ResponseWriter, r *http.Request, err error)
	// OnEvent is called synchronously on the request's goroutine (or the refresh's, or the
	// runner's for EventBreaker); nil means none. Keep it fast.
	OnEvent func(Event)
	// LogInterval is how often a degraded route's summary line is written (see Logger):
	// 0 means one minute. A summary is written by the route's first answer after the
	// interval, by Now: no goroutine runs for it. Negative is an error.
	LogInterval time.Duration
	// MaxTargetBytes bounds the request target (path and query as sent): a longer one is
	// answered 414 (application/problem+json) before it is keyed, fetched or stored, as
	// NGINX answers it. 0 means DefaultMaxTargetBytes (8 KiB); negative means no limit
	// (the server's own, about 1 MiB for net/http: every distinct target is a key).
	MaxTargetBytes int
	// MaxHeaderBytes bounds the request's header section ("Name: value\r\n" per line): a
	// larger one is answered 431 before it is keyed, fetched or stored. 0 means
	// DefaultMaxHeaderBytes (32 KiB); negative means no limit.
	MaxHeaderBytes int
	// MethodOverride says what to do with a request carrying X-HTTP-Method-Override,
	// X-HTTP-Method or X-Method-Override; the zero value, MethodOverrideHonour, treats it
	// as the method it names (a GET naming POST is never stored, served from the store or
	// retried, and its success invalidates like a POST's). Another value than the
	// MethodOverrideMode constants is an error.
	MethodOverride MethodOverrideMode
}

// DefaultSoftTimeout is Config.SoftTimeout's default: above a healthy API's p99 on a
// LAN or in one region (a few to a few tens of milliseconds, hundreds for heavy calls),
// well below the attempt timeout (Command.Timeout, 1 s by default) and below what a
// person notices as a stall; an upstream that has not answered by then is far more often
// sick than merely slow.
const DefaultSoftTimeout = 200 * time.Millisecond

// RouteSettings override the engine's settings for one route (Config.Routes).
type RouteSettings struct {
	// SoftTimeout replaces Config.SoftTimeout for the route: 0 keeps the engine's,
	// negative turns it off for the route.
	SoftTimeout time.Duration
	// Policy, when not nil, replaces Config.Policy for the route: what is stored, its
	// freshness and stale windows, the body size limit. Its zero fields are cache.Policy's
	// defaults, not Config.Policy's.
	Policy *cache.Policy
}

// routeSettings are a route's settings in force (defaults filled).
type routeSettings struct {
	policy cache.Policy
	soft   time.Duration // <= 0: off
}

// Stats is a snapshot of an Engine's counters. It marshals to JSON as an operator reads
// it (an admin endpoint can serve it as it is).
type Stats struct {
	// Name is the engine's Config.Name.
	Name string `json:"engine"`
	// Answers by outcome (every answered request counts once in one of Hits, Stale,
	// Defaults, Errors, Forwarded), then what happened on the way.
	Hits      uint64 `json:"hits"`      // fresh from the store
	Stale     uint64 `json:"stale"`     // a stale entry served (any reason)
	Defaults  uint64 `json:"defaults"`  // a default payload served
	Errors    uint64 `json:"errors"`    // an error response served
	Forwarded uint64 `json:"forwarded"` // the source's own answer served (a miss, a pass-through)
	Misses    uint64 `json:"misses"`    // lookups that found no usable entry
	Stored    uint64 `json:"stored"`    // answers stored
	Collapsed uint64 `json:"collapsed"` // answers given from another request's fetch
	Refreshes uint64 `json:"refreshes"` // background fetches ended
	// SoftTimeouts counts the stale answers given because the fetch passed the soft
	// timeout (they are counted in Stale too).
	SoftTimeouts uint64 `json:"soft_timeouts"`
	// UpstreamCalls counts calls of the source (the wrapped handler, a Fetcher,
	// the alternate), refusals by the breaker included; UpstreamFailures those that failed.
	UpstreamCalls    uint64 `json:"upstream_calls"`
	UpstreamFailures uint64 `json:"upstream_failures"`
	// Retries counts the retries a Fetcher's upstream client reported (Engine.Retried).
	Retries uint64 `json:"retries"`
	// Waiting is the number of requests waiting right now for another request's fetch to
	// publish its outcome.
	Waiting int64 `json:"waiting"`
	// Store is the store's snapshot when it exposes one (cache.Memory does).
	Store cache.Stats `json:"store"`
	// Routes holds one entry per route the engine has answered or created a command for,
	// sorted by route.
	Routes []RouteStats `json:"routes"`
}

// RouteStats is one route's counters (see Stats) and the state of its command.
type RouteStats struct {
	// Route is the route template ("*" for requests without one).
	Route string `json:"route"`
	// Breaker is the route's circuit: "closed", "open" or "half-open"; "" when the engine
	// has no command for the route (a Fetcher running its own, not Engine.Runner's).
	Breaker string `json:"breaker,omitempty"`
	// InFlight is how many calls of the route's command run now; MaxConcurrent its limit.
	InFlight      int `json:"in_flight"`
	MaxConcurrent int `json:"max_concurrent,omitempty"`

	Hits             uint64 `json:"hits"`
	Stale            uint64 `json:"stale"`
	Defaults         uint64 `json:"defaults"`
	Errors           uint64 `json:"errors"`
	Forwarded        uint64 `json:"forwarded"`
	Misses           uint64 `json:"misses"`
	Stored           uint64 `json:"stored"`
	Collapsed        uint64 `json:"collapsed"`
	Refreshes        uint64 `json:"refreshes"`
	UpstreamCalls    uint64 `json:"upstream_calls"`
	UpstreamFailures uint64 `json:"upstream_failures"`
	Retries          uint64 `json:"retries"`
}

// DefaultName is Config.Name's default: the command namespace of an engine without a Name.
const DefaultName = "failsoft"

// settingsOf returns the settings in force for each route of cfg (normalized), and for
// every other route.
func settingsOf(cfg Config) (map[string]*routeSettings, *routeSettings) {
	def := &routeSettings{policy: cfg.Policy, soft: cfg.SoftTimeout}
	routes := make(map[string]*routeSettings, len(cfg.Routes))
	for name, rs := range cfg.Routes {
		s := *def
		if rs.SoftTimeout != 0 {
			s.soft = rs.SoftTimeout
		}
		if rs.Policy != nil {
			s.policy = *rs.Policy
			if s.policy.MaxBodyBytes == 0 {
				s.policy.MaxBodyBytes = cache.DefaultMaxBodyBytes
			}
		}
		routes[name] = &s
	}
	return routes, def
}

// validate checks cfg and fills defaults in a copy.
func (cfg Config) normalize() (Config, error) {
	if cfg.Name == "" {
		cfg.Name = DefaultName
	}
	if strings.ContainsAny(cfg.Name, "\r\n") {
		return cfg, errors.New("httpfallback: Config.Name must not contain CR or LF")
	}
	if cfg.MaxBytes < 0 {
		return cfg, fmt.Errorf("httpfallback: Config.MaxBytes is negative (%d)", cfg.MaxBytes)
	}
	if cfg.LogInterval < 0 {
		return cfg, fmt.Errorf("httpfallback: Config.LogInterval is negative (%v)", cfg.LogInterval)
	}
	if cfg.LogInterval == 0 {
		cfg.LogInterval = time.Minute
	}
	if cfg.LockTimeout < 0 {
		return cfg, fmt.Errorf("httpfallback: Config.LockTimeout is negative (%v)", cfg.LockTimeout)
	}
	var err error
	if cfg.Common, err = cfg.Common.WithDefaults("Config"); err != nil {
		return cfg, fmt.Errorf("httpfallback: %w", err)
	}
	if cfg.Policy.MaxBodyBytes < 0 {
		return cfg, fmt.Errorf("httpfallback: Config.Policy.MaxBodyBytes is negative (%d)", cfg.Policy.MaxBodyBytes)
	}
	if err := cfg.Policy.Validate(); err != nil {
		return cfg, fmt.Errorf("httpfallback: Config.Policy: %w", err)
	}
	if cfg.Policy.MaxBodyBytes == 0 {
		cfg.Policy.MaxBodyBytes = cache.DefaultMaxBodyBytes
	}
	if cfg.SoftTimeout == 0 {
		cfg.SoftTimeout = DefaultSoftTimeout
	}
	for _, rt := range slices.Sorted(maps.Keys(cfg.Routes)) {
		if p := cfg.Routes[rt].Policy; p != nil {
			if p.MaxBodyBytes < 0 {
				return cfg, fmt.Errorf("httpfallback: Config.Routes[%q].Policy.MaxBodyBytes is negative (%d)", rt, p.MaxBodyBytes)
			}
			if err := p.Validate(); err != nil {
				return cfg, fmt.Errorf("httpfallback: Config.Routes[%q].Policy: %w", rt, err)
			}
		}
	}
	if cfg.LockTimeout == 0 {
		cfg.LockTimeout = cfg.Command.Timeout
	}
	if err := cfg.Default.check("Config.Default"); err != nil {
		return cfg, err
	}
	routes := make([]string, 0, len(cfg.Defaults))
	for r := range cfg.Defaults {
		routes = append(routes, r)
	}
	sort.Strings(routes)
	for _, r := range routes {
		d := cfg.Defaults[r]
		if d == nil {
			return cfg, fmt.Errorf("httpfallback: Config.Defaults[%q] is nil", r)
		}
		if err := d.check(fmt.Sprintf("Config.Defaults[%q]", r)); err != nil {
			return cfg, err
		}
	}
	if err := cfg.checkScreen(); err != nil {
		return cfg, err
	}
	return cfg, nil
}

// check validates a default payload; field names the field in the error.
func (d *Default) check(field string) error {
	if d == nil {
		return nil
	}
	if d.Status != 0 && (d.Status < 200 || d.Status > 999) {
		return fmt.Errorf("httpfallback: %s.Status is not a final HTTP status (%d)", field, d.Status)
	}
	for name, vals := range d.Header {
		if !validHeaderName(name) {
			return fmt.Errorf("httpfallback: %s.Header has an invalid field name %q", field, name)
		}
		for _, v := range vals {
			if !validHeaderValue(v) {
				return fmt.Errorf("httpfallback: %s.Header[%q] has a value with CR, LF or NUL", field, name)
			}
		}
	}
	return nil
}

// validHeaderName reports whether s is an RFC 9110 token.
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// validHeaderValue reports whether v can be sent as a field value without splitting it.
func validHeaderValue(v string) bool {
	return !strings.ContainsAny(v, "\r\n\x00")
}
