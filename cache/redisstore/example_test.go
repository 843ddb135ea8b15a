package redisstore_test

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/failsoft/failsoft/cache"
	"github.com/failsoft/failsoft/cache/redisstore"
	"github.com/failsoft/failsoft/middleware/httpfallback"
)

// A value in Redis is an entry in a versioned binary encoding with a checksum; anything else
// decodes to an error, and the store treats it as a miss.
func ExampleDecode() {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	data, err := redisstore.Encode(&cache.Entry{
		Status:       http.StatusOK,
		Header:       cache.MakeHeader(http.Header{"Content-Type": {"application/json"}}),
		Body:         []byte(`{"price":42}`),
		ResponseTime: now,
		FreshUntil:   now.Add(time.Minute),
		ErrorUntil:   now.Add(time.Hour),
	})
	if err != nil {
		panic(err)
	}
	e, err := redisstore.Decode(data)
	fmt.Println(e.Status, string(e.Body), e.Expires().Sub(now), err)

	data[len(data)/2] ^= 1 // one flipped bit
	_, err = redisstore.Decode(data)
	fmt.Println(err)
	_, err = redisstore.Decode([]byte(`{"status":200}`))
	fmt.Println(err)
	// Output:
	// 200 {"price":42} 1h0m0s <nil>
	// redisstore: corrupt value: checksum mismatch
	// redisstore: foreign value
}

// A replica of a service: the in-process cache in front, Redis shared by every replica behind,
// used as the engine's store.
func ExampleNewTiered() {
	local, err := cache.New(cache.Config{MaxBytes: 64 << 20})
	if err != nil {
		panic(err)
	}
	remote, err := redisstore.New(redisstore.Config{
		Addr:    "127.0.0.1:6379",
		Prefix:  "myservice:",
		Timeout: 50 * time.Millisecond,
		Breaker: redisstore.BreakerConfig{Failures: 5, OpenFor: time.Second},
	})
	if err != nil {
		panic(err)
	}
	store, err := redisstore.NewTiered(local, remote, redisstore.TieredConfig{})
	if err != nil {
		panic(err)
	}
	defer store.Close() // closes both tiers

	eng, err := httpfallback.New(httpfallback.Config{Name: "myservice", Store: store})
	if err != nil {
		panic(err)
	}
	defer eng.Close()

	mux := http.NewServeMux()
	mux.Handle("GET /prices/{id}", eng.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=30, stale-if-error=86400")
		fmt.Fprintln(w, `{"price":42}`)
	})))
	_ = mux // http.ListenAndServe(":8080", mux)

	// A purge (or an unsafe request through the engine) reaches every replica.
	store.Delete(context.Background(), "some key")
}
