package httpfallback

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"
)

// ErrClosed is returned by Runner once the Engine is closed.
var ErrClosed = errors.New("httpfallback: engine closed")

// RefusalError is a source refusing the request itself, before or instead of the upstream:
// the request's fault (a body too large, a path that cannot be forwarded), not the
// source's. A Fetcher returns it; the engine answers it with Status and an
// application/problem+json body carrying Detail (Cache-Status "failsoft; detail=refused",
// Cache-Control: no-store), never from the store, never with a default payload, and it
// does not count as an error in Stats nor reach OnEvent. When Config.ErrorHandler is set,
// the refusal goes to it like any other error.
type RefusalError struct {
	// Status is the answer's status: 400-599; any other value is answered 400.
	Status int
	// Detail is the problem's detail, sent to the client: say what was refused, never
	// anything the client should not read.
	Detail string
}

// Error describes the refusal.
func (e *RefusalError) Error() string {
	return "httpfallback: request refused (" + strconv.Itoa(e.status()) + "): " + e.Detail
}

func (e *RefusalError) status() int {
	if e.Status < 400 || e.Status > 599 {
		return http.StatusBadRequest
	}
	return e.Status
}

// WriteError writes the engine's own answer to a failure nothing else covers, as it does
// when Config.ErrorHandler is nil and the source wrote no failing answer of its own: an
// application/problem+json body (RFC 9457) whose reason member is the failure reason, with
// 503 and Retry-After for an open circuit or the concurrency limit, 504 for a timeout, 500
// for a panic, the failing status of a 5xx *upstream.StatusError, the Status of a
// *RefusalError, else 502. It never writes the source's own failing answer (its header and
// body), which is what an ErrorHandler that masks them calls it for.
//
// The Cache-Status field already on w's header (the engine sets it before calling
// ErrorHandler) is kept; without one, it is "failsoft; detail=<reason>".
func (e *Engine) WriteError(w http.ResponseWriter, r *http.Request, err error) {
	h := w.Header()
	cs := h.Get("Cache-Status")
	delete(h, "Cache-Status")
	if rf := (*RefusalError)(nil); errors.As(err, &rf) {
		if cs == "" {
			cs = refusedMember
		}
		e.writeProblem(w, r, rf.status(), ReasonRefused, rf.Detail, cs)
		return
	}
	o := e.failed(err, nil)
	if cs == "" {
		cs = member{detail: o.reason}.String()
	}
	e.writeFailureProblem(w, r, o, cs)
}

// writeFailureProblem writes o's failure as problem+json with the status its reason maps to.
func (e *Engine) writeFailureProblem(w http.ResponseWriter, r *http.Request, o *outcome, cs string) {
	status := http.StatusBadGateway
	h := w.Header()
	switch o.reason {
	case ReasonCircuitOpen:
		status = http.StatusServiceUnavailable
		h.Set("Retry-After", strconv.FormatInt(int64((e.cfg.Command.SleepWindow+time.Second-1)/time.Second), 10))
	case ReasonOverloaded:
		status = http.StatusServiceUnavailable
		h.Set("Retry-After", "1")
	case ReasonTimeout:
		status = http.StatusGatewayTimeout
	case ReasonPanic:
		status = http.StatusInternalServerError
	default:
		if o.status >= 500 && o.status <= 599 {
			status = o.status
		}
	}
	e.writeProblem(w, r, status, o.reason, problemDetail(o.reason), cs)
}

// writeProblem writes an RFC 9457 problem: status, the reason token as an extension member,
// detail; never stored (no-store), never sniffed.
func (e *Engine) writeProblem(w http.ResponseWriter, r *http.Request, status int, reason, detail, cs string) {
	body, _ := json.Marshal(problem{
		Type:   "about:blank",
		Title:  http.StatusText(status),
		Status: status,
		Detail: detail,
		Reason: reason,
	})
	h := w.Header()
	h.Set("Content-Type", "application/problem+json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	e.writeAnswer(w, r, status, nil, body, cs)
}
