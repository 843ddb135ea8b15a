package main

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"

	"github.com/failsoft/failsoft/middleware/httpfallback"
)

// The admin endpoints (-admin): an operator's view of the proxy and its cache.
//
// /metrics is the Prometheus text format written by hand from Stats: this program is in
// failsoft's main module, which does not depend on client_golang (the metrics/prometheus
// module does, and gives an application latency histograms too). A program of its own
// module can mount that module's Collector with promhttp instead.

// adminTarget is what the admin endpoints read and purge: the proxy.
type adminTarget interface {
	Stats() httpfallback.Stats
	PurgeURL(ctx context.Context, target string) (int, error)
	PurgeTag(ctx context.Context, tag string) (int, error)
}

// adminHandler serves the admin endpoints. token, when not "", is required as a Bearer
// token on every request; draining is set while the proxy shuts down.
func adminHandler(p adminTarget, token string, draining *atomic.Bool) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if draining.Load() {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "draining"})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, p.Stats())
	})
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		writeMetrics(w, p.Stats())
	})
	mux.HandleFunc("DELETE /cache", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		target, tag := q.Get("url"), q.Get("tag")
		var n int
		var err error
		switch {
		case (target == "") == (tag == ""):
			err = errors.New("give exactly one of url=URL and tag=T")
		case target != "":
			n, err = p.PurgeURL(r.Context(), target)
		default:
			n, err = p.PurgeTag(r.Context(), tag)
		}
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, map[string]int{"purged": n})
	})
	if token == "" {
		return mux
	}
	want := []byte("Bearer " + token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="failsoft-admin"`)
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "a valid Bearer token is required"})
			return
		}
		mux.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// checkAdminAddr refuses an -admin address that is not loopback unless public is set.
func checkAdminAddr(addr string, public bool) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("-admin: %q is not host:port: %w", addr, err)
	}
	if public || host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("-admin: %q is not a loopback address; add -admin-public to listen there (and set -admin-token)", addr)
}

// routeCounter is a per-route Stats counter exported by /metrics.
type routeCounter struct {
	name, help string
	value      func(httpfallback.RouteStats) uint64
}

// routeCounters are the per-route counters /metrics exports.
func routeCounters() []routeCounter {
	return []routeCounter{
		{"route_hits_total", "Answers from a fresh stored entry.", func(r httpfallback.RouteStats) uint64 { return r.Hits }},
		{"route_stale_total", "Answers from a stale stored entry.", func(r httpfallback.RouteStats) uint64 { return r.Stale }},
		{"route_defaults_total", "Answers with a default payload.", func(r httpfallback.RouteStats) uint64 { return r.Defaults }},
		{"route_errors_total", "Error responses served.", func(r httpfallback.RouteStats) uint64 { return r.Errors }},
		{"route_forwarded_total", "The upstream's own answers served (misses, pass-throughs).", func(r httpfallback.RouteStats) uint64 { return r.Forwarded }},
		{"route_misses_total", "Lookups without a usable stored entry.", func(r httpfallback.RouteStats) uint64 { return r.Misses }},
		{"route_stored_total", "Answers stored.", func(r httpfallback.RouteStats) uint64 { return r.Stored }},
		{"route_collapsed_total", "Answers given from another request's fetch.", func(r httpfallback.RouteStats) uint64 { return r.Collapsed }},
		{"route_refreshes_total", "Background refreshes ended.", func(r httpfallback.RouteStats) uint64 { return r.Refreshes }},
		{"route_upstream_requests_total", "Calls of the upstream, refusals by the breaker included.", func(r httpfallback.RouteStats) uint64 { return r.UpstreamCalls }},
		{"route_upstream_retries_total", "Retries of the upstream client after a failed attempt.", func(r httpfallback.RouteStats) uint64 { return r.Retries }},
		{"route_upstream_failures_total", "Calls of the upstream that failed.", func(r httpfallback.RouteStats) uint64 { return r.UpstreamFailures }},
	}
}

// writeMetrics writes st in the Prometheus text exposition format (version 0.0.4).
func writeMetrics(w io.Writer, st httpfallback.Stats) {
	eng := `engine="` + escapeLabel(st.Name) + `"`
	family := func(name, kind, help string) {
		fmt.Fprintf(w, "# HELP failsoft_%s %s\n# TYPE failsoft_%s %s\n", name, help, name, kind)
	}
	for _, c := range routeCounters() {
		family(c.name, "counter", c.help)
		for _, rs := range st.Routes {
			fmt.Fprintf(w, "failsoft_%s{%s,route=\"%s\"} %d\n", c.name, eng, escapeLabel(rs.Route), c.value(rs))
		}
	}
	family("breaker_state", "gauge", "Circuit breaker state: 1 for the current state (closed, open, half-open), 0 for the others.")
	for _, rs := range st.Routes {
		if rs.Breaker == "" {
			continue
		}
		for _, state := range []string{"closed", "open", "half-open"} {
			v := 0
			if rs.Breaker == state {
				v = 1
			}
			fmt.Fprintf(w, "failsoft_breaker_state{%s,route=\"%s\",state=%q} %d\n", eng, escapeLabel(rs.Route), state, v)
		}
	}
	family("upstream_in_flight", "gauge", "Calls of the route's command running now (concurrency in use).")
	for _, rs := range st.Routes {
		if rs.MaxConcurrent > 0 {
			fmt.Fprintf(w, "failsoft_upstream_in_flight{%s,route=\"%s\"} %d\n", eng, escapeLabel(rs.Route), rs.InFlight)
		}
	}
	family("upstream_max_concurrent", "gauge", "The route's command concurrency limit.")
	for _, rs := range st.Routes {
		if rs.MaxConcurrent > 0 {
			fmt.Fprintf(w, "failsoft_upstream_max_concurrent{%s,route=\"%s\"} %d\n", eng, escapeLabel(rs.Route), rs.MaxConcurrent)
		}
	}
	gauge := func(name, help string, v int64) {
		family(name, "gauge", help)
		fmt.Fprintf(w, "failsoft_%s{%s} %d\n", name, eng, v)
	}
	counter := func(name, help string, v uint64) {
		family(name, "counter", help)
		fmt.Fprintf(w, "failsoft_%s{%s} %d\n", name, eng, v)
	}
	ss := st.Store
	gauge("waiting_requests", "Requests waiting now for another request's fetch of the same key.", st.Waiting)
	gauge("store_bytes", "Bytes the store accounts for the entries it holds.", ss.Bytes)
	gauge("store_entries", "Entries the store holds.", ss.Entries)
	counter("store_sets_total", "Entries the store accepted.", ss.Stored)
	counter("store_evictions_total", "Entries evicted from the store to make room.", ss.Evictions)
	counter("store_swept_total", "Expired entries the store's sweeper removed.", ss.Swept)
	family("store_rejected_total", "counter", "Entries the store refused, by reason (too-large, not-admitted, dropped).")
	for _, r := range []struct {
		reason string
		n      uint64
	}{{"too-large", ss.RejectedTooLarge}, {"not-admitted", ss.RejectedNotAdmitted}, {"dropped", ss.RejectedDropped}} {
		fmt.Fprintf(w, "failsoft_store_rejected_total{%s,reason=%q} %d\n", eng, r.reason, r.n)
	}
	family("store_lookups_total", "counter", "Store lookups, by result (hit, miss).")
	fmt.Fprintf(w, "failsoft_store_lookups_total{%s,result=\"hit\"} %d\n", eng, ss.Hits)
	fmt.Fprintf(w, "failsoft_store_lookups_total{%s,result=\"miss\"} %d\n", eng, ss.Misses)
}

// escapeLabel escapes a label value for the text format: backslash, double quote and
// newline. (%q then adds the quotes; the values are route templates and engine names.)
func escapeLabel(s string) string {
	if !strings.ContainsAny(s, "\\\"\n") {
		return s
	}
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
}
