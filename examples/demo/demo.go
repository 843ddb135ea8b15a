package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/failsoft/failsoft/cache"
	"github.com/failsoft/failsoft/internal/faultupstream"
	"github.com/failsoft/failsoft/middleware/echofallback"
	"github.com/failsoft/failsoft/middleware/httpfallback"
	"github.com/failsoft/failsoft/upstream"
)

// Config is what the flags set.
type Config struct {
	Phase   time.Duration // length of each phase
	Phases  string        // comma-separated phase names
	Keys    int           // warm keys, asked for from the start
	Clients int           // concurrent clients
	Pace    time.Duration // pause between one client's requests
	Timeout time.Duration // the command's timeout
	Fresh   time.Duration // freshness of a stored answer
}

func defaultConfig() Config {
	return Config{
		Phase:   4 * time.Second,
		Phases:  "healthy,slow,erroring,hanging,down,recovered",
		Keys:    20,
		Clients: 8,
		Pace:    20 * time.Millisecond,
		Timeout: 300 * time.Millisecond,
		Fresh:   time.Second,
	}
}

// phaseFaults maps each phase name to what the upstream does during it.
func phaseFaults() map[string]faultupstream.Fault {
	return map[string]faultupstream.Fault{
		"healthy":   faultupstream.Healthy(),
		"slow":      faultupstream.Latency(150 * time.Millisecond),
		"erroring":  faultupstream.Errors(0.7, http.StatusServiceUnavailable),
		"down":      faultupstream.Outage(),
		"hanging":   faultupstream.Blackhole(),
		"flapping":  faultupstream.Flapping(500 * time.Millisecond),
		"recovered": faultupstream.Healthy(),
	}
}

func phaseNames() []string {
	phases := phaseFaults()
	names := make([]string, 0, len(phases))
	for n := range phases {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// outage reports whether the upstream cannot answer at all in the phase: these are the phases
// in which every warm key must be answered with its last good data.
func outage(phase string) bool { return phase == "down" || phase == "hanging" }

// Phase is one phase's line in the summary.
type Phase struct {
	Name          string   `json:"name"`
	Requests      int      `json:"requests"`
	Fresh         int      `json:"fresh"`        // fresh hits, served from the store
	Fetched       int      `json:"fetched"`      // fetched from the upstream now (stored or collapsed)
	Stale         int      `json:"stale"`        // last good data, upstream failing or being refreshed
	SoftTimeout   int      `json:"soft_timeout"` // of Stale: the upstream was slow, the copy went out at the soft timeout
	Default       int      `json:"default"`      // the configured default payload
	Errors        int      `json:"errors"`       // an error response (5xx) or a transport error
	P50Millis     float64  `json:"p50_ms"`
	P99Millis     float64  `json:"p99_ms"`
	UpstreamCalls int64    `json:"upstream_calls"` // requests that reached the upstream
	Breaker       []string `json:"breaker"`        // the route's breaker states, in order

	latencies []time.Duration
}

// Summary is what -json prints.
type Summary struct {
	Phases []Phase `json:"phases"`
	// Over the down and hanging phases: requests for keys answered with good data before the
	// first outage phase, and how many of them got a 200 with that key's data from the store.
	WarmRequestsDuringOutage int  `json:"warm_requests_during_outage"`
	WarmServedDuringOutage   int  `json:"warm_served_during_outage"`
	WarmStaleOK              bool `json:"warm_stale_ok"`
}

// recorder collects answers; the phase in force is switched by the driver.
type recorder struct {
	mu       sync.Mutex
	phase    *Phase
	outage   bool
	seenOut  bool            // an outage phase has started
	warmed   map[string]bool // keys answered with good data before the first outage
	sum      *Summary
	breaker  string
	interval Phase // counts since the last timeline line
}

func (rc *recorder) setBreaker(to upstream.BreakerState) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.breaker = to.String()
	if rc.phase != nil && rc.phase.Breaker[len(rc.phase.Breaker)-1] != rc.breaker {
		rc.phase.Breaker = append(rc.phase.Breaker, rc.breaker)
	}
}

// kind classifies one answer by its status and Cache-Status.
func kind(status int, cacheStatus string, err error) string {
	switch {
	case err != nil || status >= 500:
		return "error"
	case strings.Contains(cacheStatus, "detail=default"):
		return "default"
	case strings.Contains(cacheStatus, "ttl=-"): // served from an entry past its freshness
		return "stale"
	case strings.Contains(cacheStatus, "; hit"):
		return "fresh"
	default:
		return "fetched"
	}
}

func count(p *Phase, k string, soft bool) {
	p.Requests++
	if soft {
		p.SoftTimeout++
	}
	switch k {
	case "fresh":
		p.Fresh++
	case "fetched":
		p.Fetched++
	case "stale":
		p.Stale++
	case "default":
		p.Default++
	default:
		p.Errors++
	}
}

func (rc *recorder) record(key string, k string, soft, good bool, d time.Duration) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.phase == nil {
		return
	}
	count(rc.phase, k, soft)
	count(&rc.interval, k, soft)
	rc.phase.latencies = append(rc.phase.latencies, d)
	if !rc.seenOut && good {
		rc.warmed[key] = true
	}
	if rc.outage && rc.warmed[key] {
		rc.sum.WarmRequestsDuringOutage++
		if good && (k == "fresh" || k == "stale") {
			rc.sum.WarmServedDuringOutage++
		}
	}
}

func run(ctx context.Context, cfg Config, timeline io.Writer) (Summary, error) {
	names := strings.Split(cfg.Phases, ",")
	phases := phaseFaults()
	for _, n := range names {
		if _, ok := phases[n]; !ok {
			return Summary{}, fmt.Errorf("demo: unknown phase %q (known: %s)", n, strings.Join(phaseNames(), ", "))
		}
	}
	if cfg.Keys < 1 || cfg.Clients < 1 || cfg.Phase <= 0 {
		return Summary{}, errors.New("demo: -keys, -clients and -phase must be positive")
	}

	up, err := faultupstream.New(faultupstream.Config{})
	if err != nil {
		return Summary{}, err
	}
	defer up.Close()

	sum := &Summary{}
	rc := &recorder{warmed: map[string]bool{}, sum: sum, breaker: upstream.Closed.String()}

	// The app: an Echo server whose handler calls the upstream, behind failsoft.
	fallback, err := echofallback.New(echofallback.Config{Engine: httpfallback.Config{
		Name:     fmt.Sprintf("demo-%d", time.Now().UnixNano()),
		MaxBytes: 16 << 20,
		Policy:   cache.Policy{FreshFor: cfg.Fresh, StaleIfError: time.Hour},
		Common: upstream.Common{Command: upstream.Settings{
			Timeout:                cfg.Timeout,
			MaxConcurrent:          4 * cfg.Clients,
			RequestVolumeThreshold: 10,
			ErrorPercentThreshold:  50,
			SleepWindow:            time.Second,
		}},
		Defaults: map[string]*httpfallback.Default{"/items/:id": {
			Status: http.StatusOK,
			Header: http.Header{"Content-Type": {"application/json"}},
			Body:   []byte(`{"items":[],"note":"default payload: the catalogue is unavailable"}`),
		}},
		OnEvent: func(ev httpfallback.Event) {
			if ev.Kind == httpfallback.EventBreaker {
				rc.setBreaker(ev.To)
			}
		},
	}})
	if err != nil {
		return Summary{}, err
	}
	defer fallback.Close()

	upClient := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4 * cfg.Clients}}
	defer upClient.CloseIdleConnections()
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.Use(fallback.MiddlewareFunc())
	e.GET("/items/:id", func(c echo.Context) error {
		req, err := http.NewRequestWithContext(c.Request().Context(), http.MethodGet, up.URL()+"/items/"+c.Param("id"), nil)
		if err != nil {
			return err
		}
		resp, err := upClient.Do(req)
		if err != nil {
			return echo.NewHTTPError(http.StatusBadGateway, "catalogue unreachable")
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			return echo.NewHTTPError(http.StatusBadGateway, "catalogue answer cut short")
		}
		return c.Blob(resp.StatusCode, "application/json", body)
	})

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return Summary{}, err
	}
	srv := &http.Server{Handler: e, ReadHeaderTimeout: 5 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	defer func() {
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(shutdownCtx)
		<-served
	}()
	base := "http://" + ln.Addr().String()

	// The clients: steady traffic over the warm keys, plus, after the first phase, one request
	// in five for a key never asked before (so there is nothing stale to serve for it).
	fmt.Fprintf(timeline, "failsoft demo: upstream %s, app %s, %d clients, %d keys, timeout %s, fresh %s\n",
		up.URL(), base, cfg.Clients, cfg.Keys, cfg.Timeout, cfg.Fresh)
	clientsCtx, stopClients := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var phaseIndex struct {
		sync.Mutex
		i int
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: cfg.Clients}}
	defer client.CloseIdleConnections()
	for c := 0; c < cfg.Clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := c; clientsCtx.Err() == nil; n += cfg.Clients {
				phaseIndex.Lock()
				pi := phaseIndex.i
				phaseIndex.Unlock()
				key := fmt.Sprintf("k%d", n%cfg.Keys)
				if pi > 0 && n%5 == 4 {
					key = fmt.Sprintf("new-%d-%d", pi, n)
				}
				ask(clientsCtx, client, base, key, rc)
				select {
				case <-clientsCtx.Done():
				case <-time.After(cfg.Pace):
				}
			}
		}()
	}

	// The driver: phases, one timeline line a second.
	for i, name := range names {
		if err := up.Set(phases[name]); err != nil {
			stopClients()
			wg.Wait()
			return Summary{}, err
		}
		calls := up.Requests()
		rc.mu.Lock()
		p := &Phase{Name: name, Breaker: []string{rc.breaker}}
		rc.phase, rc.outage = p, outage(name)
		rc.seenOut = rc.seenOut || outage(name)
		rc.mu.Unlock()
		phaseIndex.Lock()
		phaseIndex.i = i
		phaseIndex.Unlock()

		start := time.Now()
		tick := time.NewTicker(time.Second)
		end := time.NewTimer(cfg.Phase)
		line := func(now time.Time) {
			rc.mu.Lock()
			iv := rc.interval
			rc.interval = Phase{}
			br := rc.breaker
			rc.mu.Unlock()
			fmt.Fprintf(timeline, "%5.1fs %-10s fresh %4d  fetched %4d  stale %4d (soft-timeout %4d)  default %4d  error %4d  breaker %s\n",
				now.Sub(start).Seconds(), name, iv.Fresh, iv.Fetched, iv.Stale, iv.SoftTimeout, iv.Default, iv.Errors, br)
		}
		for done := false; !done; {
			select {
			case <-ctx.Done():
				done = true
			case now := <-tick.C:
				line(now)
			case now := <-end.C:
				if now.Sub(start)%time.Second > time.Second/10 {
					line(now) // the phase's last partial second
				}
				done = true
			}
		}
		end.Stop()
		tick.Stop()
		rc.mu.Lock()
		p.UpstreamCalls = up.Requests() - calls
		p.P50Millis, p.P99Millis = percentile(p.latencies, 50), percentile(p.latencies, 99)
		sum.Phases = append(sum.Phases, *p)
		rc.mu.Unlock()
		if ctx.Err() != nil {
			break
		}
	}
	stopClients()
	wg.Wait()

	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.phase = nil
	sum.WarmStaleOK = sum.WarmRequestsDuringOutage > 0 && sum.WarmServedDuringOutage == sum.WarmRequestsDuringOutage
	return *sum, nil
}

// ask sends one request and records what came back.
func ask(ctx context.Context, client *http.Client, base, key string, rc *recorder) {
	path := "/items/" + key
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
	if err != nil {
		return
	}
	start := time.Now()
	resp, err := client.Do(req)
	if ctx.Err() != nil {
		if err == nil {
			resp.Body.Close()
		}
		return // stopped by the driver: not an answer
	}
	var status int
	var cs string
	good := false
	if err == nil {
		body, rerr := io.ReadAll(resp.Body)
		resp.Body.Close()
		status, cs, err = resp.StatusCode, resp.Header.Get("Cache-Status"), rerr
		if err == nil && status == http.StatusOK {
			_, verr := faultupstream.Verify(path, body)
			good = verr == nil
		}
	}
	soft := err == nil && strings.Contains(cs, "detail=soft-timeout")
	rc.record(key, kind(status, cs, err), soft, good, time.Since(start))
}

// percentile is the q-th percentile of ds in milliseconds (0 for none).
func percentile(ds []time.Duration, q int) float64 {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := (len(s)*q + 99) / 100
	i = min(max(i-1, 0), len(s)-1)
	return float64(s[i].Microseconds()) / 1000
}
