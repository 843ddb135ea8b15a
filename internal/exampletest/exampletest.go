package exampletest

import (
	"context"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/failsoft/failsoft/internal/graceful"
)

// QuoteScenario runs serve on loopback and checks the story the examples tell: good
// answers are stored and then served as fresh hits without the handler; the third call
// of the quote service fails and, with nothing stored for that id, the route's default
// payload answers; ending the context (SIGINT in main) makes serve return nil.
func QuoteScenario(t *testing.T, serve graceful.ServeFunc) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	name := t.Name() + "-" + strconv.FormatUint(rand.Uint64(), 36)
	go func() { done <- serve(ctx, ln, name, 5*time.Second) }()

	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	get := func(path string) (int, string, string) {
		t.Helper()
		resp, err := client.Get("http://" + ln.Addr().String() + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, string(b), resp.Header.Get("Cache-Status")
	}
	expect := func(path, wantBody, wantStatus string) {
		t.Helper()
		code, body, cs := get(path)
		if code != http.StatusOK || !strings.Contains(body, wantBody) || !strings.Contains(cs, wantStatus) {
			t.Fatalf("GET %s: %d %q Cache-Status %q; want 200, body with %q, Cache-Status with %q",
				path, code, body, cs, wantBody, wantStatus)
		}
	}
	expect("/quotes/1", `"id":"1"`, "stored")
	expect("/quotes/1", `"id":"1"`, "hit") // fresh: the handler does not run
	expect("/quotes/2", `"id":"2"`, "stored")
	expect("/quotes/3", `Be patient.`, "default") // third call of the service fails
	expect("/quotes/2", `"id":"2"`, "hit")

	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve after the context ended: %v", err)
	}
}
