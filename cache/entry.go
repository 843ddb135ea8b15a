package cache

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// State says how an entry may be used at a given moment.
type State uint8

const (
	// Gone means no entry, or an entry past every window. Fetch.
	Gone State = iota
	// Fresh means serve without contacting the source.
	Fresh
	// Stale means past fresh, within stale-while-revalidate: serve now, refresh in background.
	Stale
	// StaleIfError means past stale-while-revalidate, within stale-if-error: fetch, and serve
	// this entry only when the fetch fails.
	StaleIfError
	// Revalidate means past every window in which the entry may be served, but still kept
	// for its validators (an entry that must not be served stale: must-revalidate,
	// proxy-revalidate, no-cache, s-maxage, a non-2xx): fetch with a conditional request, update the
	// entry from a 304, and never serve it when the fetch fails.
	Revalidate
)

// String returns the state's name, e.g. "fresh".
func (s State) String() string {
	switch s {
	case Gone:
		return "gone"
	case Fresh:
		return "fresh"
	case Stale:
		return "stale"
	case StaleIfError:
		return "stale-if-error"
	case Revalidate:
		return "revalidate"
	}
	return "state(" + strconv.Itoa(int(s)) + ")"
}

// The parts of an entry's Cost besides the bytes of its body, its Header's compact form and
// its strings, measured with runtime.MemStats (TestMemoryChargesWhatItHolds, go1.26, amd64)
// and rounded up:
//   - entryOverhead: the Entry struct (256 bytes, a size class of its own: its validators
//     are read from its Header, not held beside it);
//   - valueOverhead: per Vary name and value, its string header in its slice and the
//     allocation slack of its bytes.
const (
	entryOverhead = 256
	valueOverhead = 48
)

// Entry is an immutable stored response. Never mutate an Entry, its Header or its Body
// after it has been built: it is shared by every request that reads it. Build entries with
// Policy.NewEntry or Policy.Refresh.
type Entry struct {
	Status int
	Header Header // copied at creation, hop-by-hop and Age removed; see also ETag, LastModified
	Body   []byte // owned

	RequestTime  time.Time     // when the request that produced it was sent
	ResponseTime time.Time     // when the response was received ("time stored")
	InitialAge   time.Duration // RFC 9111 4.2.3 corrected_initial_age

	FreshUntil      time.Time // fresh while now < FreshUntil
	RevalidateUntil time.Time // stale-while-revalidate ends (>= FreshUntil)
	ErrorUntil      time.Time // stale-if-error ends (>= FreshUntil)
	// ValidateUntil ends the time the entry is kept only to be revalidated (State
	// Revalidate); zero, or not after ErrorUntil, when there is none.
	ValidateUntil time.Time

	// Vary lists the canonical request header names the response varies on, and
	// VaryValues the values the storing request had for them (same order).
	Vary       []string
	VaryValues []string

	// Generation names the set of variants of one primary key the entry belongs to; 0 means
	// none (a hand-built entry, or one decoded from an older encoding). NewEntry and Refresh
	// leave it 0: Save sets it, just before it stores the entry (its publication), to the
	// Generation of the entry alive under the primary key, or to a new random non-zero value
	// when there is none (never stored, deleted, evicted, Gone). Lookup uses an entry found
	// under a variant key only when its Generation is the primary entry's, so that deleting
	// the primary key (an unsafe method's invalidation, a purge) retires every variant
	// stored before the deletion, not only the one the primary key held.
	Generation uint64
}

// ETag returns the entry's validator: the first value of its Header's Etag field, "" when
// none.
func (e *Entry) ETag() string { return e.Header.exactValue("Etag") }

// LastModified returns the entry's Last-Modified validator: the first value of its
// Header's Last-Modified field, "" when none.
func (e *Entry) LastModified() string { return e.Header.exactValue("Last-Modified") }

// SelectedBy reports whether a 304 Not Modified with header h, answering a request that
// carried e's validators, selects e for update (RFC 9111 4.3.4). It does not when it
// carries a strong ETag other than e's (strong comparison), a weak ETag that e's does not
// match by weak comparison, or, when e has no ETag, a Last-Modified other than e's: the
// origin's current representation is then not e's, and e's body must not go out under
// the 304's validators. A 304 carrying neither field selects e.
func (e *Entry) SelectedBy(h http.Header) bool {
	etag, own := h.Get("Etag"), e.ETag()
	switch {
	case etag != "" && !strings.HasPrefix(etag, "W/"):
		return etag == own
	case etag != "":
		return strings.TrimPrefix(etag, "W/") == strings.TrimPrefix(own, "W/") && own != ""
	case own != "":
		return true
	}
	lm := h.Get("Last-Modified")
	return lm == "" || sameDate(lm, e.LastModified())
}

// sameDate reports whether HTTP-dates a and b are the same instant (the same text when
// either does not parse).
func sameDate(a, b string) bool {
	ta, errA := http.ParseTime(strings.TrimSpace(a))
	tb, errB := http.ParseTime(strings.TrimSpace(b))
	if errA != nil || errB != nil {
		return a == b
	}
	return ta.Equal(tb)
}

// Age is the entry's current age at now: RFC 9111 4.2.3 current_age, that is
// corrected_initial_age + resident_time, where resident_time = now - ResponseTime (never
// negative). Callers send it, in whole seconds, as the Age header.
func (e *Entry) Age(now time.Time) time.Duration {
	resident := now.Sub(e.ResponseTime)
	if resident < 0 {
		resident = 0
	}
	return e.InitialAge + resident
}

// State reports how the entry may be used at now: Fresh before FreshUntil, then Stale before
// RevalidateUntil, then StaleIfError before ErrorUntil, then Revalidate before
// ValidateUntil, then Gone.
func (e *Entry) State(now time.Time) State {
	switch {
	case e == nil:
		return Gone
	case now.Before(e.FreshUntil):
		return Fresh
	case now.Before(e.RevalidateUntil):
		return Stale
	case now.Before(e.ErrorUntil):
		return StaleIfError
	case now.Before(e.ValidateUntil):
		return Revalidate
	}
	return Gone
}

// TTL is the remaining freshness at now, negative once stale (Cache-Status ttl=).
func (e *Entry) TTL(now time.Time) time.Duration { return e.FreshUntil.Sub(now) }

// Expires is the end of the longest window (ValidateUntil included): after it the entry is
// Gone.
func (e *Entry) Expires() time.Time {
	t := e.FreshUntil
	if e.RevalidateUntil.After(t) {
		t = e.RevalidateUntil
	}
	if e.ErrorUntil.After(t) {
		t = e.ErrorUntil
	}
	if e.ValidateUntil.After(t) {
		t = e.ValidateUntil
	}
	return t
}

// Cost is the entry's accounted size in bytes: what the Entry holds in memory (body, the
// compact header, Vary data, the Entry itself), measured with runtime.MemStats rather than
// guessed. A Memory store charges it, plus the key and its own per-entry
// bookkeeping, against MaxBytes.
func (e *Entry) Cost() int64 {
	n := int64(entryOverhead) + allocSize(len(e.Body)) + allocSize(e.Header.size())
	for i := range e.Vary {
		n += int64(len(e.Vary[i])) + valueOverhead
	}
	for i := range e.VaryValues {
		n += int64(len(e.VaryValues[i])) + valueOverhead
	}
	return n
}

// ServableStale reports whether a state allows serving the entry without a successful
// fetch: Stale (stale-while-revalidate) or StaleIfError (when the fetch fails). Fresh is
// not stale, and an entry in Revalidate may only lend its validators.
func (s State) ServableStale() bool { return s == Stale || s == StaleIfError }

// allocSize is what an allocation of n bytes takes on the heap, rounded up: Go's size
// classes waste up to an eighth of a small allocation, and a large one is whole 8 KiB pages.
func allocSize(n int) int64 {
	switch {
	case n <= 0:
		return 0
	case n <= 32<<10:
		return roundUp(int64(n+n/8), 8)
	}
	return roundUp(int64(n), 8<<10)
}
