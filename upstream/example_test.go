package upstream_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/failsoft/failsoft/upstream"
)

func ExampleRunner_Run() {
	r, err := upstream.NewRunner(upstream.Settings{Name: "inventory", Timeout: 250 * time.Millisecond})
	if err != nil {
		panic(err)
	}
	defer r.Close()

	err = r.Run(context.Background(), func(ctx context.Context) error {
		return nil // call the upstream with ctx here
	})
	fmt.Println("ok:", err)

	err = r.Run(context.Background(), func(ctx context.Context) error {
		<-ctx.Done() // a hanging upstream: ctx ends at the timeout
		return ctx.Err()
	})
	fmt.Println(errors.Is(err, upstream.ErrTimeout), upstream.Reason(err))

	notFound := errors.New("404")
	err = r.Run(context.Background(), func(ctx context.Context) error {
		return upstream.Answered(notFound) // an answer, not a failure of the upstream
	})
	fmt.Println(err)
	fmt.Println(r.State())
	// Output:
	// ok: <nil>
	// true timeout
	// 404
	// closed
}

func ExampleRunner_Admit() {
	r, err := upstream.NewRunner(upstream.Settings{Name: "handler", Timeout: time.Second})
	if err != nil {
		panic(err)
	}
	defer r.Close()

	ctx, done, err := r.Admit(context.Background())
	if err != nil {
		fmt.Println("rejected:", upstream.Reason(err))
		return
	}
	_ = ctx // run the work on this goroutine with ctx
	fmt.Println(done(nil))
	// Output: <nil>
}

func ExampleClient_Do() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "hello")
	}))
	defer srv.Close()

	c, err := upstream.NewClient(upstream.ClientConfig{
		Common: upstream.Common{Command: upstream.Settings{Name: "greeter", Timeout: time.Second}},
		Retry:  upstream.RetryPolicy{MaxAttempts: 3},
		Credential: func(context.Context) (string, string, error) {
			return "Authorization", "Bearer token", nil
		},
	})
	if err != nil {
		panic(err)
	}
	defer c.Close()

	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	resp, err := c.Do(req)
	if err != nil {
		fmt.Println("failed:", upstream.Reason(err))
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body) // readable after Do returned
	fmt.Println(resp.StatusCode, string(body))
	// Output: 200 hello
}

func ExampleClient_RoundTrip() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()

	c, err := upstream.NewClient(upstream.ClientConfig{
		Common: upstream.Common{Command: upstream.Settings{Name: "proxy"}},
		Retry:  upstream.RetryPolicy{MaxAttempts: 1},
	})
	if err != nil {
		panic(err)
	}
	defer c.Close()

	hc := &http.Client{Transport: c} // or httputil.ReverseProxy{Transport: c}
	resp, err := hc.Get(srv.URL)
	if err != nil {
		panic(err)
	}
	resp.Body.Close()
	fmt.Println(resp.StatusCode)
	// Output: 503
}

func ExampleParseRetryAfter() {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	fmt.Println(upstream.ParseRetryAfter("120", now))
	fmt.Println(upstream.ParseRetryAfter("Fri, 27 Nov 2026 12:00:30 GMT", now))
	fmt.Println(upstream.ParseRetryAfter("later", now))
	// Output:
	// 2m0s true
	// 30s true
	// 0s false
}

func ExampleReason() {
	fmt.Println(upstream.Reason(upstream.ErrCircuitOpen))
	fmt.Println(upstream.Reason(fmt.Errorf("fetch: %w", upstream.ErrOverloaded)))
	fmt.Println(upstream.Reason(&upstream.StatusError{StatusCode: 502}))
	fmt.Println(upstream.Reason(context.Canceled))
	fmt.Println(upstream.Reason(io.ErrUnexpectedEOF))
	// Output:
	// circuit-open
	// overloaded
	// upstream-5xx
	// canceled
	// invalid-response
}
