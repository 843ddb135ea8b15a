package httpfallback

import (
	"fmt"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A failing answer that sets a cookie is the leader's own: a request collapsed on that
// fetch must not receive the leader's Set-Cookie (two users would share one session).
func TestCollapsedFailureWithSetCookieNotShared(t *testing.T) {
	g := newGate()
	hs := newEngHarness(t, heldLeaderConfig(30*time.Second), func(w http.ResponseWriter, r *http.Request) {
		i := g.Hold(1)
		w.Header().Set("Set-Cookie", "session=s"+strconv.FormatInt(i, 10))
		w.WriteHeader(http.StatusInternalServerError)
	})
	l, w := leaderAndWaiter(t, hs, g, "/sc", nil, nil)
	assert.Equal(t, "session=s1", l.header.Get("Set-Cookie"))
	assert.NotEqual(t, "session=s1", w.header.Get("Set-Cookie"), "the waiter got the leader's cookie: %s", w.cs())
	assert.EqualValues(t, 2, hs.calls.Load(), "the waiter fetched its own answer")
}

// A 304 refreshes the leader's variant: a request for another variant waiting on that
// fetch must not be given it.
func TestCollapsedWaiterOfAnotherVariantNotGiven304Refresh(t *testing.T) {
	g := newGate()
	hs := newEngHarness(t, heldLeaderConfig(30*time.Second), func(w http.ResponseWriter, r *http.Request) {
		lang := r.Header.Get("Accept-Language")
		w.Header().Set("Cache-Control", "max-age=10")
		w.Header().Set("Vary", "Accept-Language")
		w.Header().Set("ETag", `"`+lang+`"`)
		if r.Header.Get("If-None-Match") != "" {
			g.Hold(1) // the first revalidation: the leader's
			w.WriteHeader(http.StatusNotModified)
			return
		}
		fmt.Fprint(w, "lang="+lang)
	})
	require.Equal(t, "lang=en", hs.get("/v", "Accept-Language", "en").body)
	hs.clock.Advance(20 * time.Second) // stale, within stale-if-error: revalidated inline
	leader, other := leaderAndWaiter(t, hs, g, "/v", []string{"Accept-Language", "en"}, []string{"Accept-Language", "fr"})
	assert.Equal(t, "lang=en", leader.body)
	assert.Equal(t, "lang=fr", other.body, "another variant got the leader's refreshed entry: %s", other.cs())
}

// A 304 that sets a cookie (or says private / no-store) must not turn the shared entry
// into one that hands that cookie to every later request.
func TestRevalidation304WithSetCookieNotStored(t *testing.T) {
	for name, hdr := range map[string][2]string{
		"set-cookie": {"Set-Cookie", "session=alice"},
		"private":    {"Cache-Control", "private, max-age=10"},
		"no-store":   {"Cache-Control", "no-store"},
	} {
		t.Run(name, func(t *testing.T) {
			var revalidations atomic.Int64
			hs := newEngHarness(t, Config{}, etagHandler(func(h http.Header) {
				if revalidations.Add(1) == 1 { // only the first 304 is personal
					h.Set(hdr[0], hdr[1])
				}
			}))
			hs.get("/c")
			hs.clock.Advance(20 * time.Second)
			r := hs.get("/c")
			require.Equal(t, 200, r.status)
			require.Equal(t, "original", r.body)
			require.False(t, hasParam(r.cs(), "stored"), r.cs())
			if hdr[0] == "Set-Cookie" {
				require.Equal(t, "session=alice", r.header.Get("Set-Cookie"), "the leader keeps its own cookie")
			}
			r = hs.get("/c") // the entry was not refreshed: revalidated again, by a plain 304
			require.Empty(t, r.header.Get("Set-Cookie"), "a later request got the first 304's cookie: %s", r.cs())
			require.Equal(t, "failsoft; fwd=stale; fwd-status=304; stored", r.cs())
			require.EqualValues(t, 2, revalidations.Load())
		})
	}
}

// A failing answer that only says no-store is no one's in particular: waiters still share
// it (collapsing is what spares a failing upstream a herd of retries).
func TestCollapsedFailureWithNoStoreIsShared(t *testing.T) {
	g := newGate()
	hs := newEngHarness(t, heldLeaderConfig(30*time.Second), func(w http.ResponseWriter, r *http.Request) {
		g.Hold(1)
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusInternalServerError)
	})
	l, w := leaderAndWaiter(t, hs, g, "/ns", nil, nil)
	assert.Equal(t, http.StatusInternalServerError, l.status)
	assert.Equal(t, http.StatusInternalServerError, w.status)
	assert.True(t, hasParam(w.cs(), "collapsed"), w.cs())
	assert.EqualValues(t, 1, hs.calls.Load(), "the waiter shared the leader's failure")
}

// RFC 9111 4.3.4: a 304 naming another strong validator does not refresh the entry (its old
// body would be served, and revalidated, under the new ETag); the engine asks again without
// the condition and stores the full answer.
func TestRevalidation304WithAnotherETagRefetches(t *testing.T) {
	var version atomic.Int64
	hs := newEngHarness(t, Config{}, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=10")
		v := version.Load()
		w.Header().Set("ETag", fmt.Sprintf(`"e%d"`, v))
		if r.Header.Get("If-None-Match") != "" {
			w.WriteHeader(http.StatusNotModified) // a buggy upstream: 304 whatever the tag
			return
		}
		fmt.Fprintf(w, "v%d", v)
	})
	require.Equal(t, "v0", hs.get("/e").body)
	version.Store(1)
	hs.clock.Advance(20 * time.Second)
	r := hs.get("/e")
	assert.Equal(t, "v1", r.body, r.cs())
	assert.Equal(t, `"e1"`, r.header.Get("ETag"))
	assert.Equal(t, "failsoft; fwd=stale; fwd-status=200; stored", r.cs())
	assert.EqualValues(t, 3, hs.calls.Load(), "the 304 was followed by one unconditional request")
	r = hs.get("/e")
	assert.Equal(t, "v1", r.body)
	assert.True(t, hasParam(r.cs(), "hit"), r.cs())
}
