package httpfallback

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/failsoft/failsoft/upstream"
)

func TestColdKey200ConcurrentRequestsRunHandlerOnce(t *testing.T) {
	release := make(chan struct{})
	hs := newEngHarness(t, heldLeaderConfig(30*time.Second), func(w http.ResponseWriter, r *http.Request) {
		<-release
		w.Header().Set("Cache-Control", "max-age=60")
		fmt.Fprint(w, "payload")
	})
	const n = 200
	tr := &http.Transport{MaxIdleConnsPerHost: n}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr}
	var wg sync.WaitGroup
	results := make([]engResp, n)
	for i := range n {
		wg.Go(func() { results[i] = doReq(t, context.Background(), c, "GET", hs.srv.URL+"/cold") })
	}
	require.Eventually(t, func() bool {
		return hs.calls.Load() == 1 && hs.eng.Stats().Waiting == n-1
	}, 20*time.Second, time.Millisecond)
	close(release)
	wg.Wait()
	assert.EqualValues(t, 1, hs.calls.Load())
	collapsed := 0
	for _, r := range results {
		assert.Equal(t, 200, r.status)
		assert.Equal(t, "payload", r.body)
		if hasParam(r.cs(), "collapsed") {
			collapsed++
		}
	}
	assert.Equal(t, n-1, collapsed)
	assert.EqualValues(t, n-1, hs.eng.Stats().Collapsed)
}

func TestLockTimeoutWaiterFetchesAloneAndDoesNotStore(t *testing.T) {
	g := newGate()
	hs := newEngHarness(t, heldLeaderConfig(20*time.Millisecond), func(w http.ResponseWriter, r *http.Request) {
		g.Hold(1)
		w.Header().Set("Cache-Control", "max-age=60")
		fmt.Fprint(w, "x")
	})
	leader := goGet(hs, "/lock")
	g.WaitHeld(t)
	w := hs.get("/lock")
	assert.Equal(t, "x", w.body)
	assert.Equal(t, "failsoft; fwd=uri-miss; fwd-status=200; detail=lock-timeout", w.cs())
	g.Open()
	l := <-leader
	assert.True(t, hasParam(l.cs(), "stored"), l.cs())
}

// A waiter whose key has a stale entry within stale-if-error does not start a second fetch
// when the leader is stuck past the lock timeout: it answers with the entry at once.
func TestLockTimeoutWaiterWithStaleEntryServesIt(t *testing.T) {
	g := newGate()
	hs := newEngHarness(t, heldLeaderConfig(20*time.Millisecond), func(w http.ResponseWriter, r *http.Request) {
		i := g.Hold(2) // the refetch after the entry went stale hangs
		w.Header().Set("Cache-Control", "max-age=10, stale-if-error=600")
		fmt.Fprint(w, "v", i)
	})
	require.Equal(t, "v1", hs.get("/lock-stale").body)
	hs.clock.Advance(15 * time.Second) // past fresh, within stale-if-error: a fetch is due
	leader := goGet(hs, "/lock-stale")
	g.WaitHeld(t)
	w := hs.get("/lock-stale")
	assert.Equal(t, "v1", w.body)
	assert.Equal(t, "failsoft; fwd=stale; ttl=-5; collapsed; detail=lock-timeout", w.cs())
	assert.EqualValues(t, 2, hs.calls.Load(), "no second fetch while the leader's is stuck")
	g.Open()
	l := <-leader
	assert.Equal(t, "v2", l.body)
}

func TestLeaderClientHangsUpWaitersStillServed(t *testing.T) {
	g := newGate()
	var handlerCtxErr atomic.Value
	hs := newEngHarness(t, heldLeaderConfig(30*time.Second), func(w http.ResponseWriter, r *http.Request) {
		g.Hold(1)
		handlerCtxErr.Store(fmt.Sprint(r.Context().Err()))
		w.Header().Set("Cache-Control", "max-age=60")
		fmt.Fprint(w, "shared")
	})
	ctx, cancel := context.WithCancel(context.Background())
	leaderDone := make(chan error, 1)
	go func() {
		req, _ := http.NewRequestWithContext(ctx, "GET", hs.srv.URL+"/hang", nil)
		res, err := hs.srv.Client().Do(req)
		if err == nil {
			res.Body.Close()
		}
		leaderDone <- err
	}()
	g.WaitHeld(t)
	waiters := []<-chan engResp{goGet(hs, "/hang"), goGet(hs, "/hang"), goGet(hs, "/hang")}
	waitWaiting(t, hs, 3)
	cancel()
	require.Error(t, <-leaderDone)
	g.Open()
	for _, w := range waiters {
		r := <-w
		assert.Equal(t, "shared", r.body)
		assert.True(t, hasParam(r.cs(), "collapsed"), r.cs())
	}
	assert.Equal(t, "<nil>", handlerCtxErr.Load(), "the fetch others wait on is not cancelled")
	assert.Equal(t, upstream.Closed, hs.eng.runnerOf(defaultRoute).State())
	assert.EqualValues(t, 0, hs.eng.Stats().Errors)
	assert.Equal(t, "failsoft; hit; ttl=60", hs.get("/hang").cs(), "the leader's fetch was stored")
}

func TestWaiterOfAnotherVariantDoesNotGetLeadersAnswer(t *testing.T) {
	g := newGate()
	hs := newEngHarness(t, heldLeaderConfig(30*time.Second), func(w http.ResponseWriter, r *http.Request) {
		g.Hold(1)
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Vary", "Accept-Language")
		fmt.Fprint(w, "lang="+r.Header.Get("Accept-Language"))
	})
	leader := goGet(hs, "/v", "Accept-Language", "fr")
	g.WaitHeld(t)
	sameCh := goGet(hs, "/v", "Accept-Language", "fr")
	otherCh := goGet(hs, "/v", "Accept-Language", "de")
	waitWaiting(t, hs, 2)
	g.Open()
	same, other := <-sameCh, <-otherCh
	assert.Equal(t, "lang=fr", (<-leader).body)
	assert.Equal(t, "lang=fr", same.body)
	assert.True(t, hasParam(same.cs(), "collapsed"), same.cs())
	assert.Equal(t, "lang=de", other.body, "another variant never gets the leader's answer")
	assert.Contains(t, other.cs(), "detail=not-shared")
}

// A fetch that started before a request arrived may answer it only while its answer is
// fresh (RFC 9111 4): an answer that says no-cache, or is stale on arrival (max-age=0),
// must not be reused without validation. The requests waiting on it take the answer of
// the next fetch of the key instead, which starts after they arrived and revalidates the
// entry just stored: one of them leads it, the others wait on it, so the upstream still
// sees one fetch of the key at a time.
func TestWaitersOfAnAnswerNotFreshTakeTheNextFetch(t *testing.T) {
	for _, cc := range []string{"no-cache", "max-age=0"} {
		t.Run(cc, func(t *testing.T) {
			first, second := newGate(), newGate()
			var conditional []string
			hs := newEngHarness(t, heldLeaderConfig(30*time.Second), func(w http.ResponseWriter, r *http.Request) {
				first.Hold(1)
				n := second.Hold(2)
				conditional = append(conditional, r.Header.Get("If-None-Match"))
				w.Header().Set("Cache-Control", cc)
				w.Header().Set("ETag", fmt.Sprintf(`"e%d"`, n))
				fmt.Fprint(w, "v", n)
			})
			leader := goGet(hs, "/nc")
			first.WaitHeld(t)
			waiters := []<-chan engResp{goGet(hs, "/nc"), goGet(hs, "/nc"), goGet(hs, "/nc")}
			waitWaiting(t, hs, 3)
			first.Open()
			second.WaitHeld(t)    // one waiter leads the next fetch...
			waitWaiting(t, hs, 2) // ...and the others wait on it
			second.Open()

			l := <-leader
			assert.Equal(t, "v1", l.body)
			assert.Equal(t, "failsoft; fwd=uri-miss; fwd-status=200; stored", l.cs())
			var led, collapsed int
			for _, ch := range waiters {
				r := <-ch
				assert.Equal(t, "v2", r.body, "a waiter got an answer fetched before it arrived, not fresh")
				switch r.cs() {
				case "failsoft; fwd=stale; fwd-status=200; stored":
					led++
				case "failsoft; fwd=stale; fwd-status=200; collapsed":
					collapsed++
				default:
					t.Errorf("Cache-Status %q", r.cs())
				}
			}
			assert.Equal(t, 1, led)
			assert.Equal(t, 2, collapsed)
			require.EqualValues(t, 2, hs.calls.Load(), "one fetch for all the waiters")
			assert.Equal(t, []string{"", `"e1"`}, conditional, "the next fetch revalidates the entry just stored")
		})
	}
}
