// Package cache stores HTTP responses for failsoft: immutable entries that know when they are
// fresh, stale-but-revalidatable (RFC 5861 stale-while-revalidate) and stale-but-usable-on-error
// (RFC 5861 stale-if-error), the rules that decide whether a response may be stored and shared
// (RFC 9111, as a shared cache), the cache key, and a byte-bounded in-memory Store built on
// ristretto.
//
// Most users only write a Policy (httpfallback.Config.Policy: what is stored, for how long,
// how long it may be served stale) and, to size or share a store, pass a Memory from New as
// httpfallback.Config.Store. The rest is what the engine is built on.
//
// The pieces:
//
//   - Policy.NewEntry applies the storage rules to a response and builds an Entry, or says why
//     not with a *NotStorableError. Policy.Refresh applies a 304 Not Modified to an entry.
//   - Entry.State(now) tells Fresh, Stale, StaleIfError, Revalidate (kept only to lend its
//     validators: never served stale) or Gone; Entry.Age(now) is the RFC 9111
//     section 4.2.3 current_age to send in the Age header; Entry.TTL(now) the Cache-Status ttl.
//   - Key builds the primary key of a request; KeyOptions.Headers adds the values of request
//     headers a handler may build its answer from although the response does not Vary on them
//     (DefaultKeyedHeaders: X-Forwarded-Host and the other host, scheme, URL and method
//     overrides), so that they cannot poison what other clients get. VariantKey extends the
//     primary key with the request's values of the headers a response varies on. Lookup and
//     Save implement the two-level Vary scheme on top of any Store; deleting the primary key
//     retires every variant stored before (Entry.Generation).
//   - An Entry's Header is a compact, immutable Header (MakeHeader: one string, no map);
//     Entry.CopyHeader writes it onto a response, each response its own copy, and
//     Entry.ETag and Entry.LastModified read its validators from it.
//   - Store is the small interface the engine needs; Memory (New) is the default implementation:
//     bounded by MaxBytes, charging each entry's Cost, its key (a digest for keys over 256
//     bytes) and the store's bookkeeping; half of it protected for keys requested twice within
//     ProtectWindow (a scan of one-off keys goes through ristretto in the other half); a Set
//     that returns true only once the entry is visible to every Get, and a sweeper that deletes
//     entries past their last window.
//   - ParseCacheControl is the Cache-Control parser the rules use; it never panics.
//
// Times are always passed in (reqTime, respTime, now), so callers and tests control the clock.
package cache
