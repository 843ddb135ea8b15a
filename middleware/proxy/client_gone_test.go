package proxy

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/failsoft/failsoft/internal/hystrixcount"
)

// A client that goes away while a request the proxy passes through (an unsafe method,
// never shared, never stored) waits for its upstream cancels the upstream request, and the
// route's breaker counts it as neither a failure nor a timeout. Both ways a client goes
// away: its context handed to ServeHTTP ends, or it drops its connection to the proxy.
//
// The upstream reads the request body before it waits: a net/http server notices that its
// client closed the connection only once the request body has been read to its end (its
// background read starts there), so a handler that waits on its context without reading
// the body waits forever whatever the proxy does (the proxy closes the connection then:
// see TestProxyClientGoneClosesTheUpstreamConnection).
func TestProxyClientGoneCancelsAPassThrough(t *testing.T) {
	for _, tc := range []struct {
		name, method, body string
		served             bool
	}{
		{"POST with a body", http.MethodPost, "a=1", false},
		{"POST without a body", http.MethodPost, "", false},
		{"PATCH", http.MethodPatch, "a=1", false},
		{"DELETE", http.MethodDelete, "", false},
		{"POST with a body, connection dropped", http.MethodPost, "a=1", true},
		{"POST without a body, connection dropped", http.MethodPost, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			arrived := make(chan struct{}, 1)
			ended := make(chan struct{}, 1)
			stop := make(chan struct{}) // closed when the test ends: a failing test does not hang
			up := newPxUpstream(t, func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body)
				arrived <- struct{}{}
				select {
				case <-r.Context().Done():
					ended <- struct{}{}
				case <-stop:
				}
			})
			name := pxName(t)
			counts := hystrixcount.Register(name + "/") // a route's circuit: name/route#suffix
			h := newPxHarness(t, up.srv.URL, func(c *Config) {
				c.Engine.Name = name
				// Far past the guard below: only the client going away can end the call in time.
				c.Engine.Command.Timeout = time.Minute
				c.Client.Command.Timeout = time.Minute
			})
			t.Cleanup(func() { close(stop) })
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			returned := make(chan struct{})
			go func() {
				defer close(returned)
				var body io.Reader
				if tc.body != "" {
					body = strings.NewReader(tc.body)
				}
				if !tc.served {
					h.p.ServeHTTP(httptest.NewRecorder(), httptest.NewRequestWithContext(ctx, tc.method, "/orders/1", body))
					return
				}
				req, err := http.NewRequestWithContext(ctx, tc.method, h.srv.URL+"/orders/1", body)
				if err != nil {
					panic(err)
				}
				if res, err := h.srv.Client().Do(req); err == nil {
					res.Body.Close()
				}
			}()
			guard := time.After(20 * time.Second) // a failure guard only: the call ends at once
			receive(t, guard, arrived, "the request never reached the upstream")
			cancel()
			receive(t, guard, ended, "the upstream request was not cancelled when the client went away")
			receive(t, guard, returned, "the proxy did not return")
			// hystrix counts asynchronously: wait for the call's count, then look at what it was.
			require.Eventually(t, func() bool { v := counts.Get(); return v.Errors+v.Timeouts+v.Canceled >= 1 }, 10*time.Second, time.Millisecond)
			v := counts.Get()
			errs, timeouts, canceled := v.Errors, v.Timeouts, v.Canceled
			assert.Zero(t, errs, "failures counted")
			assert.Zero(t, timeouts, "timeouts counted")
			assert.Equal(t, 1.0, canceled, "cancellations counted")
		})
	}
}

// A client going away while its POST's upstream has not read the request body: the proxy
// cancels the upstream request, which closes its connection (the upstream sees the end of
// its connection after the body; a net/http handler waiting on its request's context
// without reading the body would never see it end).
func TestProxyClientGoneClosesTheUpstreamConnection(t *testing.T) {
	arrived := make(chan struct{}, 1)
	closed := make(chan error, 1)
	stop, stopped := context.WithCancel(context.Background()) // ended when the test ends: a failing test does not hang
	up := newPxUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		conn, brw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			closed <- err
			return
		}
		defer conn.Close()
		defer context.AfterFunc(stop, func() { _ = conn.SetReadDeadline(time.Now()) })()
		arrived <- struct{}{}
		_, err = io.Copy(io.Discard, brw) // the body, then the connection's end
		closed <- err
	})
	h := newPxHarness(t, up.srv.URL, func(c *Config) {
		c.Engine.Command.Timeout = time.Minute
		c.Client.Command.Timeout = time.Minute
	})
	t.Cleanup(stopped)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	returned := make(chan struct{})
	go func() {
		defer close(returned)
		h.p.ServeHTTP(httptest.NewRecorder(), httptest.NewRequestWithContext(ctx, http.MethodPost, "/orders", strings.NewReader("a=1")))
	}()
	guard := time.After(20 * time.Second) // a failure guard only
	receive(t, guard, arrived, "the request never reached the upstream")
	cancel()
	err := receive(t, guard, closed, "the proxy kept its upstream connection open after its client went away")
	require.NoError(t, err, "the connection ended cleanly (EOF)")
	receive(t, guard, returned, "the proxy did not return")
}

// receive returns what ch yields, or fails the test with msg once guard fires (a failure
// guard, not a timing assertion).
func receive[T any](t *testing.T, guard <-chan time.Time, ch <-chan T, msg string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-guard:
		t.Fatal(msg)
		var zero T
		return zero
	}
}
