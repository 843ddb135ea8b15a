package httpfallback

import (
	"fmt"
	"net/http"

	"github.com/failsoft/failsoft/internal/fieldset"
	"github.com/failsoft/failsoft/upstream"
)

// DefaultMaxTargetBytes is the request-target limit used when Config.MaxTargetBytes is 0:
// 8 KiB, the request line NGINX accepts by default (large_client_header_buffers 4 8k)
// before it answers 414.
const DefaultMaxTargetBytes = 8 << 10

// DefaultMaxHeaderBytes is the header-section limit used when Config.MaxHeaderBytes is 0:
// 32 KiB, NGINX's default total (4 buffers of 8k), before it answers 431.
const DefaultMaxHeaderBytes = 32 << 10

// MethodOverrideMode says what the engine does with a request carrying a method-override
// field (X-HTTP-Method-Override, X-HTTP-Method, X-Method-Override; see
// upstream.MethodOverride). Its zero value, MethodOverrideHonour, is the default.
type MethodOverrideMode uint8

const (
	// MethodOverrideHonour treats a request as the method its override fields name: a GET
	// or HEAD naming any other method passes through like that method (never stored,
	// never served from the store, Cache-Status "fwd=method"), and its non-error answer
	// invalidates the URL's stored entry when the named method is unsafe; an upstream.Client
	// never retries it unless the named method is idempotent. It is the default:
	// whether or not the application honours the field, nothing is cached, served or
	// retried as if it were a plain GET.
	MethodOverrideHonour MethodOverrideMode = iota
	// MethodOverrideRefuse answers every request carrying a non-empty method-override
	// field 400 (application/problem+json, Cache-Status "failsoft; detail=refused")
	// without calling the source: for applications that never use the fields, so that
	// nothing behind the engine can be tricked into honouring one.
	MethodOverrideRefuse
)

// checkScreen validates the fields screen reads; normalize calls it.
func (cfg *Config) checkScreen() error {
	if cfg.MethodOverride > MethodOverrideRefuse {
		return fmt.Errorf("httpfallback: Config.MethodOverride is not a MethodOverrideMode (%d)", cfg.MethodOverride)
	}
	if cfg.MaxTargetBytes == 0 {
		cfg.MaxTargetBytes = DefaultMaxTargetBytes
	}
	if cfg.MaxHeaderBytes == 0 {
		cfg.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	return nil
}

// screen answers the requests the engine refuses or passes through before anything else
// (see serve): a request target over MaxTargetBytes (414) or a header section over
// MaxHeaderBytes (431), never keyed nor stored; a method-override field (refused, or the
// request passed through as the method it names). It reports whether it answered r, and
// the filter of r's field names (fieldset.Scan, which measured the header section), with
// which the rest of the path skips the lookups of fields r certainly does not carry.
func (e *Engine) screen(w http.ResponseWriter, r *http.Request, route string, src source, newFetch func() Fetcher) (fieldset.Set, bool) {
	if n := e.cfg.MaxTargetBytes; n > 0 && targetLen(r) > n {
		e.WriteError(w, r, &RefusalError{Status: http.StatusRequestURITooLong,
			Detail: fmt.Sprintf("The request target is longer than %d bytes.", n)})
		return fieldset.Set{}, true
	}
	size, fields := fieldset.Scan(r.Header, e.cfg.MaxHeaderBytes)
	if n := e.cfg.MaxHeaderBytes; n > 0 && size > n {
		e.WriteError(w, r, &RefusalError{Status: http.StatusRequestHeaderFieldsTooLarge,
			Detail: fmt.Sprintf("The request's header fields are longer than %d bytes.", n)})
		return fields, true
	}
	if !fields.Meets(&e.asks.override) {
		return fields, false
	}
	m, ok := upstream.MethodOverride(r.Header)
	switch {
	case !ok, e.isClosed.Load(): // after Close everything bypasses (serve)
		return fields, false
	case e.cfg.MethodOverride == MethodOverrideRefuse:
		e.WriteError(w, r, &RefusalError{Status: http.StatusBadRequest, Detail: "Method override fields (X-HTTP-Method-Override and the like) are not accepted."})
		return fields, true
	case m == http.MethodGet || m == http.MethodHead:
		return fields, false
	case r.Method == http.MethodGet || r.Method == http.MethodHead:
		e.passThrough(&exchange{w: w, r: r, route: route, src: withFetch(src, newFetch), rt: e.settings(route)}, "method")
		return fields, true
	}
	return fields, false // another method passes through anyway
}

// askedFields are the filters (fieldset.Of) of the fields a request's path looks up
// besides the keyed ones, laid out at New: a request whose Set meets none of one skips
// its lookups.
type askedFields struct {
	override    fieldset.Set // upstream.MethodOverrideFields (screen)
	conditional fieldset.Set // If-None-Match, If-Modified-Since (writeEntry)
	rng         fieldset.Set // Range (writeEntry)
}

// targetLen is the length of r's request target as sent (RequestURI), or as r.URL would
// send it for a request built in-process.
func targetLen(r *http.Request) int {
	if r.RequestURI != "" || r.URL == nil {
		return len(r.RequestURI)
	}
	n := len(r.URL.Path) + len(r.URL.RawPath) + len(r.URL.Host) + len(r.URL.Scheme)
	if r.URL.RawQuery != "" {
		n += 1 + len(r.URL.RawQuery)
	}
	return n
}

// unsafeRequest reports whether r is unsafe (RFC 9110 9.2.1): its method, or the method
// its override fields name, is not GET, HEAD, OPTIONS or TRACE.
func unsafeRequest(r *http.Request) bool {
	if unsafeMethod(r.Method) {
		return true
	}
	m, ok := upstream.MethodOverride(r.Header)
	return ok && unsafeMethod(m)
}

// withoutOverride returns r with its method-override fields removed (a shallow copy with
// a cloned header), or r itself when it carries none: the key of the URL an override
// invalidates is the plain GET's.
func withoutOverride(r *http.Request) *http.Request {
	if _, ok := upstream.MethodOverride(r.Header); !ok {
		return r
	}
	c := *r
	c.Header = r.Header.Clone()
	for _, f := range upstream.MethodOverrideFields() {
		delete(c.Header, f)
	}
	return &c
}
