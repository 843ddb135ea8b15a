package httpfallback

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/failsoft/failsoft/cache"
	"github.com/failsoft/failsoft/upstream"
)

// outcome is the result of one fetch (primary, then alternate), shared read-only by the
// leader and every request that waited on it. Each request writes its own copy.
type outcome struct {
	status int         // the answer's status (0 when the source never answered)
	header http.Header // the answer's header, immutable
	body   []byte      // the answer's body, immutable

	entry  *cache.Entry // the entry to serve: stored (or storable), or refreshed by a 304
	stored bool

	err    error  // the failure, nil when the answer is good or a 4xx
	reason string // reason(err)
	called bool   // the source was reached (false: circuit open, overloaded)

	fwd       string // Cache-Status fwd when not derived from the entry ("method", "bypass")
	alternate bool   // answered by Config.Alternate
	personal  bool   // the fetching request's own answer (a 304 setting a cookie...): not shareable
	streamed  bool   // already streamed to the leader's client: not shareable
	tooLarge  bool   // over the body limit with no client to stream to
	detail    string // why a good answer was not stored

	varyStar  bool     // Vary: *
	varyNames []string // headers the answer varies on
	varyVals  []string // the fetching request's values of them

	credentialed bool // the fetching request carried Authorization or Cookie
}

// sharable reports whether r, which waited on another request's fetch, may be given this
// outcome. Only what any user may see is shared: an answer the policy accepted as an entry
// (storable: not private, no Set-Cookie, no credentials unless public, not partial), or a
// failure of a request that carried no credentials (its own error page could be personal);
// and only for the same variant. Anything else — a 4xx the policy does not store, a
// redirect, an answer refused by the policy, a failing answer that sets a cookie or says
// private — is not shared: the waiter fetches for itself, as NGINX's cache lock does.
func (o *outcome) sharable(r *http.Request) bool {
	if o.streamed || o.tooLarge || o.varyStar || o.personal {
		return false
	}
	if o.entry == nil && (o.err == nil || o.credentialed || personalHeader(o.header) != "") {
		return false
	}
	for i, n := range o.varyNames {
		if strings.Join(r.Header.Values(n), ",") != o.varyVals[i] {
			return false
		}
	}
	return true
}

// reusable reports whether a request that arrived before this outcome's fetch started
// may be given it without validation (RFC 9111 4, 5.2.2.4) at now: a failure, or an entry
// still fresh. An answer that says no-cache, or is stale on arrival (max-age=0), is not.
func (o *outcome) reusable(now time.Time) bool {
	return o.err != nil || o.entry.State(now) == cache.Fresh
}

// setVary records the fetching request's values of the headers the answer varies on.
func (o *outcome) setVary(r *http.Request) {
	for _, v := range o.header.Values("Vary") {
		for _, n := range strings.Split(v, ",") {
			n = strings.TrimSpace(n)
			switch n {
			case "":
				continue
			case "*":
				o.varyStar = true
				return
			}
			o.varyNames = append(o.varyNames, http.CanonicalHeaderKey(n))
			o.varyVals = append(o.varyVals, strings.Join(r.Header.Values(n), ","))
		}
	}
}

// fetch asks the source for ex's request (a HEAD is fetched as a GET so that the answer
// can be stored), then the alternate if the source failed. ex.w is the client to stream a
// large answer to (nil in the background). noStore, when not "", forbids storing and says
// why (the Cache-Status detail of a good answer).
func (e *Engine) fetch(ctx context.Context, ex *exchange, noStore string) *outcome {
	w, r, ent, maxBody := ex.w, ex.r, ex.ent, ex.rt.policy.MaxBodyBytes
	req := r
	if !ex.owned || r.Context() != ctx {
		// The request's own copy, to change below. A background fetch's request is
		// already one (goFetch cloned it with this context): a second clone would only
		// cost allocations.
		req = r.Clone(ctx)
	}
	req.Method = http.MethodGet
	if r.Method == http.MethodHead {
		req.Body, req.GetBody, req.ContentLength = http.NoBody, nil, 0
	}
	// The client's own conditionals are answered from the entry, never forwarded: the
	// answer must be a full response that can be stored and shared. The Range an If-Range
	// guards goes with it: alone it would be unconditional (RFC 9110 13.1.5), a 206 of a
	// representation the client's other bytes may not come from.
	// With a stored entry to revalidate, Range goes too: a full answer (or a 304) renews
	// the entry, and the client's Range is answered from it (writeEntry).
	if len(req.Header["If-Range"]) > 0 || ent != nil {
		req.Header.Del("Range")
	}
	for _, h := range conditionalHeaders {
		delete(req.Header, h) // Header.Del, without canonicalising a canonical name
	}
	// An answer that may be stored and shared must not depend on what the key ignores:
	// the host is given in the key's form (lowercase, no default port), the same
	// authority (RFC 9110 4.2.3). Headers that rewrite the host, scheme, URL or method are
	// keyed (cache.DefaultKeyedHeaders), so they reach the source untouched.
	if req.Host != "" {
		req.Host = cache.KeyHost(req)
	}
	conditional := false
	if ent != nil && (ent.ETag() != "" || ent.LastModified() != "") {
		conditional = true
		if etag := ent.ETag(); etag != "" {
			req.Header.Set("If-None-Match", etag)
		}
		if lm := ent.LastModified(); lm != "" {
			req.Header.Set("If-Modified-Since", lm)
		}
	}
	fwd := fwdOf(ent)
	head := r.Method == http.MethodHead
	buf := newBuffer(w, maxBody, head, fwd)
	reqTime := e.cfg.Now()
	err := e.runObserved(ctx, ex.route, ex.src, buf, req)
	ex.src.closedRead = false // a second call reads the breaker again (see runCommand)
	respTime := e.cfg.Now()
	if err == nil && conditional && buf.status == http.StatusNotModified && !ent.SelectedBy(buf.header) {
		// RFC 9111 4.3.4: a 304 whose validator is not the entry's (another strong or weak
		// ETag, another Last-Modified when the entry has no ETag) must not update it (the
		// entry's old body would go out under the new validator): ask again,
		// unconditionally.
		req.Header.Del("If-None-Match")
		req.Header.Del("If-Modified-Since")
		conditional = false
		buf = newBuffer(w, maxBody, head, fwd)
		reqTime = e.cfg.Now()
		err = e.runObserved(ctx, ex.route, ex.src, buf, req)
		respTime = e.cfg.Now()
	}
	o := e.classify(ctx, ex, &answer{req: req, buf: buf, err: err, conditional: conditional, reqTime: reqTime, respTime: respTime}, noStore)
	o.credentialed = hasCredentials(r)
	if o.err == nil || e.cfg.Alternate == nil || buf.streaming {
		return o
	}
	req.Header.Del("If-None-Match")
	req.Header.Del("If-Modified-Since")
	abuf := newBuffer(w, maxBody, head, fwd)
	aerr := e.runObserved(ctx, "alternate/"+ex.route, source{handler: e.cfg.Alternate}, abuf, req)
	if aerr == nil && !abuf.streaming && !abuf.overflow && abuf.code() < 400 && !e.isFailure(abuf.code()) {
		a := &outcome{status: abuf.code(), header: abuf.header, body: abuf.body, called: true, alternate: true, credentialed: o.credentialed}
		a.setVary(req)
		e.log(ctx, slog.LevelDebug, "failsoft: primary failed, alternate answered", r, ex.route, slog.String("reason", o.reason))
		return a
	}
	if abuf.streaming {
		e.emit(&Event{Kind: EventForward, Route: ex.route, Key: ex.key, Status: abuf.code(), Fwd: fwd, Duration: e.since(r)})
		return &outcome{streamed: true, alternate: true, status: abuf.code()}
	}
	e.log(ctx, slog.LevelDebug, "failsoft: alternate failed too", r, ex.route, slog.String("reason", reason(aerr)))
	return o
}

// declaresLength reports whether h's Content-Length is already exactly n's decimal, one
// value (what the source usually wrote): setting it again would allocate the same field.
func declaresLength(h http.Header, n int) bool {
	cl := h["Content-Length"]
	var b [20]byte
	return len(cl) == 1 && cl[0] == string(strconv.AppendInt(b[:0], int64(n), 10))
}

// hasCredentials reports whether r carries Authorization or Cookie (RFC 9111 3.5).
func hasCredentials(r *http.Request) bool {
	return r.Header.Get("Authorization") != "" || r.Header.Get("Cookie") != ""
}

var conditionalHeaders = [...]string{"If-None-Match", "If-Modified-Since", "If-Match", "If-Unmodified-Since", "If-Range"}

// fwdOf is the Cache-Status fwd value of a fetch: stale when an entry existed.
func fwdOf(ent *cache.Entry) string {
	if ent != nil {
		return "stale"
	}
	return "uri-miss"
}

// answer is what one call of the source gave: the request it was asked (conditional when
// the engine added the stale entry's validators), its buffered answer or error, and when.
type answer struct {
	req               *http.Request
	buf               *buffer
	err               error
	conditional       bool
	reqTime, respTime time.Time
}

// classify turns the source's answer into an outcome, storing a good answer when allowed.
func (e *Engine) classify(ctx context.Context, ex *exchange, a *answer, noStore string) *outcome {
	req, buf, err, pol := a.req, a.buf, a.err, &ex.rt.policy
	status := buf.code()
	switch {
	case buf.streaming:
		// Already on its way to the client: this is the request's answer.
		e.emit(&Event{Kind: EventForward, Route: ex.route, Key: ex.key, Status: status, Fwd: fwdOf(ex.ent), Duration: e.since(req)})
		return &outcome{streamed: true, status: status, called: true}
	case buf.overflow:
		return &outcome{tooLarge: true, status: status, called: true, detail: ReasonTooLarge}
	}
	if err == nil && e.isFailure(status) {
		err = &upstream.StatusError{StatusCode: status, Header: buf.header, Body: excerpt(buf.body)}
	}
	if err == nil && status == http.StatusNotModified && a.conditional {
		refreshed := pol.Refresh(ex.ent, req, buf.header, a.reqTime, a.respTime)
		o := &outcome{status: status, header: refreshed.Header.Clone(), entry: refreshed, called: true}
		o.setVary(req) // the refreshed entry is the fetching request's variant
		if why := pol.ShareRefused(req, buf.header); why != "" {
			// What a full answer with the 304's header would not be stored for everyone
			// (a cookie set, private, no-store, Vary: *, a credentialed request's answer
			// that does not say it may be shared) makes the entry the fetching request's
			// own: it is answered with it, but it is neither stored nor shared.
			o.personal, o.detail = true, why
			return o
		}
		if noStore == "" {
			o.stored = cache.Save(ctx, e.store, ex.key, req, refreshed)
			if o.stored {
				e.stored.Add(1)
				e.emit(&Event{Kind: EventStored, Route: ex.route, Key: ex.key, Status: status})
				e.purge.stored(req, ex.key, refreshed.Header)
			}
		}
		return o
	}
	if err == nil {
		err = e.validate(buf)
	}
	if err != nil {
		return e.failed(err, buf)
	}
	o := &outcome{status: status, header: buf.header, body: buf.body, called: true}
	if status >= 400 && !pol.Stores(status, buf.header) {
		o.setVary(req)
		return o // the caller's answer: passed through, not stored, not a failure
	}
	if !pol.StaleAllowed(status) && ex.ent != nil && ex.ent.State(a.respTime).ServableStale() {
		// A non-2xx answer stored for its explicit freshness is served only while fresh:
		// stored, it would replace the last good answer that stale-if-error serves
		// (cache.Policy.StaleNon2xx). Passed through instead, while that one may be served.
		o.setVary(req)
		o.detail = "last-good-kept"
		return o
	}
	if noStore != "" {
		o.setVary(req)
		o.detail = noStore
		return o
	}
	if buf.header.Get("Content-Type") == "" && len(buf.body) > 0 {
		buf.header.Set("Content-Type", http.DetectContentType(buf.body))
	}
	if !declaresLength(buf.header, len(buf.body)) {
		// validate has refused a body of another length than a declared one: this
		// states a missing length, or one written otherwise (or a 204's), as one field.
		buf.header.Set("Content-Length", itoa(len(buf.body)))
	}
	newEntry := pol.NewEntry
	if len(buf.body) == cap(buf.body) {
		// Exactly sized (see buffer.sizeHint), and the buffer is done with: the entry keeps
		// its bytes rather than a copy. The outcome shares them, read-only, as it shares
		// the header.
		newEntry = pol.NewEntryOwning
	}
	entry, nerr := newEntry(req, status, buf.header, buf.body, a.reqTime, a.respTime)
	if nerr != nil {
		o.setVary(req)
		var ns *cache.NotStorableError
		if errors.As(nerr, &ns) {
			o.detail = ns.Reason
		} else {
			o.detail = "not-storable"
		}
		return o
	}
	o.entry = entry
	o.stored = cache.Save(ctx, e.store, ex.key, req, entry)
	o.setVary(req)
	if o.stored {
		e.stored.Add(1)
		e.emit(&Event{Kind: EventStored, Route: ex.route, Key: ex.key, Status: status})
		e.purge.stored(req, ex.key, entry.Header)
	}
	return o
}

// personalHeader says why an answer with header h belongs to the request it answered
// ("" when it does not): it sets a cookie, or says private. (A failing answer's no-store
// is common and says nothing about whom it is for: such failures are still shared.)
func personalHeader(h http.Header) string {
	if len(h["Set-Cookie"]) > 0 {
		return "Set-Cookie"
	}
	if cache.ParseCacheControl(h["Cache-Control"]).Private {
		return "private"
	}
	return ""
}

// failed builds the outcome of a failure; the source's own failing answer, when it wrote
// one (or a Fetcher's StatusError carries one), is kept to be served as a last resort.
func (e *Engine) failed(err error, buf *buffer) *outcome { return failedOutcome(err, buf) }

// failedOutcome is failed's work (it needs nothing of the Engine).
func failedOutcome(err error, buf *buffer) *outcome {
	rs := reason(err)
	o := &outcome{err: err, reason: rs, called: rs != ReasonCircuitOpen && rs != ReasonOverloaded}
	if se, ok := errors.AsType[*upstream.StatusError](err); ok {
		o.status = se.StatusCode
		if buf != nil && buf.status == se.StatusCode && !buf.overflow {
			o.header, o.body = buf.header, buf.body
		} else {
			o.header, o.body = excerptHeader(se.Header), se.Body
		}
	}
	return o
}

// excerptHeader is the header of a failing answer served with the body excerpt its
// StatusError keeps: h without the framing of the whole body (Content-Length,
// Transfer-Encoding), which the excerpt does not match. h itself is not modified.
func excerptHeader(h http.Header) http.Header {
	if len(h["Content-Length"]) == 0 && len(h["Transfer-Encoding"]) == 0 {
		return h
	}
	h = h.Clone()
	delete(h, "Content-Length")
	delete(h, "Transfer-Encoding")
	return h
}
