package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/failsoft/failsoft/internal/graceful"
	"github.com/failsoft/failsoft/middleware/httpfallback"
	"github.com/failsoft/failsoft/upstream"
)

func main() { graceful.Main("example-nethttp", serve) }

// serve runs the mux on ln until ctx ends, then drains requests and stops the engine.
func serve(ctx context.Context, ln net.Listener, name string, timeout time.Duration) error {
	const route = "GET /quotes/{id}"
	fb, err := httpfallback.New(httpfallback.Config{
		Name:    name, // hystrix command namespace, unique per process
		Command: upstream.Settings{Timeout: timeout},
		Defaults: map[string]*httpfallback.Default{ // keyed by mux pattern
			route: {Header: http.Header{"Content-Type": {"application/json"}}, Body: []byte(`{"quote":"Be patient."}`)},
		},
	})
	if err != nil {
		return err
	}
	defer fb.Close()

	var calls atomic.Int64
	mux := http.NewServeMux()
	mux.Handle(route, fb.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1)%3 == 0 {
			http.Error(w, "quote service down", http.StatusBadGateway)
			return
		}
		w.Header().Set("Cache-Control", "max-age=5, stale-if-error=3600")
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"id":%q,"quote":"Keep answering."}`, r.PathValue("id"))
	})))

	return graceful.Serve(ctx, ln, mux)
}
