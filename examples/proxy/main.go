package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/failsoft/failsoft/cache"
	"github.com/failsoft/failsoft/middleware/httpfallback"
	"github.com/failsoft/failsoft/upstream"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop() // a second signal stops the process at once, without waiting for the drain
	}()
	if err := run(ctx, os.Args[1:], os.Stderr, nil); err != nil {
		fmt.Fprintln(os.Stderr, "proxy:", err)
		os.Exit(1)
	}
}

// options are the command-line flags.
type options struct {
	listen, upstream string
	name             string
	cacheBytes       int64
	fresh, stale     time.Duration
	timeout          time.Duration
	softTimeout      time.Duration
	retries          int
	quiet            bool
}

func parseFlags(args []string) (options, error) {
	var o options
	fs := flag.NewFlagSet("proxy", flag.ContinueOnError)
	fs.StringVar(&o.listen, "listen", "127.0.0.1:8080", "address to listen on")
	fs.StringVar(&o.upstream, "upstream", "", "upstream base URL (required), e.g. http://127.0.0.1:9000")
	fs.Int64Var(&o.cacheBytes, "cache-bytes", 64<<20, "cache size bound in bytes")
	fs.DurationVar(&o.fresh, "fresh", 0, "freshness of responses that state none (0: not fresh, kept for -stale)")
	fs.DurationVar(&o.stale, "stale", time.Hour, "how long a response may be served stale when the upstream fails (stale-if-error default)")
	fs.DurationVar(&o.timeout, "timeout", 2*time.Second, "per-attempt timeout: the upstream's response headers and the first MiB of its body")
	fs.DurationVar(&o.softTimeout, "soft-timeout", httpfallback.DefaultSoftTimeout, "how long a client holding a stale copy waits for the upstream before it gets the copy (the fetch goes on in the background); negative: off")
	fs.IntVar(&o.retries, "retries", 2, "retries for idempotent requests (0: none)")
	fs.StringVar(&o.name, "name", "proxy", "hystrix command namespace (unique per process)")
	fs.BoolVar(&o.quiet, "quiet", false, "log warnings and errors only")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	switch {
	case o.upstream == "":
		return o, errors.New("-upstream is required")
	case o.cacheBytes <= 0:
		return o, errors.New("-cache-bytes must be > 0")
	case o.fresh < 0, o.stale < 0, o.timeout <= 0:
		return o, errors.New("-fresh and -stale must be >= 0, -timeout > 0")
	case o.retries < 0:
		return o, errors.New("-retries must be >= 0")
	}
	return o, nil
}

// newProxy builds the proxy the flags describe.
func newProxy(o options, log *slog.Logger) (*httpfallback.Proxy, error) {
	stale := o.stale
	if stale == 0 {
		stale = -1 // cache.Policy: negative means no stale-if-error window
	}
	return httpfallback.NewProxy(httpfallback.ProxyConfig{
		Upstream: o.upstream,
		Engine: httpfallback.Config{
			Name:     o.name,
			MaxBytes: o.cacheBytes,
			Policy:   cache.Policy{FreshFor: o.fresh, StaleIfError: stale},
			Logger:   log,
			// 0 would mean the default; the flag's 0 means "do not wait at all", which
			// the engine spells as the shortest wait.
			SoftTimeout: softTimeout(o.softTimeout),
			// Command.Timeout left 0: the engine's budget for a fetch defaults to the
			// client's whole one (every attempt and backoff). Set here, it would be the
			// attempt's too, leaving no time for a retry after a timed-out attempt.
		},
		Client: upstream.ClientConfig{
			Command: upstream.Settings{Timeout: o.timeout}, // per attempt
			Retry:   upstream.RetryPolicy{MaxAttempts: o.retries + 1},
			Logger:  log,
		},
	})
}

// softTimeout maps the -soft-timeout flag to Config.SoftTimeout: 0 (answer a client
// holding a stale copy from it at once) becomes the shortest wait, since the engine reads
// 0 as its default.
func softTimeout(d time.Duration) time.Duration {
	if d == 0 {
		return time.Nanosecond
	}
	return d
}

// run serves until ctx ends (main: SIGINT or SIGTERM), then shuts down gracefully. Logs go
// to logw; ready, when not nil, is told the address once the proxy listens.
func run(ctx context.Context, args []string, logw io.Writer, ready func(addr string)) error {
	o, err := parseFlags(args)
	if err != nil {
		return err
	}
	level := slog.LevelInfo
	if o.quiet {
		level = slog.LevelWarn
	}
	log := slog.New(slog.NewTextHandler(logw, &slog.HandlerOptions{Level: level}))

	p, err := newProxy(o, log)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		_ = p.Close()
		return err
	}
	srv := &http.Server{
		Handler:           p,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	log.Info("proxy listening", "listen", ln.Addr().String(), "upstream", o.upstream)
	if ready != nil {
		ready(ln.Addr().String())
	}

	select {
	case err := <-serveErr: // the listener failed
		_ = p.Close()
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down: waiting for in-flight requests")
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	shutdownErr := srv.Shutdown(sctx)
	<-serveErr // http.ErrServerClosed
	// Only after traffic has drained: stop background refreshes, close the cache.
	closeErr := p.Close()
	st := p.Stats()
	log.Info("stopped", "hits", st.Hits, "misses", st.Misses, "stale", st.Stale, "errors", st.Errors)
	return errors.Join(shutdownErr, closeErr)
}
