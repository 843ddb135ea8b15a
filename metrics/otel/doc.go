// Package otel exports failsoft's engines as OpenTelemetry metrics
// (go.opentelemetry.io/otel/metric). It is a module of its own, so that the library's
// go.mod does not depend on OpenTelemetry.
//
// Create the instruments on a MeterProvider, give OnEvent to the engine's Config, and
// Watch the engine (or the proxy) for the observable gauges:
//
//	m, err := otel.New(provider)
//	eng, err := httpfallback.New(httpfallback.Config{Name: "api", OnEvent: m.OnEvent})
//	m.Watch(eng)
//	defer m.Close()
//
// Instruments (attributes failsoft.engine and http.route, the route template, on each
// unless said otherwise):
//
//	failsoft.answers                 counter {answer}: failsoft.outcome (fresh, miss, collapsed, stale, soft-timeout, default, error, bypass), error.type (the failure reason, when there is one)
//	failsoft.answer.duration         histogram s: failsoft.outcome
//	failsoft.misses                  counter {miss}
//	failsoft.stored                  counter {entry}
//	failsoft.refreshes               counter {refresh}: failsoft.result (ok or the failure reason)
//	failsoft.upstream.requests       counter {request}: failsoft.result (ok or the failure reason)
//	failsoft.upstream.retries        counter {retry}: failsoft.reason (the failed attempt's reason)
//	failsoft.upstream.duration       histogram s
//	failsoft.breaker.transitions     counter {transition}: failsoft.breaker.from, failsoft.breaker.to
//	failsoft.breaker.state           gauge: failsoft.breaker.state (closed, open, half-open), 1 for the current one
//	failsoft.upstream.in_flight      gauge {request}: calls of the route's command running now
//	failsoft.upstream.max_concurrent gauge {request}
//	failsoft.waiting                 gauge {request} (failsoft.engine only)
//	failsoft.store.size              gauge By (failsoft.engine only)
//	failsoft.store.entries           gauge {entry} (failsoft.engine only)
//	failsoft.store.sets              counter {entry} (failsoft.engine only)
//	failsoft.store.evictions         counter {entry} (failsoft.engine only)
//	failsoft.store.rejected          counter {entry}: failsoft.reason (too-large, not-admitted, dropped) (failsoft.engine only)
//	failsoft.store.lookups           counter {lookup}: failsoft.result (hit, miss) (failsoft.engine only)
package otel
