package prometheus

import (
	"slices"
	"sync"

	prom "github.com/prometheus/client_golang/prometheus"

	"github.com/failsoft/failsoft/middleware/httpfallback"
)

// StatsSource is what Watch reads at each scrape: an *httpfallback.Engine or a Proxy.
type StatsSource interface {
	Stats() httpfallback.Stats
}

// Options configure a Collector. The zero value is ready to use.
type Options struct {
	// Namespace prefixes every metric name; "" means "failsoft".
	Namespace string
	// Buckets are the latency histograms' upper bounds in seconds; nil means
	// DefaultBuckets.
	Buckets []float64
}

// DefaultBuckets span a fresh hit (well under a millisecond) to a slow upstream (10 s).
var DefaultBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// Collector is a prometheus.Collector for failsoft engines. Its OnEvent method, given as
// httpfallback.Config.OnEvent, counts what happens per engine and route; Watch adds an
// engine's (or a proxy's) Stats, read at each scrape for the gauges (breaker state,
// concurrency in use, store size). Register it once with a registry.
//
// Labels are bounded: engine (Config.Name), route (the route template, never the URL),
// outcome, reason (failure reasons, a fixed set), and breaker states.
type Collector struct {
	answers     *prom.CounterVec
	answerDur   *prom.HistogramVec
	misses      *prom.CounterVec
	stored      *prom.CounterVec
	refreshes   *prom.CounterVec
	calls       *prom.CounterVec
	retries     *prom.CounterVec
	callDur     *prom.HistogramVec
	transitions *prom.CounterVec

	breakerState, inFlight, maxConcurrent, waiting                     *prom.Desc
	storeBytes, storeEntries, storeEvictions, storeRejected, storeSets *prom.Desc
	storeLookups, storeSwept                                           *prom.Desc

	mu      sync.Mutex
	sources []StatsSource
}

var _ prom.Collector = (*Collector)(nil)

// New returns a Collector.
func New(opts Options) *Collector {
	ns := opts.Namespace
	if ns == "" {
		ns = "failsoft"
	}
	buckets := opts.Buckets
	if buckets == nil {
		buckets = DefaultBuckets
	}
	route := []string{"engine", "route"}
	counter := func(name, help string, labels ...string) *prom.CounterVec {
		return prom.NewCounterVec(prom.CounterOpts{Namespace: ns, Name: name, Help: help}, labels)
	}
	desc := func(name, help string, labels ...string) *prom.Desc {
		return prom.NewDesc(prom.BuildFQName(ns, "", name), help, labels, nil)
	}
	return &Collector{
		answers: counter("answers_total",
			"Requests answered, by outcome (fresh, miss, collapsed, stale, soft-timeout, default, error, bypass) and failure reason.",
			"engine", "route", "outcome", "reason"),
		answerDur: prom.NewHistogramVec(prom.HistogramOpts{Namespace: ns, Name: "answer_duration_seconds",
			Help: "Time from the engine receiving a request to its answer being chosen, by outcome.", Buckets: buckets},
			[]string{"engine", "route", "outcome"}),
		misses: counter("misses_total", "Lookups that found no usable stored entry.", route...),
		stored: counter("stored_total", "Answers stored.", route...),
		refreshes: counter("refreshes_total", "Background refreshes ended, by result (ok or the failure reason).",
			"engine", "route", "result"),
		calls: counter("upstream_requests_total",
			"Calls of the source (wrapped handler, proxy client, alternate), by result: ok, or the failure reason (circuit-open and overloaded: refused without calling).",
			"engine", "route", "result"),
		retries: counter("upstream_retries_total",
			"Retries of the proxy's upstream client after a failed attempt, by that attempt's failure reason.",
			"engine", "route", "reason"),
		callDur: prom.NewHistogramVec(prom.HistogramOpts{Namespace: ns, Name: "upstream_duration_seconds",
			Help: "How long each call of the source took, refusals included.", Buckets: buckets}, route),
		transitions: counter("breaker_transitions_total", "Circuit breaker state changes.", "engine", "route", "from", "to"),

		breakerState:   desc("breaker_state", "Circuit breaker state: 1 for the current state (closed, open, half-open), 0 for the others.", "engine", "route", "state"),
		inFlight:       desc("upstream_in_flight", "Calls of the route's command running now (concurrency in use).", route...),
		maxConcurrent:  desc("upstream_max_concurrent", "The route's command concurrency limit.", route...),
		waiting:        desc("waiting_requests", "Requests waiting now for another request's fetch of the same key.", "engine"),
		storeBytes:     desc("store_bytes", "Bytes the store accounts for the entries it holds.", "engine"),
		storeEntries:   desc("store_entries", "Entries the store holds.", "engine"),
		storeEvictions: desc("store_evictions_total", "Entries evicted from the store to make room.", "engine"),
		storeRejected: desc("store_rejected_total",
			"Entries the store refused, by reason (too-large, not-admitted, dropped).", "engine", "reason"),
		storeSets:    desc("store_sets_total", "Entries the store accepted.", "engine"),
		storeLookups: desc("store_lookups_total", "Store lookups, by result (hit, miss).", "engine", "result"),
		storeSwept:   desc("store_swept_total", "Expired entries the store's sweeper removed.", "engine"),
	}
}

// OnEvent counts ev; give it as httpfallback.Config.OnEvent (or call it from yours).
func (c *Collector) OnEvent(ev httpfallback.Event) {
	switch ev.Kind {
	case httpfallback.EventMiss:
		c.misses.WithLabelValues(ev.Engine, ev.Route).Inc()
	case httpfallback.EventStored:
		c.stored.WithLabelValues(ev.Engine, ev.Route).Inc()
	case httpfallback.EventRefresh:
		c.refreshes.WithLabelValues(ev.Engine, ev.Route, result(ev.Reason)).Inc()
	case httpfallback.EventUpstream:
		c.calls.WithLabelValues(ev.Engine, ev.Route, result(ev.Reason)).Inc()
		c.callDur.WithLabelValues(ev.Engine, ev.Route).Observe(ev.Duration.Seconds())
	case httpfallback.EventRetry:
		c.retries.WithLabelValues(ev.Engine, ev.Route, ev.Reason).Inc()
	case httpfallback.EventBreaker:
		c.transitions.WithLabelValues(ev.Engine, ev.Route, ev.From.String(), ev.To.String()).Inc()
	default:
		if o := ev.Outcome(); o != "" {
			c.answers.WithLabelValues(ev.Engine, ev.Route, o, ev.Reason).Inc()
			c.answerDur.WithLabelValues(ev.Engine, ev.Route, o).Observe(ev.Duration.Seconds())
		}
	}
}

// result is a call's result label: "ok" or the failure reason.
func result(reason string) string {
	if reason == "" {
		return "ok"
	}
	return reason
}

// Watch adds s (an Engine or a Proxy) to the sources read at each scrape. Each source must
// have its own engine name: two with the same name make the scrape fail.
func (c *Collector) Watch(s StatsSource) {
	c.mu.Lock()
	c.sources = append(c.sources, s)
	c.mu.Unlock()
}

// Describe sends the descriptors of every metric.
func (c *Collector) Describe(ch chan<- *prom.Desc) {
	for _, v := range c.vecs() {
		v.Describe(ch)
	}
	for _, d := range []*prom.Desc{c.breakerState, c.inFlight, c.maxConcurrent, c.waiting, c.storeBytes, c.storeEntries,
		c.storeEvictions, c.storeRejected, c.storeSets, c.storeLookups, c.storeSwept} {
		ch <- d
	}
}

func (c *Collector) vecs() []prom.Collector {
	return []prom.Collector{c.answers, c.answerDur, c.misses, c.stored, c.refreshes, c.calls, c.retries, c.callDur, c.transitions}
}

// Collect sends the event counters and, for each watched source, its gauges.
func (c *Collector) Collect(ch chan<- prom.Metric) {
	for _, v := range c.vecs() {
		v.Collect(ch)
	}
	c.mu.Lock()
	sources := slices.Clone(c.sources)
	c.mu.Unlock()
	for _, s := range sources {
		st := s.Stats()
		eng := st.Name
		for _, rs := range st.Routes {
			if rs.Breaker != "" {
				for _, state := range []string{"closed", "open", "half-open"} {
					v := 0.0
					if rs.Breaker == state {
						v = 1
					}
					ch <- prom.MustNewConstMetric(c.breakerState, prom.GaugeValue, v, eng, rs.Route, state)
				}
			}
			if rs.MaxConcurrent > 0 {
				ch <- prom.MustNewConstMetric(c.inFlight, prom.GaugeValue, float64(rs.InFlight), eng, rs.Route)
				ch <- prom.MustNewConstMetric(c.maxConcurrent, prom.GaugeValue, float64(rs.MaxConcurrent), eng, rs.Route)
			}
		}
		ch <- prom.MustNewConstMetric(c.waiting, prom.GaugeValue, float64(st.Waiting), eng)
		ss := st.Store
		ch <- prom.MustNewConstMetric(c.storeBytes, prom.GaugeValue, float64(ss.Bytes), eng)
		ch <- prom.MustNewConstMetric(c.storeEntries, prom.GaugeValue, float64(ss.Entries), eng)
		ch <- prom.MustNewConstMetric(c.storeEvictions, prom.CounterValue, float64(ss.Evictions), eng)
		ch <- prom.MustNewConstMetric(c.storeRejected, prom.CounterValue, float64(ss.RejectedTooLarge), eng, "too-large")
		ch <- prom.MustNewConstMetric(c.storeRejected, prom.CounterValue, float64(ss.RejectedNotAdmitted), eng, "not-admitted")
		ch <- prom.MustNewConstMetric(c.storeRejected, prom.CounterValue, float64(ss.RejectedDropped), eng, "dropped")
		ch <- prom.MustNewConstMetric(c.storeSets, prom.CounterValue, float64(ss.Stored), eng)
		ch <- prom.MustNewConstMetric(c.storeLookups, prom.CounterValue, float64(ss.Hits), eng, "hit")
		ch <- prom.MustNewConstMetric(c.storeLookups, prom.CounterValue, float64(ss.Misses), eng, "miss")
		ch <- prom.MustNewConstMetric(c.storeSwept, prom.CounterValue, float64(ss.Swept), eng)
	}
}
