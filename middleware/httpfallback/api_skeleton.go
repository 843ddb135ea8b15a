package httpfallback

// API SKELETON — written by the lead so that the engine, the Echo adapter and the proxy can
// be built in parallel. The engine helper replaces these bodies (and may split the file),
// keeping exported names and signatures; the proxy helper adds proxy.go (NewProxy, Proxy)
// next to it. Any change of signature must be agreed with the lead.

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/failsoft/failsoft/cache"
	"github.com/failsoft/failsoft/upstream"
)

// Fetcher produces a response for r by writing it to w (the engine's buffer, which may
// switch to streaming for bodies over the policy's maximum). It returns a typed error
// (upstream.ErrTimeout, *upstream.StatusError, ...) when the source failed, nil when w
// holds its answer. The engine adds If-None-Match / If-Modified-Since to r when it holds a
// stale entry with validators; a 304 written to w then refreshes that entry.
type Fetcher func(ctx context.Context, w http.ResponseWriter, r *http.Request) error

// Default is a configured default payload: static (Status, Header, Body) or, when Func is
// set, computed from the request and the failure reason. A default is never stored.
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
	EventHit EventKind = iota
	EventMiss
	EventStored
	EventStale
	EventDefault
	EventError
	EventRefresh
	EventBreaker
)

// Event is passed to Config.OnEvent.
type Event struct {
	Kind   EventKind
	Route  string
	Key    string
	Reason string // failure reason (upstream.Reason), "" when none
	Status int
	From   upstream.BreakerState // EventBreaker
	To     upstream.BreakerState // EventBreaker
}

// Config configures an Engine. Every zero value is a documented default.
type Config struct {
	Name            string                                                  // command namespace, unique per process; "" : "failsoft"
	Store           cache.Store                                             // nil: an owned cache.Memory of MaxBytes
	MaxBytes        int64                                                   // for the owned store; 0: 64 MiB
	Policy          cache.Policy                                            // storage rules and default windows
	Command         upstream.Settings                                       // template for every route's command (Name ignored)
	Route           func(*http.Request) string                              // route template for command names and defaults; nil: r.Pattern, else "*"
	Key             func(*http.Request) string                              // nil: cache.Key with the policy's credential option
	LockTimeout     time.Duration                                           // how long waiters wait for a fetch; 0: Command.Timeout
	FailureStatuses []int                                                   // statuses besides 5xx that count as failures (e.g. 429)
	Default         *Default                                                // global default payload
	Defaults        map[string]*Default                                     // per route (route template or path prefix)
	Alternate       http.Handler                                            // tried after the primary fails, before stale, as its own command
	Validate        func(status int, header http.Header, body []byte) error // a non-nil error makes a good status a failure
	OnEvent         func(Event)
	Logger          *slog.Logger     // nil: discard
	Now             func() time.Time // nil: time.Now
}

// Stats is a snapshot of an Engine's counters.
type Stats struct {
	Hits, Misses, Stored, Stale, Defaults, Errors, Collapsed, Refreshes uint64
	Store                                                               cache.Stats
}

// Engine is the fallback engine: cache lookup, one fetch per key, stale, defaults, errors.
type Engine struct{}

// New validates cfg and returns an Engine.
func New(cfg Config) (*Engine, error) { return nil, errors.New("unimplemented") }

// Handler wraps next as net/http middleware.
func (e *Engine) Handler(next http.Handler) http.Handler { return next }

// Serve answers r on w, fetching with fetch when needed; route names the command and the
// defaults. Adapters (Echo, the proxy) call it; only the calling goroutine writes to w.
func (e *Engine) Serve(w http.ResponseWriter, r *http.Request, route string, fetch Fetcher) {}

// RunCommand runs fetch as route's command on the calling goroutine (admission, timeout
// context, outcome accounting) — what Handler does for a wrapped handler.
func (e *Engine) RunCommand(ctx context.Context, route string, w http.ResponseWriter, r *http.Request, fetch Fetcher) error {
	return errors.New("unimplemented")
}

// Purge removes the stored entry for r's URL.
func (e *Engine) Purge(ctx context.Context, r *http.Request) {}

// Stats returns a snapshot.
func (e *Engine) Stats() Stats { return Stats{} }

// Close stops background refreshes, waits for them, and closes an owned store.
func (e *Engine) Close() error { return nil }
