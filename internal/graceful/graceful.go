package graceful

import (
	"context"
	"errors"
	"flag"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// DrainTimeout bounds how long Serve waits for in-flight requests after ctx ends.
const DrainTimeout = 10 * time.Second

// Serve serves h on ln until ctx ends, then shuts the server down gracefully: it returns
// once in-flight requests have finished (or DrainTimeout passed, with the Shutdown error).
// It returns the listener's error if serving fails before ctx ends. ln is closed either way.
func Serve(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), DrainTimeout)
	defer cancel()
	err := srv.Shutdown(sctx)
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) {
		return errors.Join(err, serr)
	}
	return err
}

// ServeFunc is an example program's body: it serves on ln, with hystrix command namespace
// name and handler timeout timeout, until ctx ends, then drains and returns.
type ServeFunc func(ctx context.Context, ln net.Listener, name string, timeout time.Duration) error

// Main is an example program's main: it parses -addr and -timeout, listens, and runs serve
// until SIGINT or SIGTERM; it exits with status 1 when serve fails.
func Main(name string, serve ServeFunc) {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address")
	timeout := flag.Duration("timeout", time.Second, "handler timeout (the route's hystrix command)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ln, err := net.Listen("tcp", *addr)
	if err == nil {
		log.Printf("%s listening on http://%s", name, ln.Addr())
		err = serve(ctx, ln, name, *timeout)
	}
	if err != nil {
		log.Print(err)
		stop()
		os.Exit(1)
	}
}
