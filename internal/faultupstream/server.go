package faultupstream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

const (
	defaultBodyBytes = 256
	defaultPoll      = 5 * time.Millisecond
)

// ErrClosed is returned by Set and Tick after Close.
var ErrClosed = errors.New("faultupstream: server closed")

// Config configures a Server. Every zero value is a documented default.
type Config struct {
	// Addr to listen on; "": 127.0.0.1 on a free port. Loopback addresses only.
	Addr string
	// BodyBytes is the approximate size of each body; 0: 256.
	BodyBytes int
	// Header is added to every complete answer (for example Cache-Control); nil: none.
	Header http.Header
	// Now is the clock for Flapping and LastServed; nil: time.Now.
	Now func() time.Time
	// RecordServed keeps, per path, when its body was last sent complete (see LastServed);
	// off by default because the record grows with the number of distinct paths.
	RecordServed bool
	// Poll is how often, while Flapping, an owned goroutine reads Now and applies the
	// phase; 0: 5ms; negative: never (call Tick after moving a fake clock).
	Poll time.Duration
}

type served struct {
	version int
	at      time.Time
}

// Server is the fault-injecting upstream. Its methods are safe for concurrent use.
type Server struct {
	cfg  Config
	addr string
	srv  *http.Server
	done chan struct{}
	wg   sync.WaitGroup // serve loops, the flapping poller, handlers

	requests atomic.Int64

	mu        sync.Mutex
	closed    bool
	fault     Fault
	flapStart time.Time
	stopPoll  chan struct{}
	ln        net.Listener // nil while down
	conns     map[net.Conn]struct{}
	version   int
	errN      uint64
	rng       *rand.Rand
	served    map[string]served
}

// New starts a healthy Server.
func New(cfg Config) (*Server, error) {
	if cfg.BodyBytes < 0 {
		return nil, fmt.Errorf("faultupstream: Config.BodyBytes %d < 0", cfg.BodyBytes)
	}
	if cfg.BodyBytes == 0 {
		cfg.BodyBytes = defaultBodyBytes
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Poll == 0 {
		cfg.Poll = defaultPoll
	}
	addr := cfg.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("faultupstream: Config.Addr: %w", err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("faultupstream: Config.Addr %q is not a loopback address", cfg.Addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("faultupstream: listen: %w", err)
	}
	s := &Server{
		cfg:    cfg,
		addr:   ln.Addr().String(),
		done:   make(chan struct{}),
		conns:  make(map[net.Conn]struct{}),
		served: make(map[string]served),
		fault:  Healthy(),
	}
	s.srv = &http.Server{
		Handler:           http.HandlerFunc(s.serveHTTP),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          log.New(io.Discard, "", 0),
		ConnState:         s.connState,
	}
	s.mu.Lock()
	s.startLocked(ln)
	s.mu.Unlock()
	return s, nil
}

// URL is the base URL, for example http://127.0.0.1:41234. It stays the same through
// outages.
func (s *Server) URL() string { return "http://" + s.addr }

// Addr is the host:port the Server listens on.
func (s *Server) Addr() string { return s.addr }

// Requests counts the requests that reached the Server (refused connections do not).
func (s *Server) Requests() int64 { return s.requests.Load() }

// Fault is the behaviour in force.
func (s *Server) Fault() Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fault
}

// SetVersion changes the version that every body carries from now on.
func (s *Server) SetVersion(v int) {
	s.mu.Lock()
	s.version = v
	s.mu.Unlock()
}

// LastServed reports the version and the time (Config.Now) of the last complete body sent
// for path; ok is false when none was or Config.RecordServed is off.
func (s *Server) LastServed(path string) (version int, at time.Time, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sv, ok := s.served[path]
	return sv.version, sv.at, ok
}

// Set switches to f. Leaving an outage listens again on the same port; the error says
// when that failed (the Server then stays down until a later Set or Tick succeeds).
func (s *Server) Set(f Fault) error {
	if err := f.validate(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if s.stopPoll != nil {
		close(s.stopPoll)
		s.stopPoll = nil
	}
	s.fault = f
	s.errN = 0
	s.rng = nil
	if f.Mode == ModeErrors && f.Seed != 0 {
		s.rng = rand.New(rand.NewPCG(f.Seed, f.Seed^0x9e3779b97f4a7c15))
	}
	switch f.Mode {
	case ModeOutage:
		s.downLocked()
		return nil
	case ModeFlapping:
		s.flapStart = s.cfg.Now()
		if s.cfg.Poll > 0 {
			s.stopPoll = make(chan struct{})
			s.wg.Add(1)
			go s.poll(s.stopPoll)
		}
	}
	return s.upLocked()
}

// Tick applies the Flapping phase for the current time of Config.Now. It does nothing in
// other modes.
func (s *Server) Tick() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if s.fault.Mode != ModeFlapping {
		return nil
	}
	if s.flapDownLocked() {
		s.downLocked()
		return nil
	}
	return s.upLocked()
}

// Down reports whether the listener is closed (Outage, or the down phase of Flapping).
func (s *Server) Down() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ln == nil
}

// Close stops the listener, drops every connection, releases blackholed and trickling
// requests, and waits for every goroutine the Server started. Safe to call twice.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.done)
	if s.stopPoll != nil {
		close(s.stopPoll)
		s.stopPoll = nil
	}
	s.ln = nil // srv.Close closes it and every connection
	s.mu.Unlock()
	err := s.srv.Close()
	s.wg.Wait()
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}

func (s *Server) poll(stop <-chan struct{}) {
	defer s.wg.Done()
	t := time.NewTicker(s.cfg.Poll)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			_ = s.Tick() // a failed re-listen is retried at the next tick
		}
	}
}

func (s *Server) flapDownLocked() bool {
	phase := s.cfg.Now().Sub(s.flapStart) / s.fault.Period
	return phase%2 == 1
}

func (s *Server) startLocked(ln net.Listener) {
	s.ln = ln
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		_ = s.srv.Serve(ln) // returns when the listener is closed
	}()
}

func (s *Server) upLocked() error {
	if s.ln != nil {
		return nil
	}
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		return fmt.Errorf("faultupstream: listen again on %s: %w", s.addr, err)
	}
	s.startLocked(ln)
	return nil
}

func (s *Server) downLocked() {
	if s.ln != nil {
		_ = s.ln.Close()
		s.ln = nil
	}
	for c := range s.conns {
		_ = c.Close()
		delete(s.conns, c)
	}
}

func (s *Server) connState(c net.Conn, st http.ConnState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch st {
	case http.StateNew:
		if s.ln == nil { // accepted just before the listener closed
			_ = c.Close()
			return
		}
		s.conns[c] = struct{}{}
	case http.StateClosed, http.StateHijacked:
		delete(s.conns, c)
	}
}

// admit registers a handler with the wait group unless the Server is closed, and returns
// the fault, the version and whether this request is one that fails (ModeErrors).
func (s *Server) admit() (f Fault, version int, fail, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return f, 0, false, false
	}
	s.wg.Add(1)
	f = s.fault
	if f.Mode == ModeFlapping {
		if s.flapDownLocked() {
			s.downLocked()
			f = Outage()
		} else {
			f = Healthy()
		}
	}
	if f.Mode == ModeErrors {
		if s.rng != nil {
			fail = s.rng.Float64() < f.Fraction
		} else {
			n := float64(s.errN)
			fail = math.Floor((n+1)*f.Fraction) > math.Floor(n*f.Fraction)
			s.errN++
		}
	}
	return f, s.version, fail, true
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	f, version, fail, ok := s.admit()
	if !ok {
		panic(http.ErrAbortHandler)
	}
	defer s.wg.Done()
	s.requests.Add(1)
	ctx := r.Context()
	path := r.URL.Path
	switch f.Mode {
	case ModeOutage: // raced with the listener closing: drop the connection
		panic(http.ErrAbortHandler)
	case ModeBlackhole:
		select {
		case <-ctx.Done():
		case <-s.done:
		}
		panic(http.ErrAbortHandler)
	case ModeLatency:
		if !s.wait(ctx, f.Delay) {
			panic(http.ErrAbortHandler)
		}
	case ModeErrors:
		if fail {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(f.Status)
			_, _ = io.WriteString(w, `{"error":"injected"}`)
			return
		}
	}
	body := Body(path, version, s.cfg.BodyBytes)
	h := w.Header()
	for k, v := range s.cfg.Header {
		h[k] = append([]string(nil), v...)
	}
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	switch f.Mode {
	case ModeTruncated:
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(body[:len(body)/2])
		_ = http.NewResponseController(w).Flush()
		panic(http.ErrAbortHandler)
	case ModeSlowBody:
		w.WriteHeader(http.StatusOK)
		rc := http.NewResponseController(w)
		_ = rc.Flush()
		for off := 0; off < len(body); off += f.Chunk {
			if off > 0 && !s.wait(ctx, f.Delay) {
				panic(http.ErrAbortHandler)
			}
			end := min(off+f.Chunk, len(body))
			if _, err := w.Write(body[off:end]); err != nil {
				return
			}
			if err := rc.Flush(); err != nil {
				return
			}
		}
	default:
		if _, err := w.Write(body); err != nil {
			return
		}
	}
	if s.cfg.RecordServed {
		s.mu.Lock()
		s.served[path] = served{version: version, at: s.cfg.Now()}
		s.mu.Unlock()
	}
}

// wait waits d, and reports false when the request or the Server ended first.
func (s *Server) wait(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	case <-s.done:
		return false
	}
}
