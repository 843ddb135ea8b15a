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
	"net/url"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/failsoft/failsoft/cache"
	"github.com/failsoft/failsoft/middleware/httpfallback"
	"github.com/failsoft/failsoft/middleware/proxy"
	"github.com/failsoft/failsoft/upstream"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop() // a second signal stops the process at once, without waiting for the drain
	}()
	os.Exit(cli(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// cli runs the proxy and returns the exit status: 0 when it stopped cleanly or -h asked for
// help (printed on stdout), 2 for a bad command line (the error once, with the usage line),
// 1 for any other error.
func cli(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	err := run(ctx, args, stderr, nil)
	var ue *usageError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprintln(stdout, usageLine)
		fs, _ := newFlagSet()
		fs.SetOutput(stdout)
		fs.PrintDefaults()
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "proxy: %v\n%s\n", ue.err, usageLine)
		return 2
	}
	fmt.Fprintln(stderr, "proxy:", err)
	return 1
}

const usageLine = "usage: proxy -upstream URL [-listen ADDR] [-admin ADDR] [flags]   (proxy -h lists the flags)"

// usageError is a bad command line.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// options are the command-line flags.
type options struct {
	listen, upstream string
	name             string
	cacheBytes       int64
	fresh, stale     time.Duration
	timeout          time.Duration
	softTimeout      time.Duration
	retries          int
	segmentRoutes    int
	maskErrors       bool
	quiet            bool
	admin            string
	adminToken       string
	adminPublic      bool
}

// Bounds of the flags.
const (
	minCacheBytes    = 64 << 10
	maxCacheBytes    = 1 << 40
	maxRetries       = 10
	maxSegmentRoutes = 1024
	maxTimeout       = 5 * time.Minute
	maxSoft          = time.Minute
	maxWindow        = 365 * 24 * time.Hour
)

// newFlagSet defines the flags; the options are filled by Parse.
func newFlagSet() (*flag.FlagSet, *options) {
	var o options
	fs := flag.NewFlagSet("proxy", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are reported once, by cli
	fs.StringVar(&o.listen, "listen", "127.0.0.1:8080", "address to listen on")
	fs.StringVar(&o.upstream, "upstream", "", "upstream base URL (required), e.g. http://127.0.0.1:9000")
	fs.Int64Var(&o.cacheBytes, "cache-bytes", 64<<20, "cache size bound in bytes (64 KiB to 1 TiB)")
	fs.DurationVar(&o.fresh, "fresh", 0, "freshness of responses that state none (0: not fresh, kept for -stale; at most 8760h)")
	fs.DurationVar(&o.stale, "stale", time.Hour, "how long a response may be served stale when the upstream fails (stale-if-error default; 0 to 8760h)")
	fs.DurationVar(&o.timeout, "timeout", 2*time.Second, "per-attempt timeout: the upstream's response headers and the first MiB of its body (over 0, at most 5m)")
	fs.DurationVar(&o.softTimeout, "soft-timeout", httpfallback.DefaultSoftTimeout, "how long a client holding a stale copy waits for the upstream before it gets the copy (the fetch goes on in the background); negative: off; at most 1m")
	fs.IntVar(&o.retries, "retries", upstream.DefaultMaxAttempts-1, "retries for idempotent requests (0 to 10)")
	fs.IntVar(&o.segmentRoutes, "segment-routes", proxy.DefaultSegmentRoutes, "breakers per first path segment (/users, /orders, ...); later segments share one; 0 or negative: one breaker for the whole upstream")
	fs.BoolVar(&o.maskErrors, "mask-errors", false, "answer the upstream's failing answers (its headers, a stack trace) with failsoft's problem+json when nothing stale or default exists")
	fs.StringVar(&o.name, "name", "proxy", "hystrix command namespace (routes run as name/route)")
	fs.BoolVar(&o.quiet, "quiet", false, "log warnings and errors only")
	fs.StringVar(&o.admin, "admin", "", "address of the admin endpoints (/metrics, /healthz, /readyz, /stats, DELETE /cache), e.g. 127.0.0.1:9091; off when empty; loopback only unless -admin-public")
	fs.StringVar(&o.adminToken, "admin-token", "", "when set, the admin endpoints require Authorization: Bearer <token>")
	fs.BoolVar(&o.adminPublic, "admin-public", false, "allow a non-loopback -admin address")
	return fs, &o
}

func parseFlags(args []string) (options, error) {
	fs, o := newFlagSet()
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return *o, err
		}
		return *o, &usageError{err}
	}
	if err := o.check(fs.Args()); err != nil {
		return *o, &usageError{err}
	}
	return *o, nil
}

// check validates the options; each error names its flag.
func (o *options) check(rest []string) error {
	switch {
	case len(rest) > 0:
		return fmt.Errorf("unexpected argument %q (flags only)", rest[0])
	case o.upstream == "":
		return errors.New("-upstream is required")
	case !validUpstream(o.upstream):
		return fmt.Errorf("-upstream must be an http or https URL with a host, got %q", o.upstream)
	case o.listen == "":
		return errors.New("-listen must not be empty")
	case o.name == "":
		return errors.New("-name must not be empty")
	case o.cacheBytes < minCacheBytes || o.cacheBytes > maxCacheBytes:
		return fmt.Errorf("-cache-bytes must be between %d and %d, got %d", minCacheBytes, int64(maxCacheBytes), o.cacheBytes)
	case o.fresh < 0 || o.fresh > maxWindow:
		return fmt.Errorf("-fresh must be between 0 and %v, got %v", maxWindow, o.fresh)
	case o.stale < 0 || o.stale > maxWindow:
		return fmt.Errorf("-stale must be between 0 and %v, got %v", maxWindow, o.stale)
	case o.timeout <= 0 || o.timeout > maxTimeout:
		return fmt.Errorf("-timeout must be over 0 and at most %v, got %v", maxTimeout, o.timeout)
	case o.softTimeout > maxSoft:
		return fmt.Errorf("-soft-timeout must be at most %v (negative: off), got %v", maxSoft, o.softTimeout)
	case o.retries < 0 || o.retries > maxRetries:
		return fmt.Errorf("-retries must be between 0 and %d, got %d", maxRetries, o.retries)
	case o.segmentRoutes > maxSegmentRoutes:
		return fmt.Errorf("-segment-routes must be at most %d (each is a breaker for the process's life), got %d", maxSegmentRoutes, o.segmentRoutes)
	case o.admin == "" && (o.adminToken != "" || o.adminPublic):
		return errors.New("-admin-token and -admin-public need -admin")
	case o.admin != "":
		return checkAdminAddr(o.admin, o.adminPublic)
	}
	return nil
}

// validUpstream reports whether raw looks like an upstream base URL (proxy.New checks the
// rest and names it).
func validUpstream(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// newProxy builds the proxy the flags describe.
func newProxy(o options, log *slog.Logger) (*proxy.Proxy, error) {
	stale := o.stale
	if stale == 0 {
		stale = -1 // cache.Policy: negative means no stale-if-error window
	}
	segs := o.segmentRoutes
	if segs == 0 {
		segs = -1 // the flag's 0 means one breaker; proxy.Config reads 0 as its default
	}
	return proxy.New(proxy.Config{
		Upstream:      o.upstream,
		SegmentRoutes: segs,
		MaskErrors:    o.maskErrors,
		Engine: httpfallback.Config{
			Name:     o.name,
			MaxBytes: o.cacheBytes,
			Policy:   cache.Policy{FreshFor: o.fresh, StaleIfError: stale},
			Common:   upstream.Common{Logger: log},
			// 0 would mean the default; the flag's 0 means "do not wait at all", which
			// the engine spells as the shortest wait.
			SoftTimeout: softTimeout(o.softTimeout),
			// Command.Timeout left 0: the engine's budget for a fetch defaults to the
			// client's whole one (every attempt and backoff). Set here, it would be the
			// attempt's too, leaving no time for a retry after a timed-out attempt.
		},
		Client: upstream.ClientConfig{
			Common: upstream.Common{
				Command: upstream.Settings{Timeout: o.timeout}, // per attempt
				Logger:  log,
			},
			Retry: upstream.RetryPolicy{MaxAttempts: o.retries + 1},
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

// run serves until ctx ends (main: SIGINT or SIGTERM), then shuts down gracefully: /readyz
// answers 503 from the start of the drain, in-flight requests finish, then background
// refreshes stop and the cache is closed. Logs go to logw; ready, when not nil, is told the
// proxy's address and the admin endpoints' ("" when off) once they listen.
func run(ctx context.Context, args []string, logw io.Writer, ready func(addr, admin string)) error {
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
		return fmt.Errorf("-listen: %w", err)
	}
	var adminLn net.Listener
	if o.admin != "" {
		if adminLn, err = net.Listen("tcp", o.admin); err != nil {
			_ = ln.Close()
			_ = p.Close()
			return fmt.Errorf("-admin: %w", err)
		}
	}
	errLog := slog.NewLogLogger(log.Handler(), slog.LevelWarn)
	srv := &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second, ErrorLog: errLog}
	serveErr := make(chan error, 2)
	go func() { serveErr <- srv.Serve(ln) }()
	var draining atomic.Bool
	var admin *http.Server
	adminAddr := ""
	if adminLn != nil {
		admin = &http.Server{Handler: adminHandler(p, o.adminToken, &draining), ReadHeaderTimeout: 10 * time.Second, ErrorLog: errLog}
		go func() { serveErr <- admin.Serve(adminLn) }()
		adminAddr = adminLn.Addr().String()
		log.Info("admin endpoints listening", "admin", adminAddr, "token", o.adminToken != "")
	}
	log.Info("proxy listening", "listen", ln.Addr().String(), "upstream", o.upstream)
	if ready != nil {
		ready(ln.Addr().String(), adminAddr)
	}

	var failed error
	select {
	case failed = <-serveErr: // a listener failed
	case <-ctx.Done():
	}
	draining.Store(true)
	log.Info("shutting down: waiting for in-flight requests")
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	shutdownErr := srv.Shutdown(sctx)
	// Only after traffic has drained: stop background refreshes, close the cache.
	closeErr := p.Close()
	st := p.Stats()
	log.Info("stopped", "hits", st.Hits, "misses", st.Misses, "stale", st.Stale, "errors", st.Errors)
	var adminErr error
	if admin != nil {
		adminErr = admin.Shutdown(sctx)
	}
	if errors.Is(failed, http.ErrServerClosed) {
		failed = nil
	}
	return errors.Join(failed, shutdownErr, closeErr, adminErr)
}
