package upstream

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// OnHeaders is called once per attempt, with the request sent and the status, as soon as
// the headers are in: before the body is read ahead (BufferBody), which here waits for
// the test to see the call.
func TestClientOnHeadersBeforeTheReadAhead(t *testing.T) {
	release := make(chan struct{})
	open := sync.OnceFunc(func() { close(release) })
	defer open() // a failing test does not hang
	var mu sync.Mutex
	var statuses []int
	var seen *http.Request
	headers := make(chan struct{}, 2)
	var calls atomic.Int64
	f := newFixture(t, ClientConfig{
		Common:     Common{Command: Settings{Timeout: time.Minute}},
		Retry:      RetryPolicy{MaxAttempts: 2},
		BufferBody: 1 << 10,
		OnHeaders: func(req *http.Request, status int) {
			mu.Lock()
			statuses, seen = append(statuses, status), req
			mu.Unlock()
			headers <- struct{}{}
		},
	}, func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, "first,")
		w.(http.Flusher).Flush()
		<-release // the rest of the body waits for OnHeaders to have been called
		_, _ = io.WriteString(w, "second")
	})
	req := f.req(t, http.MethodGet, nil)
	got := make(chan string, 1)
	go func() {
		resp, err := f.c.Do(req)
		if err != nil {
			got <- err.Error()
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		got <- string(b)
	}()
	guard := time.After(20 * time.Second) // a failure guard only
	for range 2 {
		select {
		case <-headers:
		case <-guard:
			t.Fatal("OnHeaders was not called before the body was read")
		}
	}
	open()
	assert.Equal(t, "first,second", <-got)
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, []int{http.StatusServiceUnavailable, http.StatusOK}, statuses)
	assert.Same(t, req, seen, "the request given to Do")
}

// WithRetryDeadline: no retry wait that would pass it (the last answer stands), while the
// attempts are not bounded by it.
func TestClientWithRetryDeadline(t *testing.T) {
	f := newFixture(t, ClientConfig{
		Common: Common{Command: Settings{Timeout: time.Minute}},
		Retry:  RetryPolicy{MaxAttempts: 3, MaxRetryAfter: time.Hour},
	}, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "60")
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	ctx := WithRetryDeadline(context.Background(), time.Now().Add(30*time.Second))
	_, ok := ctx.Deadline()
	require.False(t, ok, "not a deadline")
	_, err := f.c.Do(f.req(t, http.MethodGet, nil).WithContext(ctx))
	require.Equal(t, http.StatusServiceUnavailable, statusOf(err))
	assert.EqualValues(t, 1, f.hits.Load(), "the 60s wait would pass the retry deadline")
	assert.Empty(t, f.sleeps.all())

	ctx = WithRetryDeadline(context.Background(), time.Now().Add(2*time.Minute))
	_, err = f.c.Do(f.req(t, http.MethodGet, nil).WithContext(ctx))
	require.Equal(t, http.StatusServiceUnavailable, statusOf(err))
	assert.EqualValues(t, 4, f.hits.Load(), "waits within the retry deadline are taken")
}

// statusOf is the status of err's *StatusError, 0 without one.
func statusOf(err error) int {
	if se, ok := errors.AsType[*StatusError](err); ok {
		return se.StatusCode
	}
	return 0
}
