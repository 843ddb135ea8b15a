package httpfallback

import (
	"bytes"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/failsoft/failsoft/cache"
	"github.com/failsoft/failsoft/internal/fieldset"
	"github.com/failsoft/failsoft/upstream"
)

// respond writes a fetch's outcome for ex: the answer when there is one, else the
// failure chain (stale, default, error).
func (e *Engine) respond(ex *exchange, o *outcome) {
	if o.err != nil {
		e.serveFailure(ex, o)
		return
	}
	served := o.status
	if o.entry != nil {
		served = o.entry.Status
	}
	e.emit(&Event{Kind: EventForward, Route: ex.route, Key: ex.key, Status: served, Fwd: fwdOf(ex.ent), Collapsed: ex.collapsed, Duration: e.since(ex.r)})
	m := member{fwd: fwdOf(ex.ent), fwdStatus: o.status, stored: o.stored && !ex.collapsed, collapsed: ex.collapsed, detail: o.detail}
	if o.alternate {
		m.detail = "alternate"
	}
	cs := e.memo.forwarded(m)
	if o.entry != nil {
		e.writeEntry(ex.w, ex.r, fieldset.All(), o.entry, e.cfg.Now(), cs)
		return
	}
	e.writeAnswer(ex.w, ex.r, o.status, o.header, o.body, cs)
}

// serveStale writes ex's stored entry past its freshness, reason saying why: as a hit
// (failsoft; hit; ttl=-N) when this request did not call the source, else as forwarded
// (failsoft; fwd=stale; ttl=-N).
func (e *Engine) serveStale(ex *exchange, now time.Time, reason string, forwarded bool) {
	e.log(ex.r.Context(), slog.LevelDebug, "failsoft: serving stale", ex.r, ex.route, slog.String("reason", reason))
	e.serveStaleAs(ex, now, reason, forwarded, 0)
}

// serveStaleAs is serveStale with the source's failing status (fwd-status), when it
// answered, in the Cache-Status.
func (e *Engine) serveStaleAs(ex *exchange, now time.Time, reason string, forwarded bool, fwdStatus int) {
	e.stale.Add(1)
	if !e.counted(ex.route, EventStale, reason, ex.collapsed) {
		e.emit(&Event{Kind: EventStale, Route: ex.route, Key: ex.key, Reason: reason, Status: ex.ent.Status, Collapsed: ex.collapsed, Duration: e.since(ex.r)})
	}
	ttl := ex.ent.TTL(now)
	var cs string
	switch {
	case forwarded:
		cs = member{fwd: "stale", fwdStatus: fwdStatus, collapsed: ex.collapsed, detail: reason}.withTTL(ttl).String()
	default:
		// Answers given while the upstream is down or busy: memoised, they cost what a
		// fresh hit does.
		cs = e.memo.staleStatus(reason, ttl)
	}
	e.writeEntry(ex.w, ex.r, fieldset.All(), ex.ent, now, cs)
}

// serveFailure runs the failure chain after the source (and the alternate) failed:
// stale within stale-if-error, else the default payload, else an error response.
func (e *Engine) serveFailure(ex *exchange, o *outcome) { e.serveFailureAt(ex, o, e.cfg.Now()) }

// serveFailureAt is serveFailure at now, for a request that has just read the clock (the
// breaker-open path: one reading per request).
func (e *Engine) serveFailureAt(ex *exchange, o *outcome, now time.Time) {
	r := ex.r
	if ex.ent != nil && ex.ent.State(now).ServableStale() {
		e.log(r.Context(), slog.LevelDebug, "failsoft: source failed, serving stale", r, ex.route, slog.String("reason", o.reason))
		e.serveStaleAs(ex, now, o.reason, o.called, o.status)
		return
	}
	if d := e.defaultFor(r, ex.route); d != nil {
		e.defaults.Add(1)
		if !e.counted(ex.route, EventDefault, o.reason, ex.collapsed) {
			e.emit(&Event{Kind: EventDefault, Route: ex.route, Key: ex.key, Reason: o.reason, Collapsed: ex.collapsed, Duration: e.since(r)})
		}
		e.log(r.Context(), slog.LevelDebug, "failsoft: source failed, serving the default", r, ex.route, slog.String("reason", o.reason))
		h := ex.w.Header()
		status, body := d.Status, d.Body
		var own []string // our Cache-Control and Cache-Status: one allocation with the copy
		if d.Func != nil {
			var header http.Header
			status, header, body = d.Func(r, o.reason)
			for k, v := range header {
				if validHeaderName(k) {
					h[k] = append([]string(nil), v...)
				}
			}
			own = make([]string, 2)
		} else {
			own = e.defaultHeaders[d].copyTo(h, 2) // laid out at New
		}
		if cc := h["Cache-Control"]; len(cc) == 0 || cc[0] == "" { // h.Get, without canonicalising
			own[0] = "no-store"
			h["Cache-Control"] = own[0:1:1]
		}
		cs := defaultNotCalled // the source was not called (an open breaker): no string built
		if o.called {
			cs = failMember(ex, o).withDetail("default").String()
		}
		own[1] = withPrior(h["Cache-Status"], cs)
		h["Cache-Status"] = own[1:2:2]
		writeStatusBody(ex.w, r, status, body)
		return
	}
	e.serveError(ex, o)
}

// serveError writes the last resort: Config.ErrorHandler's answer when it is set; else
// the source's own failing answer when it wrote one, else the engine's problem+json
// (WriteError). A *RefusalError is the request's fault: not counted as an error.
func (e *Engine) serveError(ex *exchange, o *outcome) {
	w, r := ex.w, ex.r
	if o.reason == ReasonCanceled && r.Context().Err() != nil {
		return // the client went away: nobody to answer, nothing failed
	}
	_, refused := errors.AsType[*RefusalError](o.err)
	cs := refusedMember
	if !refused {
		e.errs.Add(1)
		e.emit(&Event{Kind: EventError, Route: ex.route, Key: ex.key, Reason: o.reason, Status: o.status, Collapsed: ex.collapsed, Duration: e.since(r)})
		e.log(r.Context(), slog.LevelDebug, "failsoft: source failed, serving an error", r, ex.route, slog.String("reason", o.reason))
		cs = failMember(ex, o).withDetail(o.reason).String()
	}
	if e.cfg.ErrorHandler != nil {
		w.Header()["Cache-Status"] = []string{cs}
		e.cfg.ErrorHandler(w, r, ownError(o.err))
		return
	}
	if refused {
		e.WriteError(w, r, o.err) // the request's fault, not the source's
		return
	}
	if o.status != 0 && o.reason != ReasonTimeout && (o.header != nil || o.body != nil) {
		e.writeAnswer(w, r, o.status, o.header, o.body, cs)
		return
	}
	e.writeFailureProblem(w, r, o, cs)
}

// ownError is err as one request's ErrorHandler gets it: a *upstream.StatusError, which
// the outcome shares with every request that waited on the fetch, is copied with its
// header and body, so that the handler may edit them. Other errors are passed as they are.
func ownError(err error) error {
	se, ok := err.(*upstream.StatusError)
	if !ok {
		return err
	}
	c := *se
	c.Header, c.Body = se.Header.Clone(), bytes.Clone(se.Body)
	return &c
}

// problem is an RFC 9457 problem details object.
type problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Reason string `json:"reason"` // extension member: the failure reason token
}

func problemDetail(reason string) string {
	switch reason {
	case ReasonCircuitOpen:
		return "The upstream is failing; its circuit breaker is open and no stored response is available."
	case ReasonOverloaded:
		return "Too many concurrent requests to the upstream; no stored response is available."
	case ReasonTimeout:
		return "The upstream did not answer in time and no stored response is available."
	case ReasonConnectError:
		return "The upstream could not be reached and no stored response is available."
	case ReasonInvalidResponse:
		return "The upstream answered with an invalid response and no stored response is available."
	case ReasonPanic:
		return "The handler failed and no stored response is available."
	}
	return "The upstream failed (" + reason + ") and no stored response is available."
}

// failMember is the Cache-Status member of an answer not taken from the entry after a
// failure: forwarded (with the source's status when it answered), or not forwarded.
func failMember(ex *exchange, o *outcome) member {
	if !o.called {
		return member{}
	}
	fwd := o.fwd
	if fwd == "" {
		fwd = fwdOf(ex.ent)
	}
	return member{fwd: fwd, fwdStatus: o.status, collapsed: ex.collapsed}
}

// Members that never change.
const (
	defaultNotCalled = "failsoft; detail=default" // member{detail: "default"}
	refusedMember    = "failsoft; detail=" + ReasonRefused
)

// defaultFor picks r's default payload: the route's, the longest path prefix's, the global.
func (e *Engine) defaultFor(r *http.Request, route string) *Default {
	if d := e.cfg.Defaults[route]; d != nil {
		return d
	}
	for _, p := range e.prefixes {
		if strings.HasPrefix(r.URL.Path, p) {
			return e.cfg.Defaults[p]
		}
	}
	return e.cfg.Default
}

// writeEntry writes a stored entry: its header (each request its own copy), Age and
// Cache-Status, then the body (none for HEAD, or for a 304 answering the client's own
// If-None-Match or If-Modified-Since: see notModified). fields filters r's field names
// (fieldset.All() when unknown): the conditionals and Range are looked up only when they
// may be there.
func (e *Engine) writeEntry(w http.ResponseWriter, r *http.Request, fields fieldset.Set, ent *cache.Entry, now time.Time, cs string) {
	h := w.Header()
	// One allocation holds every value of the copy, Cache-Status and Age included; each
	// field's slice is capped (see cache.Entry.CopyHeader). Header keys are assigned in
	// their canonical form, without Header.Set's canonicalisation.
	// Our Cache-Status replaces whatever w carried; the members before ours are the
	// entry's own (an upstream cache's), found by the copy.
	own, prior := ent.CopyHeaderField(h, 2, "Cache-Status")
	own[0], own[1] = withPrior(prior, cs), e.memo.age(int64(ent.Age(now)/time.Second))
	h["Cache-Status"] = own[0:1:1]
	h["Age"] = own[1:2:2]
	if fields.Meets(&e.asks.conditional) && notModified(r, ent, now) {
		delete(h, "Content-Length")
		w.WriteHeader(http.StatusNotModified)
		return
	}
	if ent.Status == http.StatusOK && r.Method == http.MethodGet && fields.Meets(&e.asks.rng) && len(r.Header["Range"]) > 0 {
		serveRange(w, r, ent)
		return
	}
	w.WriteHeader(ent.Status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(ent.Body)
	}
}

// serveRange answers a GET's Range from a stored 200, a complete body (RFC 9110 14, 15.3.7,
// RFC 9111 3.4): 206 with Content-Range (multipart/byteranges for several ranges), 416
// with Content-Range: bytes */length when no range is satisfiable, the whole with 200
// when If-Range does not match the entry (a strong ETag, or Last-Modified to the second).
// http.ServeContent implements these; it is handed only Range and If-Range, since the
// engine has answered the client's other conditionals itself (notModified). Range on any
// other method, HEAD included, is ignored (RFC 9110 14.2: defined for GET only).
func serveRange(w http.ResponseWriter, r *http.Request, ent *cache.Entry) {
	rr := &http.Request{Method: http.MethodGet, Header: http.Header{"Range": r.Header["Range"]}}
	if ir := r.Header["If-Range"]; len(ir) > 0 {
		rr.Header["If-Range"] = ir
	}
	var modified time.Time
	if lm := ent.LastModified(); lm != "" {
		modified, _ = http.ParseTime(strings.TrimSpace(lm))
	}
	// ServeContent sets the length of what it sends, except under Content-Encoding, where
	// the stored whole length would be wrong: the server then frames the part itself.
	delete(w.Header(), "Content-Length")
	http.ServeContent(w, rr.WithContext(r.Context()), "", modified, bytes.NewReader(ent.Body))
}

// writeAnswer writes an answer that is not an entry: header (copied; nil means what is
// already on w), Cache-Status (after the answer's own members), body (none for HEAD).
func (e *Engine) writeAnswer(w http.ResponseWriter, r *http.Request, status int, header http.Header, body []byte, cs string) {
	h := w.Header()
	for k, v := range header {
		h[k] = append([]string(nil), v...)
	}
	h["Cache-Status"] = []string{withPrior(h["Cache-Status"], cs)}
	writeStatusBody(w, r, status, body)
}

// writeStatusBody writes status (0 is 200) and the body (none for HEAD).
func writeStatusBody(w http.ResponseWriter, r *http.Request, status int, body []byte) {
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	if r.Method != http.MethodHead && len(body) > 0 {
		_, _ = w.Write(body)
	}
}

// withPrior returns our Cache-Status member cs after the members the answer already
// carries (prev, e.g. an upstream cache's): RFC 9211 section 2 has each cache append its
// member, so ours, the one nearest the client, is the last. The field is one line.
func withPrior(prev []string, cs string) string {
	var b strings.Builder
	for _, p := range prev {
		if p = strings.Trim(p, " \t,"); p != "" {
			b.WriteString(p)
			b.WriteString(", ")
		}
	}
	if b.Len() == 0 {
		return cs
	}
	b.WriteString(cs)
	return b.String()
}

// notModified reports whether r's own conditionals, evaluated against the stored entry ent
// at now, make the answer 304 Not Modified (RFC 9111 4.3.2, RFC 9110 13.1 and 13.2.2); the
// engine answers them itself and never forwards them. Only a stored 200 is answered so.
// If-None-Match, when present, decides alone: 304 when it matches the entry's ETag (weak
// comparison). Otherwise a single valid If-Modified-Since not later than now gives 304 when
// the entry was not modified after it (see modifiedAt); an invalid or future date is
// ignored, as RFC 9110 13.1.3 requires.
func notModified(r *http.Request, ent *cache.Entry, now time.Time) bool {
	if ent.Status != http.StatusOK {
		return false
	}
	// If-None-Match, when present, decides alone (RFC 9110 13.2.2); "*" matches any
	// stored representation, with or without an ETag.
	if inm := r.Header["If-None-Match"]; len(inm) > 0 {
		return etagMatch(inm, ent.ETag())
	}
	return notModifiedSince(r.Header["If-Modified-Since"], ent, now)
}

// notModifiedSince evaluates If-Modified-Since's values ims against ent at now: false
// unless ims is one valid HTTP date, not later than now, and ent was not modified after it.
func notModifiedSince(ims []string, ent *cache.Entry, now time.Time) bool {
	if len(ims) != 1 {
		return false // absent, or more than one value: invalid
	}
	since, err := http.ParseTime(strings.TrimSpace(ims[0]))
	if err != nil || since.After(now) {
		return false
	}
	return !modifiedAt(ent).After(since)
}

// modifiedAt is the entry's last modification date for If-Modified-Since (RFC 9111 4.3.2):
// its Last-Modified, else its Date, else the time it was stored, to the second (the
// resolution of an HTTP date). A value that does not parse counts as absent.
func modifiedAt(ent *cache.Entry) time.Time {
	if lm := ent.LastModified(); lm != "" {
		if t, err := http.ParseTime(strings.TrimSpace(lm)); err == nil {
			return t
		}
	}
	if d := ent.Header.Get("Date"); d != "" {
		if t, err := http.ParseTime(strings.TrimSpace(d)); err == nil {
			return t
		}
	}
	return ent.ResponseTime.Truncate(time.Second)
}

// etagMatch is the weak comparison of If-None-Match (RFC 9110 13.1.2); etag "" (the
// entry has none) is matched by "*" only.
func etagMatch(inm []string, etag string) bool {
	etag = strings.TrimPrefix(etag, "W/")
	for _, line := range inm {
		for _, t := range strings.Split(line, ",") {
			t = strings.TrimSpace(t)
			if t == "*" || (etag != "" && strings.TrimPrefix(t, "W/") == etag) {
				return true
			}
		}
	}
	return false
}

// memoSize bounds the numbers whose strings a strMemo keeps: ttl and Age under ~68 minutes.
const memoSize = 4096

// hitMemo keeps, per Engine, the strings a fresh hit writes that depend only on a small
// number: "failsoft; hit; ttl=N" and Age's decimal. Each is built on first use and then
// shared (strings are immutable), so that a hit allocates neither. Racing first uses
// build equal strings; whichever is stored last is kept.
type hitMemo struct {
	hit, ages [memoSize]atomic.Pointer[string]
	stale     [len(staleReasons)][memoSize]atomic.Pointer[string] // by staleReasons index, then -ttl
	fwd       [2][2][100]atomic.Pointer[string]                   // see forwarded
}

// forwarded is m.String(), memoised for the members of a 2xx answer fetched for the
// request ("failsoft; fwd=uri-miss; fwd-status=200; stored", or fwd=stale) with no hit,
// ttl, collapsed or detail parameter: the member every miss writes.
func (m *hitMemo) forwarded(mb member) string {
	fi := -1
	switch mb.fwd {
	case "uri-miss":
		fi = 0
	case "stale":
		fi = 1
	}
	if fi < 0 || mb.hit || mb.hasTTL || mb.collapsed || mb.detail != "" || mb.fwdStatus < 200 || mb.fwdStatus >= 300 {
		return mb.String()
	}
	si := 0
	if mb.stored {
		si = 1
	}
	p := &m.fwd[fi][si][mb.fwdStatus-200]
	if s := p.Load(); s != nil {
		return *s
	}
	s := mb.String()
	p.Store(&s)
	return s
}

// staleReasons are the reasons of stale answers given without calling the source whose
// Cache-Status strings are memoised (see staleStatus).
var staleReasons = [...]string{ReasonCircuitOpen, ReasonInFlight, ReasonStaleWhileRevalidate}

// staleStatus is "failsoft; hit; ttl=-N; detail=<reason>", memoised for the staleReasons
// and N in [0, memoSize).
func (m *hitMemo) staleStatus(reason string, ttl time.Duration) string {
	build := func(n int64) string {
		return member{hit: true, detail: reason}.withTTL(time.Duration(-n) * time.Second).String()
	}
	for i, r := range staleReasons {
		if r == reason {
			return m.get(&m.stale[i], -ttlSeconds(ttl), build)
		}
	}
	return build(-ttlSeconds(ttl))
}

// hitStatus is a fresh hit's member for ttl, memoised for ttl in [0, memoSize) seconds.
func (m *hitMemo) hitStatus(ttl time.Duration) string {
	return m.get(&m.hit, ttlSeconds(ttl), hitStatusOf)
}

// age is Age's value for n seconds, memoised for n in [0, memoSize).
func (m *hitMemo) age(n int64) string {
	return m.get(&m.ages, n, func(n int64) string { return strconv.FormatInt(n, 10) })
}

func (m *hitMemo) get(t *[memoSize]atomic.Pointer[string], n int64, build func(int64) string) string {
	if n < 0 || n >= memoSize {
		return build(n)
	}
	if p := t[n].Load(); p != nil {
		return *p
	}
	s := build(n)
	t[n].Store(&s)
	return s
}

// hitStatusOf is a fresh hit's member, "failsoft; hit; ttl=N", for ttl whole seconds.
func hitStatusOf(ttl int64) string {
	return member{hit: true}.withTTL(time.Duration(ttl) * time.Second).String()
}

// ttlSeconds rounds towards minus infinity, so a just-stale entry reads ttl=-1, not 0.
func ttlSeconds(ttl time.Duration) int64 {
	s := int64(ttl / time.Second)
	if ttl < 0 && ttl%time.Second != 0 {
		s--
	}
	return s
}

func itoa(n int) string { return strconv.Itoa(n) }

// sfValue renders v as an RFC 8941 token when it is one, else as a quoted string.
func sfValue(v string) string {
	if v != "" && isTokenStart(v[0]) {
		ok := true
		for i := 1; i < len(v); i++ {
			if !validHeaderName(v[i:i+1]) && v[i] != ':' && v[i] != '/' {
				ok = false
				break
			}
		}
		if ok {
			return v
		}
	}
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c < 0x20 || c > 0x7e {
			continue
		}
		if c == '"' || c == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(c)
	}
	b.WriteByte('"')
	return b.String()
}

func isTokenStart(c byte) bool { return c == '*' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') }
