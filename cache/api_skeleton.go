package cache

// API SKELETON — written by the lead so that the other packages can be built in parallel.
// The cache helper replaces every body here with the real implementation (and may split
// this file), keeping the exported names and signatures. Any change of signature must be
// agreed with the lead, because upstream, httpfallback, echofallback and redisstore code
// against it.

import (
	"context"
	"errors"
	"net/http"
	"time"
)

// State says how an entry may be used at a given moment.
type State uint8

const (
	// Gone: no entry, or past every window. Fetch.
	Gone State = iota
	// Fresh: serve without contacting the source.
	Fresh
	// Stale: past fresh, within stale-while-revalidate: serve now, refresh in background.
	Stale
	// StaleIfError: past stale-while-revalidate, within stale-if-error: fetch, and serve
	// this entry only when the fetch fails.
	StaleIfError
)

// Entry is an immutable stored response. Never mutate an Entry, its Header or its Body
// after it has been built: it is shared by every request that reads it.
type Entry struct {
	Status int
	Header http.Header // cloned at creation, hop-by-hop and Age removed
	Body   []byte      // owned

	RequestTime  time.Time     // when the request that produced it was sent
	ResponseTime time.Time     // when the response was received ("time stored")
	InitialAge   time.Duration // RFC 9111 4.2.3 corrected_initial_age

	FreshUntil      time.Time // fresh while now < FreshUntil
	RevalidateUntil time.Time // stale-while-revalidate ends (>= FreshUntil)
	ErrorUntil      time.Time // stale-if-error ends (>= FreshUntil)

	ETag         string // validator, "" when none
	LastModified string // validator, "" when none

	// Vary lists the canonical request header names the response varies on, and
	// VaryValues the values the storing request had for them (same order).
	Vary       []string
	VaryValues []string
}

// Age is the entry's current age at now: RFC 9111 4.2.3 current_age.
func (e *Entry) Age(now time.Time) time.Duration { return 0 }

// State reports how the entry may be used at now.
func (e *Entry) State(now time.Time) State { return Gone }

// TTL is the remaining freshness at now, negative once stale (Cache-Status ttl=).
func (e *Entry) TTL(now time.Time) time.Duration { return 0 }

// Expires is the end of the longest window: after it the entry is Gone.
func (e *Entry) Expires() time.Time { return time.Time{} }

// Cost is the entry's accounted size in bytes: body + headers + a fixed overhead.
func (e *Entry) Cost() int64 { return 0 }

// Store keeps entries by key. Implementations are safe for concurrent use.
type Store interface {
	// Get returns the entry for key and its state at now; (nil, Gone) when absent or expired.
	Get(ctx context.Context, key string, now time.Time) (*Entry, State)
	// Set stores e under key. It returns true only if the entry is visible to the next Get.
	Set(ctx context.Context, key string, e *Entry) bool
	// Delete removes key.
	Delete(ctx context.Context, key string)
	// Close releases the store. Safe to call twice and concurrently with the others.
	Close() error
}

// Config configures the ristretto-backed Memory store.
type Config struct {
	MaxBytes int64            // bound on accounted bytes; 0 means 64 MiB
	Now      func() time.Time // nil means time.Now
}

// Stats is a snapshot of a Memory store's counters.
type Stats struct {
	Hits, Misses, Stored                  uint64
	RejectedTooLarge, RejectedNotAdmitted uint64
	RejectedDropped, Evictions            uint64
	Bytes                                 int64
}

// Memory is the default Store: in-process, ristretto, bounded in bytes.
type Memory struct{}

// New returns a Memory store.
func New(cfg Config) (*Memory, error) { return nil, errors.New("unimplemented") }

func (m *Memory) Get(ctx context.Context, key string, now time.Time) (*Entry, State) {
	return nil, Gone
}
func (m *Memory) Set(ctx context.Context, key string, e *Entry) bool { return false }
func (m *Memory) Delete(ctx context.Context, key string)             {}
func (m *Memory) Close() error                                       { return nil }
func (m *Memory) Stats() Stats                                       { return Stats{} }

// Policy holds the rules for storing and the default windows.
type Policy struct {
	// Statuses that may be stored; nil means every 2xx.
	Statuses []int
	// FreshFor is the freshness of a response that states none; 0 means not fresh at all
	// (always fetched, but kept for the stale windows).
	FreshFor time.Duration
	// StaleWhileRevalidate is the default window when the response states none; 0 means none.
	StaleWhileRevalidate time.Duration
	// StaleIfError is the default window when the response states none; 0 means 1 hour,
	// negative means none.
	StaleIfError time.Duration
	// ServeStaleDespiteRevalidate lets stale be served even under must-revalidate,
	// proxy-revalidate and no-cache. Off by default.
	ServeStaleDespiteRevalidate bool
	// OverrideFreshness, when > 0, replaces the response's own freshness (operator override).
	OverrideFreshness time.Duration
	// MaxBodyBytes: larger bodies are not stored; 0 means 8 MiB.
	MaxBodyBytes int64
	// ShareCredentialed: a response to a request with Authorization or Cookie may be stored
	// because the key includes a hash of the credential (see KeyOptions.Credentials).
	ShareCredentialed bool
}

// NotStorableError says why a response was not stored.
type NotStorableError struct{ Reason string }

func (e *NotStorableError) Error() string { return "cache: not storable: " + e.Reason }

// NewEntry applies the policy to a response and builds its entry, or returns a
// *NotStorableError. reqTime and respTime bracket the exchange.
func (p Policy) NewEntry(req *http.Request, status int, header http.Header, body []byte, reqTime, respTime time.Time) (*Entry, error) {
	return nil, errors.New("unimplemented")
}

// Refresh applies a 304 Not Modified (RFC 9111 4.3.4) to e: a new entry with e's body and
// status, header fields updated from the 304, new deadlines.
func (p Policy) Refresh(e *Entry, req *http.Request, notModified http.Header, reqTime, respTime time.Time) *Entry {
	return e
}

// KeyOptions tunes Key.
type KeyOptions struct {
	// Credentials adds a hash of Authorization and Cookie to the key (never the raw value).
	Credentials bool
}

// Key builds the primary key: method class + scheme + host + path + canonical query.
func Key(r *http.Request, opt KeyOptions) string { return "" }

// VariantKey extends a primary key with the request's values of the varied headers.
func VariantKey(primary string, vary []string, h http.Header) string { return primary }

// Lookup finds the entry for a request: the primary key first, then, when the found entry
// varies and the request's values differ, the variant. It returns the key it used.
func Lookup(ctx context.Context, s Store, primary string, r *http.Request, now time.Time) (*Entry, State) {
	return nil, Gone
}

// Save stores e under the primary key and, when it varies, under its variant key.
func Save(ctx context.Context, s Store, primary string, r *http.Request, e *Entry) bool {
	return false
}
