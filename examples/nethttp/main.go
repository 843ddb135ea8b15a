package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/failsoft/failsoft/middleware/httpfallback"
	"github.com/failsoft/failsoft/upstream"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address")
	timeout := flag.Duration("timeout", upstream.DefaultTimeout, "handler timeout (the route's hystrix command)")
	flag.Parse()
	if err := run(*addr, *timeout); err != nil {
		log.Print(err)
		os.Exit(1)
	}
}

// run listens on addr and serves until SIGINT or SIGTERM, then drains and returns.
func run(addr string, timeout time.Duration) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	log.Printf("example-nethttp listening on http://%s", ln.Addr())
	return serve(ctx, ln, "example-nethttp", timeout)
}

// serve runs the mux on ln until ctx ends, then drains requests and stops the engine.
func serve(ctx context.Context, ln net.Listener, name string, timeout time.Duration) error {
	const route = "GET /quotes/{id}"
	fb, err := httpfallback.New(httpfallback.Config{
		Name:   name, // hystrix command namespace
		Common: upstream.Common{Command: upstream.Settings{Timeout: timeout}},
		Defaults: map[string]*httpfallback.Default{ // keyed by mux pattern
			route: {Header: http.Header{"Content-Type": {"application/json"}}, Body: []byte(`{"quote":"Be patient."}`)},
		},
	})
	if err != nil {
		return err
	}
	defer fb.Close()

	var calls atomic.Int64
	mux := http.NewServeMux()
	mux.Handle(route, fb.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1)%3 == 0 {
			http.Error(w, "quote service down", http.StatusBadGateway)
			return
		}
		w.Header().Set("Cache-Control", "max-age=5, stale-if-error=3600")
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"id":%q,"quote":"Keep answering."}`, r.PathValue("id"))
	})))

	return serveUntil(ctx, ln, mux)
}

// serveUntil serves h on ln until ctx ends, then shuts the server down gracefully: it
// returns once in-flight requests have finished (or 10 s passed). The caller closes the
// fallback engine after it returns, when no request can reach the engine any more.
func serveUntil(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := srv.Shutdown(sctx)
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) {
		return errors.Join(err, serr)
	}
	return err
}
