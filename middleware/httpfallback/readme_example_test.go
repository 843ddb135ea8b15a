package httpfallback_test

import (
	"context"
	"errors"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/failsoft/failsoft/cache"
	"github.com/failsoft/failsoft/middleware/httpfallback"
)

// getItem stands for the application's handler.
func getItem(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"id":"` + r.PathValue("id") + `"}`))
}

// The README's net/http quick start (README_test checks the README quotes it): wrap each
// route's handler (the route is the mux pattern), serve, and shut down in the order that
// really closes.
func Example_quickStart() {
	eng, err := httpfallback.New(httpfallback.Config{
		Name:   "catalog",
		Policy: cache.Policy{FreshFor: 5 * time.Second},
	})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /items/{id}", eng.Handler(http.HandlerFunc(getItem))) // route = the mux pattern
	srv := &http.Server{Addr: ":8080", Handler: mux, ReadHeaderTimeout: 5 * time.Second}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Print(err)
			stop()
		}
	}()
	<-ctx.Done()
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil { // in-flight requests finish first
		log.Print(err)
	}
	if err := eng.Close(); err != nil { // then background fetches stop, the store closes
		log.Print(err)
	}
}
