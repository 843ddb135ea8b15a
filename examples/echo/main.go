package main

import (
	"context"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/failsoft/failsoft/internal/graceful"
	"github.com/failsoft/failsoft/middleware/echofallback"
	"github.com/failsoft/failsoft/middleware/httpfallback"
	"github.com/failsoft/failsoft/upstream"
)

func main() { graceful.Main("example-echo", serve) }

// serve runs the app on ln until ctx ends, then drains requests and stops the middleware.
func serve(ctx context.Context, ln net.Listener, name string, timeout time.Duration) error {
	fb, err := echofallback.New(echofallback.Config{Engine: httpfallback.Config{
		Name:    name, // hystrix command namespace, unique per process
		Command: upstream.Settings{Timeout: timeout},
		Defaults: map[string]*httpfallback.Default{ // keyed by Echo route template
			"/quotes/:id": {Header: http.Header{"Content-Type": {"application/json"}}, Body: []byte(`{"quote":"Be patient."}`)},
		},
	}})
	if err != nil {
		return err
	}
	defer fb.Close()

	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.Use(middleware.Recover(), fb.MiddlewareFunc())
	var calls atomic.Int64
	e.GET("/quotes/:id", func(c echo.Context) error {
		if calls.Add(1)%3 == 0 {
			return echo.NewHTTPError(http.StatusBadGateway, "quote service down")
		}
		c.Response().Header().Set("Cache-Control", "max-age=5, stale-if-error=3600")
		return c.JSON(http.StatusOK, map[string]string{"id": c.Param("id"), "quote": "Keep answering."})
	})

	return graceful.Serve(ctx, ln, e)
}
