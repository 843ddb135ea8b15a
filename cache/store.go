package cache

import (
	"context"
	"net/http"
	"time"
)

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

// Lookup finds the entry for a request: the primary key first, then, when the found entry
// varies and the request's values of the varied headers differ from the values it was
// stored for, the variant key. A variant found must match the request too, else it is a
// miss (nil, Gone).
func Lookup(ctx context.Context, s Store, primary string, r *http.Request, now time.Time) (*Entry, State) {
	var h http.Header
	if r != nil {
		h = r.Header
	}
	e, st := s.Get(ctx, primary, now)
	if e == nil || len(e.Vary) == 0 || varyMatches(e, h) {
		return e, st
	}
	e, st = s.Get(ctx, VariantKey(primary, e.Vary, h), now)
	if e == nil || !varyMatches(e, h) {
		return nil, Gone
	}
	return e, st
}

// Save stores e under the primary key and, when it varies, also under its variant key
// (built from e.Vary and e.VaryValues, the storing request's values). It reports whether
// every Set succeeded. r is the request the entry answers; it is not read when e carries its
// Vary values, and may be nil then.
func Save(ctx context.Context, s Store, primary string, r *http.Request, e *Entry) bool {
	ok := s.Set(ctx, primary, e)
	if len(e.Vary) == 0 {
		return ok
	}
	values := e.VaryValues
	if len(values) != len(e.Vary) && r != nil {
		values = make([]string, len(e.Vary))
		for i, n := range e.Vary {
			values[i] = headerValue(r.Header, n)
		}
	}
	if len(values) != len(e.Vary) {
		return false
	}
	return s.Set(ctx, variantKey(primary, e.Vary, values), e) && ok
}

// varyMatches reports whether h has the values e was stored for.
func varyMatches(e *Entry, h http.Header) bool {
	if len(e.VaryValues) != len(e.Vary) {
		return false
	}
	for i, name := range e.Vary {
		if headerValue(h, name) != e.VaryValues[i] {
			return false
		}
	}
	return true
}
