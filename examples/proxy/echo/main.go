package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/failsoft/failsoft/middleware/httpfallback"
	"github.com/failsoft/failsoft/middleware/proxy"
	"github.com/failsoft/failsoft/upstream"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:8080", "address to listen on")
	target := flag.String("upstream", "", "upstream base URL (required)")
	flag.Parse()
	if err := run(*listen, *target); err != nil {
		fmt.Fprintln(os.Stderr, "echo proxy:", err)
		os.Exit(1)
	}
}

// newApp returns the Echo app with the proxy mounted under /api/ (the prefix is stripped:
// /api/users goes to <upstream>/users).
func newApp(p *proxy.Proxy) *echo.Echo {
	e := echo.New()
	e.HideBanner = true
	e.GET("/healthz", func(c echo.Context) error { return c.String(http.StatusOK, "ok") })
	e.Any("/api/*", echo.WrapHandler(http.StripPrefix("/api", p)))
	return e
}

func run(listen, target string) error {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	p, err := proxy.New(proxy.Config{
		Upstream: target,
		Engine:   httpfallback.Config{Name: "echo-proxy", Common: upstream.Common{Logger: log}},
		Client:   upstream.ClientConfig{Common: upstream.Common{Command: upstream.Settings{Timeout: 2 * time.Second}}},
	})
	if err != nil {
		return err
	}
	e := newApp(p)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	serveErr := make(chan error, 1)
	go func() { serveErr <- e.Start(listen) }()
	select {
	case err := <-serveErr:
		_ = p.Close()
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = e.Shutdown(sctx)
	if serr := <-serveErr; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	return errors.Join(err, p.Close()) // after traffic has drained
}
