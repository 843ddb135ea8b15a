// Package redisstore is failsoft's shared cache tier: a cache.Store backed by Redis, so that
// last-good responses survive restarts and are shared by every replica, and Tiered, a two-tier
// store with the in-process cache.Memory in front of Redis. Create a Store with New and put it
// behind a local cache.Memory with NewTiered; give the Tiered to httpfallback.Config.Store.
//
// It is a module of its own (github.com/failsoft/failsoft/cache/redisstore), so that users who
// do not want Redis never inherit its client.
//
// Redis trouble must not become the service's trouble: every Redis call is bounded by a tight
// timeout (50ms by default) and goes through a breaker around Redis itself; while Redis is down
// or slow, calls fail fast, a Tiered store answers from its local tier alone, and a fresh local
// hit never waits on Redis. When Redis answers again, the breaker's half-open probe lets writes
// reach it again. (When many dials have failed in a row, go-redis itself waits for a dial probe
// of its own, made once a second, before it dials again: recovery can lag Redis by about a second.)
//
// A Config.Client you build yourself should have ContextTimeoutEnabled set and MaxRetries -1, or
// go-redis may wait past the Timeout; the client New builds from Config.Addr is set up that way.
//
// Entries are stored in a compact, versioned binary encoding (Encode, Decode) with a checksum;
// a value that does not decode — corrupt, foreign, a future version, trailing bytes — is a miss,
// never served. Keys are Config.Prefix + the cache key, and expire in Redis when the entry's
// longest window (fresh, stale-while-revalidate, stale-if-error) ends.
//
// Invalidations (purges, unsafe-method invalidation) reach every replica: Tiered.Delete deletes
// in Redis and publishes the key on a pub/sub channel; every other Tiered store on that channel
// drops the key from its local tier.
package redisstore
