package proxy

import (
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// Concurrent misses of one key make one upstream request; every client gets its answer.
func TestProxyCollapsesConcurrentMisses(t *testing.T) {
	const n = 8
	release := make(chan struct{})
	up := newPxUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		<-release
		w.Header().Set("Cache-Control", "max-age=60")
		_, _ = io.WriteString(w, "shared")
	})
	h := newPxHarness(t, up.srv.URL, nil)
	c := h.srv.Client()
	c.Transport.(*http.Transport).MaxIdleConnsPerHost = n
	bodies := make(chan string, n)
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := c.Get(h.srv.URL + "/hot")
			if err != nil {
				bodies <- err.Error()
				return
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			bodies <- string(b)
		}()
	}
	waitFor(t, func() bool { return h.p.Stats().Waiting == n-1 && up.hits.Load() == 1 })
	close(release)
	wg.Wait()
	close(bodies)
	for b := range bodies {
		require.Equal(t, "shared", b)
	}
	require.EqualValues(t, 1, up.hits.Load())
	require.EqualValues(t, n-1, h.p.Stats().Collapsed)
}

// A request waiting on another's fetch of the same key must not get an answer that was
// not shareable: one built for the leader's credentials, or one that sets a cookie. The
// engine shares only answers the policy accepted, and failures of requests without
// credentials (outcome.sharable); the waiter fetches its own answer.
func TestProxyCollapsedAnswerNotSharedAcrossUsers(t *testing.T) {
	for _, c := range []struct {
		name       string
		leader     []string
		waiter     []string
		setsCookie bool
	}{
		{"cookie", []string{"Cookie", "session=alice"}, []string{"Cookie", "session=bob"}, false},
		{"authorization", []string{"Authorization", "Bearer alice"}, nil, false},
		{"set-cookie", nil, nil, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			g := newGate()
			up := newPxUpstream(t, func(w http.ResponseWriter, r *http.Request) {
				g.Hold(1)
				w.Header().Set("Cache-Control", "max-age=60")
				if c.setsCookie {
					w.Header().Set("Set-Cookie", "session=new-"+strconv.FormatInt(rand.Int64(), 36))
				}
				_, _ = io.WriteString(w, "hello "+r.Header.Get("Cookie")+r.Header.Get("Authorization"))
			})
			h := newPxHarness(t, up.srv.URL, nil)
			lead, wait := leaderAndWaiter(t, h, g, "/me", c.leader, c.waiter)
			require.EqualValues(t, 2, up.hits.Load(), "the waiter fetched its own answer")
			if c.setsCookie {
				require.NotEqual(t, lead.header.Get("Set-Cookie"), wait.header.Get("Set-Cookie"), "the waiter got the leader's cookie")
			} else {
				require.NotEqual(t, lead.body, wait.body, "the waiter got the leader's answer")
			}
		})
	}
}
