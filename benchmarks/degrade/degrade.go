package degrade

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/failsoft/failsoft/internal/faultupstream"
)

// Config is the workload and the resilience settings every peer gets. Zero values are
// replaced by Full's values.
type Config struct {
	Cell     time.Duration // how long the workload runs per mode and peer
	Workers  int           // concurrent clients
	Interval time.Duration // each client sends at most one request per Interval
	Keys     int           // distinct paths
	Warm     int           // the first Warm keys are fetched once, healthy, before the fault

	Attempt     time.Duration // per-attempt timeout
	Deadline    time.Duration // whole-request deadline (all attempts and backoff)
	Retries     int           // retries after the first attempt, for peers that retry
	BackoffBase time.Duration // first backoff
	BackoffMax  time.Duration // backoff cap

	BreakerVolume  int           // requests in the window before the breaker may open
	BreakerPercent int           // error percentage that opens it
	BreakerSleep   time.Duration // how long it stays open before a probe

	FreshFor      time.Duration // upstream Cache-Control max-age
	StaleIfError  time.Duration // upstream Cache-Control stale-if-error
	VersionEvery  time.Duration // the upstream's data changes this often (for the age of data)
	Latency       time.Duration // the latency mode's delay
	Slow          time.Duration // the slow mode's delay (it answers, after this)
	FlapPeriod    time.Duration // flapping: length of each up and down phase
	SlowChunk     int           // slow body: bytes per write
	SlowEvery     time.Duration // slow body: delay between writes
	ErrorFraction float64       // errors mode: share of 503s

	Modes []string // nil: every mode, in ModeNames order
	Peers []string // nil: every peer, in PeerNames order
	RunID string   // part of every hystrix command name; "": the start time
	Log   io.Writer
}

// Full is the configuration of the committed run (about 4.5 minutes).
func Full() Config {
	return Config{
		Cell: 4 * time.Second, Workers: 8, Interval: 20 * time.Millisecond, Keys: 20, Warm: 15,
		Attempt: 250 * time.Millisecond, Deadline: time.Second, Retries: 1,
		BackoffBase: 20 * time.Millisecond, BackoffMax: 100 * time.Millisecond,
		BreakerVolume: 10, BreakerPercent: 50, BreakerSleep: time.Second,
		FreshFor: time.Second, StaleIfError: 10 * time.Minute, VersionEvery: 100 * time.Millisecond,
		Latency: 300 * time.Millisecond, Slow: 2 * time.Second, FlapPeriod: 500 * time.Millisecond,
		SlowChunk: 16, SlowEvery: 50 * time.Millisecond, ErrorFraction: 0.5,
	}
}

// Quick is Full with short cells (under a minute in all).
func Quick() Config {
	c := Full()
	c.Cell = 700 * time.Millisecond
	c.FlapPeriod = 200 * time.Millisecond
	return c
}

func (c Config) withDefaults() Config {
	f := Full()
	setDur := func(p *time.Duration, d time.Duration) {
		if *p == 0 {
			*p = d
		}
	}
	setInt := func(p *int, d int) {
		if *p == 0 {
			*p = d
		}
	}
	setDur(&c.Cell, f.Cell)
	setInt(&c.Workers, f.Workers)
	setDur(&c.Interval, f.Interval)
	setInt(&c.Keys, f.Keys)
	setInt(&c.Warm, f.Warm)
	setDur(&c.Attempt, f.Attempt)
	setDur(&c.Deadline, f.Deadline)
	setInt(&c.Retries, f.Retries)
	setDur(&c.BackoffBase, f.BackoffBase)
	setDur(&c.BackoffMax, f.BackoffMax)
	setInt(&c.BreakerVolume, f.BreakerVolume)
	setInt(&c.BreakerPercent, f.BreakerPercent)
	setDur(&c.BreakerSleep, f.BreakerSleep)
	setDur(&c.FreshFor, f.FreshFor)
	setDur(&c.StaleIfError, f.StaleIfError)
	setDur(&c.VersionEvery, f.VersionEvery)
	setDur(&c.Latency, f.Latency)
	setDur(&c.Slow, f.Slow)
	setDur(&c.FlapPeriod, f.FlapPeriod)
	setInt(&c.SlowChunk, f.SlowChunk)
	setDur(&c.SlowEvery, f.SlowEvery)
	if c.ErrorFraction == 0 {
		c.ErrorFraction = f.ErrorFraction
	}
	if c.Modes == nil {
		c.Modes = ModeNames()
	}
	if c.Peers == nil {
		c.Peers = PeerNames()
	}
	if c.RunID == "" {
		c.RunID = fmt.Sprintf("%x", time.Now().UnixNano())
	}
	if c.Log == nil {
		c.Log = io.Discard
	}
	return c
}

func (c Config) validate() error {
	switch {
	case c.Warm > c.Keys:
		return fmt.Errorf("degrade: Config.Warm %d > Config.Keys %d", c.Warm, c.Keys)
	case c.Attempt > c.Deadline:
		return fmt.Errorf("degrade: Config.Attempt %v > Config.Deadline %v", c.Attempt, c.Deadline)
	case c.Workers < 0 || c.Keys < 0 || c.Retries < 0:
		return errors.New("degrade: Config.Workers, Keys and Retries must be >= 0")
	}
	for _, m := range c.Modes {
		if _, err := c.fault(m); err != nil {
			return err
		}
	}
	for _, p := range c.Peers {
		if _, ok := peers[p]; !ok {
			return fmt.Errorf("degrade: Config.Peers: unknown peer %q", p)
		}
	}
	return nil
}

// ModeNames lists the fault modes in report order.
func ModeNames() []string {
	return []string{"healthy", "latency", "errors", "outage", "blackhole", "hang", "slow", "flapping", "slow-body", "truncated"}
}

// expiredAtFault reports whether the mode starts with every warmed entry already past its
// freshness: in those cells the upstream sends max-age=0 (and the same stale-if-error), so
// the first request for a warmed key during the fault is a stale one and must go to the
// upstream, or be answered stale. In the other modes entries stay fresh for FreshFor into
// the fault.
func expiredAtFault(mode string) bool { return mode == "hang" || mode == "slow" }

func (c Config) fault(mode string) (faultupstream.Fault, error) {
	switch mode {
	case "healthy":
		return faultupstream.Healthy(), nil
	case "latency":
		return faultupstream.Latency(c.Latency), nil
	case "errors":
		return faultupstream.Errors(c.ErrorFraction, 503), nil
	case "outage":
		return faultupstream.Outage(), nil
	case "blackhole", "hang": // hang: the same upstream, entries past max-age at the start
		return faultupstream.Blackhole(), nil
	case "slow":
		return faultupstream.Latency(c.Slow), nil
	case "flapping":
		return faultupstream.Flapping(c.FlapPeriod), nil
	case "slow-body":
		return faultupstream.SlowBody(c.SlowChunk, c.SlowEvery), nil
	case "truncated":
		return faultupstream.Truncated(), nil
	}
	return faultupstream.Fault{}, fmt.Errorf("degrade: Config.Modes: unknown mode %q", mode)
}

// Cell is what one peer achieved in one mode.
type Cell struct {
	Mode, Peer string
	Requests   int // answers the workload got (any outcome)
	Usable     int // 2xx with the right, complete body
	WarmReqs   int // requests for keys warmed before the fault
	WarmUsable int
	P50, P99   time.Duration
	Max        time.Duration
	WarmP99    time.Duration // p99 latency of the requests for warmed keys
	Upstream   int64         // requests that reached the upstream during the fault
	AgeP50     time.Duration // age of the data in usable answers (since the upstream produced it)
	AgeMax     time.Duration
}

// UsablePct is the share of usable answers in percent.
func (c Cell) UsablePct() float64 { return pct(c.Usable, c.Requests) }

// WarmPct is the share of usable answers for warmed keys in percent.
func (c Cell) WarmPct() float64 { return pct(c.WarmUsable, c.WarmReqs) }

func pct(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return 100 * float64(a) / float64(b)
}

// Results of a run.
type Results struct {
	Config Config
	Cells  []Cell
	Took   time.Duration
	// LoadStart and LoadEnd are the machine's 1-minute load average (/proc/loadavg) when
	// the run started and ended: other work on the machine inflates latencies.
	LoadStart, LoadEnd string
	// Revision names the library's source the run measured (set by the caller, for the
	// reports); "" leaves it out.
	Revision string
}

// Find returns the cell for mode and peer.
func (r *Results) Find(mode, peer string) (Cell, bool) {
	for _, c := range r.Cells {
		if c.Mode == mode && c.Peer == peer {
			return c, true
		}
	}
	return Cell{}, false
}

// Run runs every mode for every peer, one cell at a time.
func Run(ctx context.Context, cfg Config) (*Results, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	start := time.Now()
	res := &Results{Config: cfg, LoadStart: loadAverage()}
	for _, mode := range cfg.Modes {
		for _, peer := range cfg.Peers {
			if err := ctx.Err(); err != nil {
				return res, err
			}
			c, err := runCell(ctx, cfg, mode, peer)
			if err != nil {
				return res, fmt.Errorf("degrade: %s/%s: %w", mode, peer, err)
			}
			fmt.Fprintf(cfg.Log, "%-10s %-11s usable %5.1f%% (warm %5.1f%%) p50 %-9v p99 %-9v warm p99 %-9v max %-9v upstream %d\n",
				mode, peer, c.UsablePct(), c.WarmPct(), c.P50.Round(time.Microsecond), c.P99.Round(time.Microsecond),
				c.WarmP99.Round(time.Microsecond), c.Max.Round(time.Microsecond), c.Upstream)
			res.Cells = append(res.Cells, c)
		}
	}
	res.Took = time.Since(start)
	res.LoadEnd = loadAverage()
	return res, nil
}

// versions bumps the upstream's data version every VersionEvery and remembers when each
// version began, so that the age of the data in an answer is known from its body.
type versions struct {
	mu     sync.Mutex
	starts []time.Time // starts[v] = when version v began
}

func (v *versions) bump(up *faultupstream.Server, now time.Time) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.starts = append(v.starts, now)
	up.SetVersion(len(v.starts) - 1)
}

// age is how old the data of version ver is at now: since it began (an upper bound, off
// by at most VersionEvery).
func (v *versions) age(ver int, now time.Time) time.Duration {
	v.mu.Lock()
	defer v.mu.Unlock()
	if ver < 0 || ver >= len(v.starts) {
		return 0
	}
	return max(now.Sub(v.starts[ver]), 0)
}

func keyPath(i int) string { return fmt.Sprintf("/items/%d", i) }

type sample struct {
	warm    bool
	usable  bool
	latency time.Duration
	age     time.Duration
}

func runCell(ctx context.Context, cfg Config, mode, peerName string) (Cell, error) {
	fault, err := cfg.fault(mode)
	if err != nil {
		return Cell{}, err
	}
	if expiredAtFault(mode) {
		cfg.FreshFor = 0 // the upstream's max-age, and the failsafe-go peer's freshness
	}
	up, err := faultupstream.New(faultupstream.Config{
		Header: map[string][]string{"Cache-Control": {fmt.Sprintf("max-age=%d, stale-if-error=%d",
			int(cfg.FreshFor.Seconds()), int(cfg.StaleIfError.Seconds()))}},
	})
	if err != nil {
		return Cell{}, err
	}
	defer up.Close()
	vers := &versions{}
	vers.bump(up, time.Now())

	p, err := peers[peerName](cfg, up.URL(), fmt.Sprintf("degrade-%s-%s-%s", cfg.RunID, mode, peerName))
	if err != nil {
		return Cell{}, err
	}
	defer p.Close()

	// Warm: every warmed key once, healthy, through the peer.
	for i := range cfg.Warm {
		wctx, cancel := context.WithTimeout(ctx, cfg.Deadline)
		_, _, _ = p.Get(wctx, up.URL()+keyPath(i))
		cancel()
	}

	if err := up.Set(fault); err != nil {
		return Cell{}, err
	}
	before := up.Requests()
	runCtx, stop := context.WithCancel(ctx)
	defer stop()

	var bg sync.WaitGroup
	bg.Add(1)
	go func() { // the data keeps changing during the fault
		defer bg.Done()
		t := time.NewTicker(cfg.VersionEvery)
		defer t.Stop()
		for {
			select {
			case <-runCtx.Done():
				return
			case now := <-t.C:
				vers.bump(up, now)
			}
		}
	}()

	end := time.Now().Add(cfg.Cell)
	results := make([][]sample, cfg.Workers)
	var wg sync.WaitGroup
	for w := range cfg.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w)+1, 0x5eed))
			next := time.Now()
			for time.Now().Before(end) && runCtx.Err() == nil {
				if d := time.Until(next); d > 0 {
					t := time.NewTimer(d)
					select {
					case <-t.C:
					case <-runCtx.Done():
						t.Stop()
						return
					}
				}
				next = time.Now().Add(cfg.Interval)
				k := rng.IntN(cfg.Keys)
				path := keyPath(k)
				rctx, cancel := context.WithTimeout(runCtx, cfg.Deadline)
				t0 := time.Now()
				status, body, err := p.Get(rctx, up.URL()+path)
				lat := time.Since(t0)
				cancel()
				s := sample{warm: k < cfg.Warm, latency: lat}
				if err == nil && status >= 200 && status < 300 {
					if ver, verr := faultupstream.Verify(path, body); verr == nil {
						s.usable = true
						s.age = vers.age(ver, time.Now())
					}
				}
				results[w] = append(results[w], s)
			}
		}()
	}
	wg.Wait()
	hits := up.Requests() - before
	stop()
	bg.Wait()
	return summarize(mode, peerName, slices.Concat(results...), hits), nil
}

func summarize(mode, peer string, samples []sample, hits int64) Cell {
	c := Cell{Mode: mode, Peer: peer, Requests: len(samples), Upstream: hits}
	lats := make([]time.Duration, 0, len(samples))
	var ages, warmLats []time.Duration
	for _, s := range samples {
		lats = append(lats, s.latency)
		if s.warm {
			c.WarmReqs++
			warmLats = append(warmLats, s.latency)
		}
		if s.usable {
			c.Usable++
			ages = append(ages, s.age)
			if s.warm {
				c.WarmUsable++
			}
		}
	}
	slices.Sort(lats)
	slices.Sort(ages)
	slices.Sort(warmLats)
	c.P50, c.P99, c.Max = quantile(lats, 0.50), quantile(lats, 0.99), quantile(lats, 1)
	c.WarmP99 = quantile(warmLats, 0.99)
	c.AgeP50, c.AgeMax = quantile(ages, 0.50), quantile(ages, 1)
	return c
}

// quantile of sorted durations (nearest rank); 0 when empty.
func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.999999) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// Check returns what is wrong with the results, as a list of problems (none: sane). It
// checks only what holds on any machine, however loaded (no latency is checked): every
// cell ran; in an outage nothing reaches the upstream, the bare client answers nothing, and
// failsoft answers every warmed key; when the upstream hangs, or answers only after the
// request deadline, the bare client answers nothing and failsoft answers at least 99% of
// the requests for warmed keys (from its store; the 1% is room for a machine so busy that
// an answer misses the 1 s deadline); a bare client never gets a usable truncated body.
func (r *Results) Check() []string {
	var bad []string
	for _, c := range r.Cells {
		if c.Mode == "hang" || (c.Mode == "slow" && r.Config.Slow > r.Config.Deadline) {
			switch {
			case c.Peer == "bare" && c.Usable != 0:
				bad = append(bad, fmt.Sprintf("%s/bare: %d usable answers from an upstream that never answers in time", c.Mode, c.Usable))
			case c.Peer == "failsoft" && c.WarmReqs > 0 && c.WarmPct() < 99:
				bad = append(bad, fmt.Sprintf("%s/failsoft: %d of %d requests for warmed keys usable, want at least 99%%", c.Mode, c.WarmUsable, c.WarmReqs))
			}
		}
		if c.Requests == 0 {
			bad = append(bad, fmt.Sprintf("%s/%s: no request completed", c.Mode, c.Peer))
		}
		switch {
		case c.Mode == "outage" && c.Upstream != 0:
			bad = append(bad, fmt.Sprintf("outage/%s: %d requests reached a closed upstream", c.Peer, c.Upstream))
		case c.Mode == "outage" && c.Peer == "bare" && c.Usable != 0:
			bad = append(bad, fmt.Sprintf("outage/bare: %d usable answers from a closed upstream", c.Usable))
		case c.Mode == "outage" && c.Peer == "failsoft" && c.WarmUsable != c.WarmReqs:
			bad = append(bad, fmt.Sprintf("outage/failsoft: %d of %d requests for warmed keys usable, want all", c.WarmUsable, c.WarmReqs))
		case c.Mode == "truncated" && c.Peer == "bare" && c.Usable != 0:
			bad = append(bad, fmt.Sprintf("truncated/bare: %d truncated bodies passed the checksum", c.Usable))
		}
	}
	return bad
}
