package httpfallback

import (
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestHitMemo: the memoised hit strings equal the ones built afresh, inside and outside the
// memo's range, and racing first uses agree.
func TestHitMemo(t *testing.T) {
	m := new(hitMemo)
	ttls := []time.Duration{-2500 * time.Millisecond, -time.Second, 0, 999 * time.Millisecond, time.Second,
		59 * time.Second, (memoSize - 1) * time.Second, memoSize * time.Second, 100000 * time.Second}
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, ttl := range ttls {
				for range 2 { // first use, then the memo
					assert.Equal(t, member{hit: true}.withTTL(ttl).String(), m.hitStatus(ttl), ttl)
				}
			}
			for _, n := range []int64{0, 7, 99, 100, memoSize - 1, memoSize, 1 << 40} {
				assert.Equal(t, strconv.FormatInt(n, 10), m.age(n))
				assert.Equal(t, strconv.FormatInt(n, 10), m.age(n))
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, "failsoft; hit; ttl=-3", m.hitStatus(-2500*time.Millisecond))
	assert.Equal(t, "failsoft; hit; ttl=0", m.hitStatus(999*time.Millisecond))
}

func TestFreshHitServedFromStoreWithoutHandler(t *testing.T) {
	hs := newEngHarness(t, Config{}, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprint(w, "hello")
	})
	first := hs.get("/a")
	require.Equal(t, 200, first.status)
	assert.Equal(t, "failsoft; fwd=uri-miss; fwd-status=200; stored", first.cs())
	assert.Equal(t, "hello", first.body)

	hs.clock.Advance(10 * time.Second)
	hit := hs.get("/a")
	assert.Equal(t, "hello", hit.body)
	assert.Equal(t, "failsoft; hit; ttl=50", hit.cs())
	assert.Equal(t, "10", hit.header.Get("Age"))
	assert.Equal(t, "text/plain", hit.header.Get("Content-Type"))
	assert.EqualValues(t, 1, hs.calls.Load(), "a fresh hit must not run the handler")
	// no command ran for the hit: the route's runner exists (created in New) but a
	// hit never reaches it; the Stats say so too.
	st := hs.eng.Stats()
	assert.EqualValues(t, 1, st.Hits)
	assert.EqualValues(t, 1, st.Misses)
	assert.EqualValues(t, 1, st.Stored)

	head := hs.do(http.MethodHead, "/a")
	assert.Equal(t, 200, head.status)
	assert.Equal(t, "", head.body)
	assert.Equal(t, "5", head.header.Get("Content-Length"))
	assert.EqualValues(t, 1, hs.calls.Load())

	// The client's own If-None-Match is answered from the entry.
	hs2 := newEngHarness(t, Config{}, func(w http.ResponseWriter, r *http.Request) {
		assert.Empty(t, r.Header.Get("If-None-Match"), "client conditionals are not forwarded")
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("ETag", `"v1"`)
		fmt.Fprint(w, "body")
	})
	hs2.get("/e", "If-None-Match", `"v1"`)
	nm := hs2.get("/e", "If-None-Match", `W/"v1"`)
	assert.Equal(t, http.StatusNotModified, nm.status)
	assert.Equal(t, `"v1"`, nm.header.Get("Etag"))
}

func TestHeadMissFetchesGetAndStores(t *testing.T) {
	hs := newEngHarness(t, Config{}, func(w http.ResponseWriter, r *http.Request) {
		assert.Equal(t, http.MethodGet, r.Method)
		w.Header().Set("Cache-Control", "max-age=60")
		fmt.Fprint(w, "full body")
	})
	head := hs.do(http.MethodHead, "/h")
	assert.Equal(t, "", head.body)
	assert.True(t, hasParam(head.cs(), "stored"), head.cs())
	get := hs.get("/h")
	assert.Equal(t, "full body", get.body)
	assert.True(t, hasParam(get.cs(), "hit"), get.cs())
	assert.EqualValues(t, 1, hs.calls.Load())
}
