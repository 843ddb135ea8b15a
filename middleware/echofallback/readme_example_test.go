package echofallback_test

import (
	"context"
	"errors"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/failsoft/failsoft/cache"
	"github.com/failsoft/failsoft/middleware/echofallback"
	"github.com/failsoft/failsoft/middleware/httpfallback"
	"github.com/failsoft/failsoft/upstream"
)

// getItem stands for the application's handler.
func getItem(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"id": c.Param("id")})
}

// The README's Echo quick start (README_test checks the README quotes it): mount, serve,
// and shut down in the order that really closes: the server drains first, then the
// middleware stops its background fetches and closes its store.
func Example_quickStart() {
	fallback, err := echofallback.New(echofallback.Config{Engine: httpfallback.Config{
		Name:   "catalog", // hystrix command namespace
		Policy: cache.Policy{FreshFor: 5 * time.Second, StaleIfError: 24 * time.Hour},
		Common: upstream.Common{Command: upstream.Settings{Timeout: 800 * time.Millisecond}},
		Defaults: map[string]*httpfallback.Default{
			"/items/:id": { // per route template
				Header: http.Header{"Content-Type": {"application/json"}},
				Body:   []byte(`{"items":[]}`),
			},
		},
	}})
	if err != nil {
		log.Fatal(err) // bad configuration is an error naming the field, never a panic
	}
	e := echo.New()
	e.Use(fallback.MiddlewareFunc())
	e.GET("/items/:id", getItem)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		if err := e.Start(":8080"); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Print(err)
			stop()
		}
	}()
	<-ctx.Done()
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.Shutdown(shutdown); err != nil { // in-flight requests finish first
		log.Print(err)
	}
	if err := fallback.Close(); err != nil { // then background fetches stop, the store closes
		log.Print(err)
	}
}
