package httpfallback_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/failsoft/failsoft/middleware/httpfallback"
	"github.com/failsoft/failsoft/upstream"
)

// An adapter whose Fetcher needs per-request state builds it only when the engine may
// call the source: the miss builds it, the fresh hit does not.
func ExampleEngine_ServeLazy() {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) // a still clock: the ttl reads 60
	eng, err := httpfallback.New(httpfallback.Config{Name: "example-serve-lazy", Common: upstream.Common{Now: func() time.Time { return now }}})
	if err != nil {
		panic(err)
	}
	defer eng.Close()

	for range 2 {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, "http://svc.test/price", nil)
		eng.ServeLazy(rec, req, "GET /price", func() httpfallback.Fetcher {
			fmt.Println("building the fetcher")
			return func(ctx context.Context, w http.ResponseWriter, r *http.Request) error {
				return eng.RunCommand(ctx, "GET /price", w, r, func(_ context.Context, w http.ResponseWriter, _ *http.Request) error {
					w.Header().Set("Cache-Control", "max-age=60")
					fmt.Fprint(w, "42")
					return nil
				})
			}
		})
		fmt.Println(rec.Body.String(), rec.Header().Get("Cache-Status"))
	}
	// Output:
	// building the fetcher
	// 42 failsoft; fwd=uri-miss; fwd-status=200; stored
	// 42 failsoft; hit; ttl=60
}
