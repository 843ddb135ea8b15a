package cache_test

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/failsoft/failsoft/cache"
)

func ExampleKey() {
	r, _ := http.NewRequest(http.MethodHead, "http://API.example.com:80/v1/%7Eitems?sort=asc&page=2", nil)
	fmt.Println(cache.Key(r, cache.KeyOptions{}))

	r.Header.Set("Authorization", "Bearer secret")
	k := cache.Key(r, cache.KeyOptions{Credentials: true})
	fmt.Println(len(k) - len(cache.Key(r, cache.KeyOptions{})))
	// Output:
	// G|http|api.example.com|/v1/~items?page=2&sort=asc
	// 34
}

func ExampleParseCacheControl() {
	cc := cache.ParseCacheControl([]string{`max-age=600, stale-while-revalidate=30, stale-if-error="1200"`})
	fmt.Println(cc.MaxAge.Value, cc.StaleWhileRevalidate.Value, cc.StaleIfError.Value)
	// Output: 10m0s 30s 20m0s
}

func ExamplePolicy_NewEntry() {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	req, _ := http.NewRequest(http.MethodGet, "http://example.com/", nil)
	h := http.Header{"Cache-Control": {"max-age=60, stale-while-revalidate=30, stale-if-error=600"}}

	e, err := cache.Policy{}.NewEntry(req, http.StatusOK, h, []byte("hello"), t0, t0)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, after := range []time.Duration{0, time.Minute, 90 * time.Second, 11 * time.Minute} {
		now := t0.Add(after)
		fmt.Printf("%v: %v ttl=%v age=%v\n", after, e.State(now), e.TTL(now), e.Age(now))
	}

	_, err = cache.Policy{}.NewEntry(req, http.StatusOK, http.Header{"Cache-Control": {"private"}}, nil, t0, t0)
	fmt.Println(err)
	// Output:
	// 0s: fresh ttl=1m0s age=0s
	// 1m0s: stale ttl=0s age=1m0s
	// 1m30s: stale-if-error ttl=-30s age=1m30s
	// 11m0s: gone ttl=-10m0s age=11m0s
	// cache: not storable: private
}

func ExampleNew() {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	store, err := cache.New(cache.Config{MaxBytes: 32 << 20, Now: func() time.Time { return t0 }})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer store.Close()

	req, _ := http.NewRequest(http.MethodGet, "http://example.com/items", nil)
	e, _ := cache.Policy{FreshFor: time.Minute}.NewEntry(req, 200, http.Header{}, []byte("[1,2,3]"), t0, t0)
	key := cache.Key(req, cache.KeyOptions{})
	ctx := context.Background()

	fmt.Println(store.Set(ctx, key, e)) // visible to every Get from here on
	got, state := store.Get(ctx, key, t0.Add(10*time.Second))
	fmt.Println(string(got.Body), state)
	_, state = store.Get(ctx, key, t0.Add(2*time.Hour))
	fmt.Println(state)
	s := store.Stats()
	fmt.Println(s.Stored, s.Hits, s.Misses)
	// Output:
	// true
	// [1,2,3] fresh
	// gone
	// 1 1 1
}

func ExampleLookup() {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	store, _ := cache.New(cache.Config{Now: func() time.Time { return t0 }})
	defer store.Close()
	ctx := context.Background()
	h := http.Header{"Cache-Control": {"max-age=60"}, "Vary": {"Accept-Language"}}

	for _, lang := range []string{"en", "fr"} {
		req, _ := http.NewRequest(http.MethodGet, "http://example.com/greeting", nil)
		req.Header.Set("Accept-Language", lang)
		e, _ := cache.Policy{}.NewEntry(req, 200, h, []byte("greeting in "+lang), t0, t0)
		cache.Save(ctx, store, cache.Key(req, cache.KeyOptions{}), req, e)
	}
	for _, lang := range []string{"en", "fr", "de"} {
		req, _ := http.NewRequest(http.MethodGet, "http://example.com/greeting", nil)
		req.Header.Set("Accept-Language", lang)
		e, state := cache.Lookup(ctx, store, cache.Key(req, cache.KeyOptions{}), req, t0)
		if e == nil {
			fmt.Println(lang, state)
			continue
		}
		fmt.Println(lang, state, string(e.Body))
	}
	// Output:
	// en fresh greeting in en
	// fr fresh greeting in fr
	// de gone
}

// A key requested twice (Config.ProtectAfter) within Config.ProtectWindow is kept in the
// protected half of the store: a scan of one-off keys goes through the other half.
func ExampleConfig_protectAfter() {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	store, err := cache.New(cache.Config{MaxBytes: 1 << 20, Now: clock, ProtectAfter: 2, ProtectWindow: time.Minute})
	if err != nil {
		panic(err)
	}
	defer store.Close()
	req, _ := http.NewRequest(http.MethodGet, "http://api.example/items/1", nil)
	h := http.Header{"Cache-Control": {"max-age=60"}}
	e, err := cache.Policy{}.NewEntry(req, 200, h, []byte(`{"id":1}`), now, now)
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	key := cache.Key(req, cache.KeyOptions{})
	store.Get(ctx, key, now) // the first request: a miss
	store.Set(ctx, key, e)
	store.Get(ctx, key, now) // the second request: a hit, and the entry is protected
	st := store.Stats()
	fmt.Println(st.Promoted, st.ProtectedBytes > 0)
	// Output: 1 true
}
