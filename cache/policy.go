package cache

import (
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Policy holds the rules for storing and the default windows. The zero value is ready: 2xx
// except 206 stored (those other than 200, 203, 204 only with explicit freshness), other
// final statuses stored only with explicit freshness and served only while fresh, not
// fresh unless the response says so, no stale-while-revalidate, one hour of
// stale-if-error, 8 MiB bodies at most, credentialed responses not shared.
type Policy struct {
	// Statuses that may be stored. nil means the default: 200, 203 and 204 whatever the
	// response says of its freshness (kept for the stale windows); the other 2xx except
	// 206 when the response has explicit freshness (s-maxage, max-age or Expires) or says
	// public (RFC 9111 section 3); and any other final status except 304 (a 301, 308, 404,
	// 410...) when the response has explicit freshness, or says public and the status is
	// heuristically cacheable (RFC 9110 15.1: 300, 301, 308, 404, 405, 410, 414, 501).
	// Such a non-2xx entry is served while fresh and revalidated after, never served stale
	// (see StaleNon2xx).
	//
	// A list replaces that default: exactly the listed statuses are stored, with or without
	// explicit freshness; to add 404, list the 2xx to keep storing too ([]int{200, 203,
	// 204, 404}). A status listed here is stored like a 2xx (404, say, to spare the upstream
	// repeated lookups of missing items): it replaces the URL's last good answer, and is
	// what stale-if-error serves when the upstream fails next.
	//
	// 206 Partial Content is never stored (a partial body must never be served as the full
	// one): Validate refuses it in the list. An engine never stores what it counts as a
	// failure (5xx, its FailureStatuses).
	Statuses []int
	// StaleNon2xx lets a non-2xx answer stored under the default Statuses (for its explicit
	// freshness) be served stale like a 2xx: within stale-while-revalidate, and as the
	// fallback when the upstream fails. Off by default: such an answer is served only while
	// fresh, and an engine does not let it replace a stored 2xx that may still be served
	// stale (the last good answer stale-if-error serves); it is passed through instead.
	StaleNon2xx bool
	// FreshFor is the freshness of a response that states none; 0 means not fresh at all
	// (always fetched, but kept for the stale windows).
	FreshFor time.Duration
	// StaleWhileRevalidate is the default window when the response states none; 0 means none.
	StaleWhileRevalidate time.Duration
	// StaleIfError is the default window when the response states none; 0 means 1 hour,
	// negative means none.
	StaleIfError time.Duration
	// ServeStaleDespiteRevalidate lets stale be served even under must-revalidate,
	// proxy-revalidate, no-cache and s-maxage (which implies proxy-revalidate, RFC 9111
	// 5.2.2.10). Off by default.
	ServeStaleDespiteRevalidate bool
	// OverrideFreshness, when > 0, replaces the response's own freshness (operator override).
	// It wins over s-maxage, max-age, Expires, FreshFor and also over no-cache.
	OverrideFreshness time.Duration
	// MaxBodyBytes: larger bodies are not stored; 0 means 8 MiB.
	MaxBodyBytes int64
	// ShareCredentialed: a response to a request with Authorization or Cookie may be stored
	// because the key includes a hash of the credential (see KeyOptions.Credentials).
	ShareCredentialed bool
}

// Validate reports the first invalid field: a negative FreshFor, StaleWhileRevalidate,
// OverrideFreshness or MaxBodyBytes, or a status outside 100-599 in Statuses. Engines
// call it from their constructors; NewEntry itself treats such values as their defaults
// or as zero.
func (p Policy) Validate() error {
	for _, f := range []struct {
		name string
		d    time.Duration
	}{{"FreshFor", p.FreshFor}, {"StaleWhileRevalidate", p.StaleWhileRevalidate}, {"OverrideFreshness", p.OverrideFreshness}} {
		if f.d < 0 {
			return errors.New("cache: Policy." + f.name + " must not be negative, got " + f.d.String())
		}
	}
	if p.MaxBodyBytes < 0 {
		return errors.New("cache: Policy.MaxBodyBytes must not be negative, got " + strconv.FormatInt(p.MaxBodyBytes, 10))
	}
	for _, st := range p.Statuses {
		if st < 100 || st > 599 {
			return errors.New("cache: Policy.Statuses holds an invalid status " + strconv.Itoa(st))
		}
		if st == http.StatusPartialContent {
			return errors.New("cache: Policy.Statuses holds 206 Partial Content, which is never stored as a whole response")
		}
	}
	return nil
}

// DefaultStaleIfError is the stale-if-error window used when Policy.StaleIfError is 0.
const DefaultStaleIfError = time.Hour

// DefaultMaxBodyBytes is the body cap used when Policy.MaxBodyBytes is 0.
const DefaultMaxBodyBytes = 8 << 20

// NotStorableError says why a response was not stored.
type NotStorableError struct{ Reason string }

// Error implements error.
func (e *NotStorableError) Error() string { return "cache: not storable: " + e.Reason }

func notStorable(reason string) error { return &NotStorableError{Reason: reason} }

// hopByHop lists the fields a cache never stores (RFC 9110 7.6.1, RFC 9111 3.1), plus Age,
// which is recomputed whenever the entry is served.
func hopByHop() [11]string {
	return [...]string{
		"Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate",
		"Proxy-Authentication-Info", "Proxy-Authorization", "Te", "Trailer",
		"Transfer-Encoding", "Upgrade", "Age",
	}
}

// keptOn304 lists the fields a 304 does not replace in the stored entry (RFC 9111 3.2):
// Content-Length, and the fields that describe the stored bytes themselves, which a 304
// (it carries no content) cannot vouch for: their coding, the range they are, and their
// digests. Hop-by-hop fields are never taken either (see hopByHop).
func keptOn304() [6]string {
	return [...]string{
		"Content-Length", "Content-Encoding", "Content-Range", "Content-Md5",
		"Content-Digest", "Repr-Digest",
	}
}

// NewEntry applies the policy to a response and builds its entry, or returns a
// *NotStorableError. reqTime and respTime bracket the exchange.
//
// It refuses: a method other than GET (HEAD responses carry no body, so they are never
// stored; a GET entry can answer a HEAD), a status Statuses does not store, what
// ShareRefused refuses (no-store, private, Vary: *, Set-Cookie, a credentialed request's
// answer that does not say it may be shared), a body over MaxBodyBytes, and a body whose
// length differs from the Content-Length header (truncated).
//
// The entry's header is a clone without hop-by-hop fields, Age, and the fields named by a
// qualified private="..." or no-cache="..." directive; the body is copied.
func (p Policy) NewEntry(req *http.Request, status int, header http.Header, body []byte, reqTime, respTime time.Time) (*Entry, error) {
	return p.newEntry(req, status, header, body, false, reqTime, respTime)
}

// NewEntryOwning is NewEntry without the copy of body: the entry keeps body's bytes (capped
// at its length), so the caller hands them over and must never change them afterwards
// (the entry may be served and shared by then). It spares a copy and an allocation of the
// body to a caller whose buffer is done with, such as a buffer that held exactly one
// response. Size body exactly (cap equal to len) when it is to be stored: the entry keeps
// the whole backing array alive, and the store charges only len(body).
func (p Policy) NewEntryOwning(req *http.Request, status int, header http.Header, body []byte, reqTime, respTime time.Time) (*Entry, error) {
	return p.newEntry(req, status, header, body, true, reqTime, respTime)
}

// newEntry is NewEntry, keeping body itself when owned.
func (p Policy) newEntry(req *http.Request, status int, header http.Header, body []byte, owned bool, reqTime, respTime time.Time) (*Entry, error) {
	if req == nil {
		return nil, notStorable("no request")
	}
	if req.Method != http.MethodGet {
		return nil, notStorable("method " + req.Method)
	}
	cc := ParseCacheControl(header.Values("Cache-Control"))
	if !p.statusStorable(status, cc, header) {
		return nil, notStorable("status " + strconv.Itoa(status))
	}
	if why := p.shareRefused(req, header, cc); why != "" {
		return nil, notStorable(why)
	}
	if maxBody := p.maxBodyBytes(); int64(len(body)) > maxBody {
		return nil, notStorable("body " + strconv.Itoa(len(body)) + " bytes over MaxBodyBytes " + strconv.FormatInt(maxBody, 10))
	}
	if why := LengthMismatch(header, len(body)); why != "" {
		return nil, notStorable(why)
	}

	vary, _ := varyNames(header) // Vary: * refused above
	h := cleanCompact(header, cc)
	kept := body[:len(body):len(body)]
	if body != nil && !owned {
		kept = make([]byte, len(body))
		copy(kept, body)
	}
	age, ageOK := parseAgeHeader(header)
	return p.build(req, status, h, kept, cc, vary, age, ageOK, reqTime, respTime), nil
}

// LengthMismatch says why a body of n bytes is not the content h's Content-Length declares
// ("" when every Content-Length value is n, or h has none): an invalid value, or another
// length (a truncated body, or a longer one). NewEntry refuses such a response, whatever
// its status; an engine takes it as an invalid response from the upstream.
func LengthMismatch(h http.Header, n int) string {
	for _, cl := range h.Values("Content-Length") {
		v, err := strconv.ParseInt(strings.TrimSpace(cl), 10, 64)
		if err != nil || v < 0 {
			return "invalid Content-Length " + strconv.Quote(cl)
		}
		if v != int64(n) {
			return "body " + strconv.Itoa(n) + " bytes, Content-Length " + strconv.FormatInt(v, 10) + " (truncated)"
		}
	}
	return ""
}

// ShareRefused says why a response with header h, answering req, may not be stored for
// everyone ("" when it may): the request's no-store, the response's no-store or private,
// Vary: *, Set-Cookie, or the request's credentials. A request carrying Cookie is shared
// only when the response says public or s-maxage; one carrying Authorization (and no
// Cookie) also when it says must-revalidate (RFC 9111 section 3.5). ShareCredentialed
// lifts the credentials rule (the key then includes the credential). NewEntry refuses
// what it refuses; an engine asks it of a 304 before the 304 refreshes a stored entry.
func (p Policy) ShareRefused(req *http.Request, h http.Header) string {
	return p.shareRefused(req, h, ParseCacheControl(h.Values("Cache-Control")))
}

// shareRefused is ShareRefused with h's Cache-Control already parsed as cc.
func (p Policy) shareRefused(req *http.Request, h http.Header, cc CacheControl) string {
	switch {
	case ParseCacheControl(req.Header.Values("Cache-Control")).NoStore:
		return "request no-store"
	case cc.NoStore:
		return "no-store"
	case cc.Private:
		return "private"
	case varyStar(h):
		return "Vary: *"
	case len(h.Values("Set-Cookie")) > 0:
		return "Set-Cookie"
	case p.ShareCredentialed || cc.Public || cc.SMaxAge.Present:
		return ""
	case len(req.Header.Values("Cookie")) > 0:
		return "request has Cookie and the response says neither public nor s-maxage"
	case len(req.Header.Values("Authorization")) > 0 && !cc.MustRevalidate:
		return "request has Authorization and the response says none of public, s-maxage, must-revalidate"
	}
	return ""
}

// Refresh applies a 304 Not Modified (RFC 9111 3.2, 4.3.4) to e: a new entry with e's body
// and status, header fields updated from the 304 except Content-Length, the fields that
// describe the stored bytes (Content-Encoding, Content-Range, Content-MD5, Content-Digest,
// Repr-Digest: a 304 carries no content to vouch for them), hop-by-hop fields (and those
// the 304's Connection names) and Age; new deadlines computed from the merged header as of
// reqTime and respTime. When the 304 carries no Date, the stored Date is dropped (it dates
// the old exchange). An invalid Age on the 304 leaves the refreshed entry stale, as it
// would a full response (see NewEntry).
func (p Policy) Refresh(e *Entry, req *http.Request, notModified http.Header, reqTime, respTime time.Time) *Entry {
	h := e.Header.Clone()
	if h == nil {
		h = http.Header{}
	}
	if len(notModified.Values("Date")) == 0 {
		// The stored Date describes the old exchange; the validation is the new one.
		delete(h, "Date")
	}
	update := cleanHeader(notModified, ParseCacheControl(notModified.Values("Cache-Control")))
	for _, k := range keptOn304() {
		delete(update, k)
	}
	for k, vs := range update {
		h[k] = vs // update is our own clone
	}
	cc := ParseCacheControl(h.Values("Cache-Control"))
	h = cleanHeader(h, cc)
	vary, _ := varyNames(h)
	if req == nil {
		req = &http.Request{Header: http.Header{}}
	}
	age, ageOK := parseAgeHeader(notModified)
	return p.build(req, e.Status, MakeHeader(h), e.Body, cc, vary, age, ageOK, reqTime, respTime)
}

// build computes the deadlines. h is already cleaned and owned, body owned; ageValue is
// the response's Age header, read before cleaning, and ageOK false when that header was
// present but invalid (the response is then stale, RFC 9111 5.1).
func (p Policy) build(req *http.Request, status int, h Header, body []byte, cc CacheControl, vary []string, ageValue time.Duration, ageOK bool, reqTime, respTime time.Time) *Entry {
	e := &Entry{
		Status:       status,
		Header:       h,
		Body:         body,
		RequestTime:  reqTime,
		ResponseTime: respTime,
	}
	date, dateOK := parseDate(h, "Date", respTime)
	e.InitialAge = initialAge(date, ageValue, reqTime, respTime)

	lifetime := p.lifetime(h, cc, date, dateOK)
	if !ageOK && p.OverrideFreshness <= 0 {
		// An Age that is not one non-negative integer says nothing reliable about how old
		// the response is: take it as stale (RFC 9111 5.1), as squid does.
		lifetime = 0
	}
	// lifetime 0 gives FreshUntil <= respTime: never fresh, whatever the clock says later.
	e.FreshUntil = respTime.Add(lifetime - e.InitialAge)

	swr, sie, keep := p.windows(cc, status)
	e.RevalidateUntil = e.FreshUntil.Add(swr)
	e.ErrorUntil = e.FreshUntil.Add(sie)
	if keep > 0 && (e.ETag() != "" || e.LastModified() != "") {
		// Never served stale, but its validators can still spare the upstream a full
		// answer: kept for revalidation only (State Revalidate).
		e.ValidateUntil = e.FreshUntil.Add(keep)
	}

	if len(vary) > 0 {
		e.Vary = vary
		e.VaryValues = make([]string, len(vary))
		for i, name := range vary {
			e.VaryValues[i] = headerValue(req.Header, name)
		}
	}
	return e
}

// lifetime is the freshness lifetime: OverrideFreshness, else (no-cache => 0), s-maxage,
// max-age, Expires - Date, FreshFor.
func (p Policy) lifetime(h Header, cc CacheControl, date time.Time, dateOK bool) time.Duration {
	switch {
	case p.OverrideFreshness > 0:
		return p.OverrideFreshness
	case cc.NoCache:
		return 0
	case cc.SMaxAge.Present:
		return cc.SMaxAge.Value // 0 when invalid: stale
	case cc.MaxAge.Present:
		return cc.MaxAge.Value
	}
	if _, n, _ := h.field("Expires"); n > 0 {
		exp, ok := parseDate(h, "Expires", time.Time{})
		if !ok || !dateOK {
			return 0 // an invalid Expires or Date means already expired
		}
		if d := exp.Sub(date); d > 0 {
			return d
		}
		return 0
	}
	if !dateOK {
		return 0
	}
	return p.FreshFor
}

// windows returns the stale-while-revalidate and stale-if-error windows of an answer with
// status and cc. When it may not be served stale (must-revalidate, proxy-revalidate,
// no-cache or s-maxage, which implies proxy-revalidate, without
// ServeStaleDespiteRevalidate; a non-2xx the default Statuses stored, without
// StaleNon2xx) both are 0, and keep is the longer of the two it would have had:
// how long it is kept to be revalidated with its validators.
func (p Policy) windows(cc CacheControl, status int) (swr, sie, keep time.Duration) {
	swr, sie = p.staleWindows(cc)
	if ((cc.MustRevalidate || cc.ProxyRevalidate || cc.NoCache || cc.SMaxAge.Present) && !p.ServeStaleDespiteRevalidate) || !p.StaleAllowed(status) {
		return 0, 0, max(swr, sie)
	}
	return swr, sie, 0
}

// StaleAllowed reports whether an entry of status may be served stale (the response's
// own directives permitting): a 2xx, a status listed in Statuses, or any with StaleNon2xx.
func (p Policy) StaleAllowed(status int) bool {
	return (status >= 200 && status <= 299) || p.StaleNon2xx || (p.Statuses != nil && slices.Contains(p.Statuses, status))
}

// staleWindows returns the stale-while-revalidate and stale-if-error windows of cc,
// ignoring what forbids serving stale.
func (p Policy) staleWindows(cc CacheControl) (swr, sie time.Duration) {
	swr = p.StaleWhileRevalidate
	if swr < 0 {
		swr = 0
	}
	if cc.StaleWhileRevalidate.Valid {
		swr = cc.StaleWhileRevalidate.Value
	}
	switch {
	case p.StaleIfError == 0:
		sie = DefaultStaleIfError
	case p.StaleIfError > 0:
		sie = p.StaleIfError
	}
	if cc.StaleIfError.Valid {
		sie = cc.StaleIfError.Value
	}
	return swr, sie
}

// Stores reports whether Statuses (see there) lets an answer with status and header h be
// stored. NewEntry checks it first, then everything else.
func (p Policy) Stores(status int, h http.Header) bool {
	return p.statusStorable(status, ParseCacheControl(h.Values("Cache-Control")), h)
}

// statusStorable is Stores with h's Cache-Control already parsed as cc.
func (p Policy) statusStorable(status int, cc CacheControl, h http.Header) bool {
	switch {
	case status == http.StatusPartialContent:
		return false
	case p.Statuses != nil:
		return slices.Contains(p.Statuses, status)
	case status < 200 || status == http.StatusNotModified || status > 599:
		return false
	case heuristicallyCacheable(status) && status <= 299:
		return true // 200, 203, 204: stored even when never fresh, for the stale windows
	}
	explicit := cc.SMaxAge.Present || cc.MaxAge.Present || len(h.Values("Expires")) > 0
	if status <= 299 {
		return explicit || cc.Public // RFC 9111 3: public makes any status storable
	}
	return explicit || (cc.Public && heuristicallyCacheable(status))
}

// heuristicallyCacheable reports whether status is cacheable by default (RFC 9110 section
// 15.1): a cache may store it and give it a heuristic freshness when the response states
// none.
func heuristicallyCacheable(status int) bool {
	switch status {
	case 200, 203, 204, 206, 300, 301, 308, 404, 405, 410, 414, 501:
		return true
	}
	return false
}

func (p Policy) maxBodyBytes() int64 {
	if p.MaxBodyBytes > 0 {
		return p.MaxBodyBytes
	}
	return DefaultMaxBodyBytes
}

// initialAge is RFC 9111 4.2.3 corrected_initial_age.
func initialAge(date time.Time, ageValue time.Duration, reqTime, respTime time.Time) time.Duration {
	apparent := respTime.Sub(date)
	if apparent < 0 {
		apparent = 0
	}
	delay := respTime.Sub(reqTime)
	if delay < 0 {
		delay = 0
	}
	corrected := ageValue + delay
	return max(apparent, corrected)
}

// parseDate parses the first value of an HTTP-date field. A missing field yields def and
// true; an invalid one yields def and false.
func parseDate(h Header, name string, def time.Time) (time.Time, bool) {
	i, n, _ := h.field(name)
	if n == 0 {
		return def, true
	}
	v, _ := h.str(i)
	if v == "" {
		return def, false
	}
	t, err := http.ParseTime(strings.TrimSpace(v))
	if err != nil {
		return def, false
	}
	return t, true
}

// parseAgeHeader reads Age (RFC 9111 5.1): one field line holding one delta-seconds value.
// ok is false when the field is present but is anything else (several lines, a list, a
// negative, fractional or non-numeric value, parameters, nothing): the response is then
// treated as stale.
func parseAgeHeader(h http.Header) (age time.Duration, ok bool) {
	vs := h.Values("Age")
	switch len(vs) {
	case 0:
		return 0, true
	case 1:
		d := parseDelta(strings.TrimSpace(vs[0]), true)
		return d.Value, d.Valid
	}
	return 0, false
}

// cleanCompact is cleanHeader's result in compact form, without the clone: h's fields but
// hop-by-hop ones (including those named by Connection), Age, and the fields a qualified
// private or no-cache directive names.
func cleanCompact(h http.Header, cc CacheControl) Header {
	var conn []string
	for _, c := range h["Connection"] {
		for f := range strings.SplitSeq(c, ",") {
			if f = strings.TrimSpace(f); f != "" {
				conn = append(conn, http.CanonicalHeaderKey(f))
			}
		}
	}
	hop := hopByHop()
	return makeHeader(h, func(name string) bool {
		return slices.Contains(hop[:], name) || slices.Contains(conn, name) ||
			slices.Contains(cc.PrivateFields, name) || slices.Contains(cc.NoCacheFields, name)
	})
}

// cleanHeader clones h without hop-by-hop fields (including those named by Connection),
// Age, and the fields a qualified private or no-cache directive names.
func cleanHeader(h http.Header, cc CacheControl) http.Header {
	out := h.Clone()
	if out == nil {
		return http.Header{}
	}
	for _, c := range out.Values("Connection") {
		for _, f := range strings.Split(c, ",") {
			if f = strings.TrimSpace(f); f != "" {
				out.Del(f)
			}
		}
	}
	for _, f := range hopByHop() {
		delete(out, f)
	}
	for _, f := range cc.PrivateFields {
		delete(out, f)
	}
	for _, f := range cc.NoCacheFields {
		delete(out, f)
	}
	return out
}

// varyStar reports whether h's Vary field holds "*".
func varyStar(h http.Header) bool {
	for _, v := range h.Values("Vary") {
		for f := range strings.SplitSeq(v, ",") {
			if strings.TrimSpace(f) == "*" {
				return true
			}
		}
	}
	return false
}

// varyNames returns the sorted, de-duplicated canonical names of the Vary field, and whether
// it holds "*".
func varyNames(h http.Header) (names []string, star bool) {
	for _, v := range h.Values("Vary") {
		for _, f := range strings.Split(v, ",") {
			f = strings.TrimSpace(f)
			switch {
			case f == "*":
				return nil, true
			case f != "":
				names = append(names, http.CanonicalHeaderKey(f))
			}
		}
	}
	slices.Sort(names)
	return slices.Compact(names), false
}

// headerValue is the request's value of a varied header: every line joined with ", ",
// runs of whitespace collapsed to one space, trimmed.
func headerValue(h http.Header, name string) string {
	vs := h.Values(name)
	switch len(vs) {
	case 0:
		return ""
	case 1:
		if !needsSpaceFold(vs[0]) {
			return vs[0]
		}
	}
	return strings.Join(strings.Fields(strings.Join(vs, ", ")), " ")
}

func needsSpaceFold(s string) bool {
	if s == "" {
		return false
	}
	if isSpace(s[0]) || isSpace(s[len(s)-1]) {
		return true
	}
	for i := 1; i < len(s); i++ {
		if isSpace(s[i]) && (s[i] != ' ' || isSpace(s[i-1])) {
			return true
		}
	}
	return false
}

func hasCredentials(r *http.Request) bool {
	return len(r.Header.Values("Authorization")) > 0 || len(r.Header.Values("Cookie")) > 0
}
