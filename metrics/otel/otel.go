package otel

import (
	"context"
	"errors"
	"slices"
	"sync"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/failsoft/failsoft/middleware/httpfallback"
)

// ScopeName is the instrumentation scope of the meter the instruments are created on.
const ScopeName = "github.com/failsoft/failsoft/metrics/otel"

// StatsSource is what Watch reads at each collection: an *httpfallback.Engine or a Proxy.
type StatsSource interface {
	Stats() httpfallback.Stats
}

// DefaultBuckets are the duration histograms' bucket boundaries in seconds, from a fresh hit
// (well under a millisecond) to a slow upstream (10 s).
var DefaultBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// Metrics holds failsoft's instruments. OnEvent records events; the gauges are observed
// from the watched sources' Stats at each collection. Close unregisters the callback.
type Metrics struct {
	answers, misses, stored, refreshes, calls, retries, transitions metric.Int64Counter
	answerDur, callDur                                              metric.Float64Histogram

	breakerState, inFlight, maxConcurrent, waiting, storeSize, storeEntries metric.Int64ObservableGauge
	storeSets, storeEvictions, storeRejected, storeLookups                  metric.Int64ObservableCounter

	reg metric.Registration

	mu      sync.Mutex
	sources []StatsSource
}

// New creates the instruments on provider's meter ScopeName.
func New(provider metric.MeterProvider) (*Metrics, error) {
	meter := provider.Meter(ScopeName)
	m := &Metrics{}
	var errs []error
	counter := func(name, unit, desc string) metric.Int64Counter {
		c, err := meter.Int64Counter(name, metric.WithUnit(unit), metric.WithDescription(desc))
		errs = append(errs, err)
		return c
	}
	histogram := func(name, desc string) metric.Float64Histogram {
		h, err := meter.Float64Histogram(name, metric.WithUnit("s"), metric.WithDescription(desc),
			metric.WithExplicitBucketBoundaries(DefaultBuckets...))
		errs = append(errs, err)
		return h
	}
	gauge := func(name, unit, desc string) metric.Int64ObservableGauge {
		g, err := meter.Int64ObservableGauge(name, metric.WithUnit(unit), metric.WithDescription(desc))
		errs = append(errs, err)
		return g
	}
	observedCounter := func(name, unit, desc string) metric.Int64ObservableCounter {
		c, err := meter.Int64ObservableCounter(name, metric.WithUnit(unit), metric.WithDescription(desc))
		errs = append(errs, err)
		return c
	}
	m.answers = counter("failsoft.answers", "{answer}", "Requests answered, by outcome and failure reason.")
	m.misses = counter("failsoft.misses", "{miss}", "Lookups that found no usable stored entry.")
	m.stored = counter("failsoft.stored", "{entry}", "Answers stored.")
	m.refreshes = counter("failsoft.refreshes", "{refresh}", "Background refreshes ended, by result.")
	m.calls = counter("failsoft.upstream.requests", "{request}", "Calls of the source, by result (ok or the failure reason).")
	m.retries = counter("failsoft.upstream.retries", "{retry}", "Retries of the proxy's upstream client, by the failed attempt's reason.")
	m.transitions = counter("failsoft.breaker.transitions", "{transition}", "Circuit breaker state changes.")
	m.answerDur = histogram("failsoft.answer.duration", "Time from the engine receiving a request to its answer being chosen.")
	m.callDur = histogram("failsoft.upstream.duration", "How long each call of the source took.")
	m.breakerState = gauge("failsoft.breaker.state", "1", "1 for the circuit's current state, 0 for the others.")
	m.inFlight = gauge("failsoft.upstream.in_flight", "{request}", "Calls of the route's command running now.")
	m.maxConcurrent = gauge("failsoft.upstream.max_concurrent", "{request}", "The route's command concurrency limit.")
	m.waiting = gauge("failsoft.waiting", "{request}", "Requests waiting for another request's fetch of the same key.")
	m.storeSize = gauge("failsoft.store.size", "By", "Bytes the store accounts for the entries it holds.")
	m.storeEntries = gauge("failsoft.store.entries", "{entry}", "Entries the store holds.")
	m.storeSets = observedCounter("failsoft.store.sets", "{entry}", "Entries the store accepted.")
	m.storeEvictions = observedCounter("failsoft.store.evictions", "{entry}", "Entries evicted to make room.")
	m.storeRejected = observedCounter("failsoft.store.rejected", "{entry}", "Entries the store refused, by reason.")
	m.storeLookups = observedCounter("failsoft.store.lookups", "{lookup}", "Store lookups, by result.")
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	reg, err := meter.RegisterCallback(m.observe, m.breakerState, m.inFlight, m.maxConcurrent, m.waiting,
		m.storeSize, m.storeEntries, m.storeSets, m.storeEvictions, m.storeRejected, m.storeLookups)
	if err != nil {
		return nil, err
	}
	m.reg = reg
	return m, nil
}

// Close unregisters the instruments' callback.
func (m *Metrics) Close() error { return m.reg.Unregister() }

// Watch adds s (an Engine or a Proxy) to the sources observed at each collection.
func (m *Metrics) Watch(s StatsSource) {
	m.mu.Lock()
	m.sources = append(m.sources, s)
	m.mu.Unlock()
}

// Attribute keys.
const (
	keyEngine  = attribute.Key("failsoft.engine")
	keyRoute   = attribute.Key("http.route")
	keyOutcome = attribute.Key("failsoft.outcome")
	keyError   = attribute.Key("error.type")
	keyResult  = attribute.Key("failsoft.result")
	keyReason  = attribute.Key("failsoft.reason")
	keyFrom    = attribute.Key("failsoft.breaker.from")
	keyTo      = attribute.Key("failsoft.breaker.to")
	keyState   = attribute.Key("failsoft.breaker.state")
)

// OnEvent records ev; give it as httpfallback.Config.OnEvent (or call it from yours).
func (m *Metrics) OnEvent(ev httpfallback.Event) {
	ctx := context.Background()
	route := []attribute.KeyValue{keyEngine.String(ev.Engine), keyRoute.String(ev.Route)}
	with := func(kv ...attribute.KeyValue) metric.MeasurementOption {
		return metric.WithAttributes(append(route, kv...)...)
	}
	switch ev.Kind {
	case httpfallback.EventMiss:
		m.misses.Add(ctx, 1, with())
	case httpfallback.EventStored:
		m.stored.Add(ctx, 1, with())
	case httpfallback.EventRefresh:
		m.refreshes.Add(ctx, 1, with(keyResult.String(result(ev.Reason))))
	case httpfallback.EventUpstream:
		m.calls.Add(ctx, 1, with(keyResult.String(result(ev.Reason))))
		m.callDur.Record(ctx, ev.Duration.Seconds(), with())
	case httpfallback.EventRetry:
		m.retries.Add(ctx, 1, with(keyReason.String(ev.Reason)))
	case httpfallback.EventBreaker:
		m.transitions.Add(ctx, 1, with(keyFrom.String(ev.From.String()), keyTo.String(ev.To.String())))
	default:
		o := ev.Outcome()
		if o == "" {
			return
		}
		if ev.Reason != "" {
			m.answers.Add(ctx, 1, with(keyOutcome.String(o), keyError.String(ev.Reason)))
		} else {
			m.answers.Add(ctx, 1, with(keyOutcome.String(o)))
		}
		m.answerDur.Record(ctx, ev.Duration.Seconds(), with(keyOutcome.String(o)))
	}
}

func result(reason string) string {
	if reason == "" {
		return "ok"
	}
	return reason
}

// observe reports the gauges of every watched source.
func (m *Metrics) observe(_ context.Context, o metric.Observer) error {
	m.mu.Lock()
	sources := slices.Clone(m.sources)
	m.mu.Unlock()
	for _, s := range sources {
		st := s.Stats()
		eng := keyEngine.String(st.Name)
		for _, rs := range st.Routes {
			at := []attribute.KeyValue{eng, keyRoute.String(rs.Route)}
			if rs.Breaker != "" {
				for _, state := range []string{"closed", "open", "half-open"} {
					v := int64(0)
					if rs.Breaker == state {
						v = 1
					}
					o.ObserveInt64(m.breakerState, v, metric.WithAttributes(append(at, keyState.String(state))...))
				}
			}
			if rs.MaxConcurrent > 0 {
				o.ObserveInt64(m.inFlight, int64(rs.InFlight), metric.WithAttributes(at...))
				o.ObserveInt64(m.maxConcurrent, int64(rs.MaxConcurrent), metric.WithAttributes(at...))
			}
		}
		e := metric.WithAttributes(eng)
		o.ObserveInt64(m.waiting, st.Waiting, e)
		ss := st.Store
		o.ObserveInt64(m.storeSize, ss.Bytes, e)
		o.ObserveInt64(m.storeEntries, ss.Entries, e)
		o.ObserveInt64(m.storeSets, int64(ss.Stored), e)
		o.ObserveInt64(m.storeEvictions, int64(ss.Evictions), e)
		o.ObserveInt64(m.storeRejected, int64(ss.RejectedTooLarge), metric.WithAttributes(eng, keyReason.String("too-large")))
		o.ObserveInt64(m.storeRejected, int64(ss.RejectedNotAdmitted), metric.WithAttributes(eng, keyReason.String("not-admitted")))
		o.ObserveInt64(m.storeRejected, int64(ss.RejectedDropped), metric.WithAttributes(eng, keyReason.String("dropped")))
		o.ObserveInt64(m.storeLookups, int64(ss.Hits), metric.WithAttributes(eng, keyResult.String("hit")))
		o.ObserveInt64(m.storeLookups, int64(ss.Misses), metric.WithAttributes(eng, keyResult.String("miss")))
	}
	return nil
}
