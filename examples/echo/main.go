package main

import (
	"context"
	"errors"
	"flag"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/failsoft/failsoft/middleware/echofallback"
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
	log.Printf("example-echo listening on http://%s", ln.Addr())
	return serve(ctx, ln, "example-echo", timeout)
}

// serve runs the app on ln until ctx ends, then drains requests and stops the middleware.
func serve(ctx context.Context, ln net.Listener, name string, timeout time.Duration) error {
	fb, err := echofallback.New(echofallback.Config{Engine: httpfallback.Config{
		Name:   name, // hystrix command namespace
		Common: upstream.Common{Command: upstream.Settings{Timeout: timeout}},
		Defaults: map[string]*httpfallback.Default{ // keyed by Echo route template
			"/quotes/:id": {Header: http.Header{"Content-Type": {"application/json"}}, Body: []byte(`{"quote":"Be patient."}`)},
		},
	}})
	if err != nil {
		return err
	}
	defer fb.Close()

	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.Use(middleware.Recover(), fb.MiddlewareFunc())
	var calls atomic.Int64
	e.GET("/quotes/:id", func(c echo.Context) error {
		if calls.Add(1)%3 == 0 {
			return echo.NewHTTPError(http.StatusBadGateway, "quote service down")
		}
		c.Response().Header().Set("Cache-Control", "max-age=5, stale-if-error=3600")
		return c.JSON(http.StatusOK, map[string]string{"id": c.Param("id"), "quote": "Keep answering."})
	})

	return serveUntil(ctx, ln, e)
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
