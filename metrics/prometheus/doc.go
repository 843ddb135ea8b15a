// Package prometheus exports failsoft's engines as Prometheus metrics
// (github.com/prometheus/client_golang). It is a module of its own, so that the library's
// go.mod does not depend on Prometheus.
//
// Create a Collector, give its OnEvent to the engine's Config, Watch the engine (or the
// proxy) for the gauges read at each scrape, and register the Collector:
//
//	m := prometheus.New(prometheus.Options{})
//	eng, err := httpfallback.New(httpfallback.Config{Name: "api", OnEvent: m.OnEvent})
//	...
//	m.Watch(eng)
//	registry.MustRegister(m)
//
// Metrics (every name prefixed with Options.Namespace, "failsoft" by default; labels
// engine and route on each unless said otherwise):
//
//	failsoft_answers_total{outcome,reason}         requests answered: fresh, miss, collapsed, stale, soft-timeout, default, error, bypass
//	failsoft_answer_duration_seconds{outcome}      histogram: request reaching the engine to its answer chosen
//	failsoft_misses_total                          lookups without a usable entry
//	failsoft_stored_total                          answers stored
//	failsoft_refreshes_total{result}               background refreshes ended: ok or the failure reason
//	failsoft_upstream_requests_total{result}       calls of the source: ok or the failure reason (timeout, upstream-5xx, connect-error, invalid-response, circuit-open, overloaded, ...)
//	failsoft_upstream_retries_total{reason}        retries of the proxy's upstream client, by the failed attempt's reason
//	failsoft_upstream_duration_seconds             histogram: each call of the source
//	failsoft_breaker_transitions_total{from,to}    circuit breaker changes
//	failsoft_breaker_state{state}                  1 for the current state (closed, open, half-open), 0 for the others
//	failsoft_upstream_in_flight                    calls of the route's command running now
//	failsoft_upstream_max_concurrent               the command's concurrency limit
//	failsoft_waiting_requests{engine}              requests waiting for another request's fetch
//	failsoft_store_bytes{engine}                   bytes held by the store
//	failsoft_store_entries{engine}                 entries held by the store
//	failsoft_store_sets_total{engine}              entries stored
//	failsoft_store_evictions_total{engine}         entries evicted to make room
//	failsoft_store_rejected_total{engine,reason}   entries refused: too-large, not-admitted, dropped
//	failsoft_store_lookups_total{engine,result}    store lookups: hit, miss
//	failsoft_store_swept_total{engine}             expired entries removed by the sweeper
//
// Labels are bounded: the route is the route template (Config.Route), never the URL, and
// reasons come from a fixed set.
package prometheus
