package graceful_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"

	"github.com/failsoft/failsoft/internal/graceful"
)

// Serve runs until its context ends, then returns once in-flight requests are done.
func ExampleServe() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	done := make(chan error, 1)
	go func() {
		done <- graceful.Serve(ctx, ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, "hello")
		}))
	}()

	c := &http.Client{Transport: &http.Transport{}}
	resp, err := c.Get("http://" + ln.Addr().String() + "/")
	if err != nil {
		fmt.Println(err)
		stop()
		<-done
		return
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	c.CloseIdleConnections()
	fmt.Println(resp.StatusCode, string(body))

	stop()
	fmt.Println("serve returned:", <-done)
	// Output:
	// 200 hello
	// serve returned: <nil>
}
