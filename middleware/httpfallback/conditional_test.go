package httpfallback

import (
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/failsoft/failsoft/internal/fakeclock"
)

// httpDate formats t as an IMF-fixdate.
func httpDate(t time.Time) string { return t.UTC().Format(http.TimeFormat) }

// assertNotModified checks a 304 answered from the entry: no body, no Content-Length, the
// entry's validators, our Cache-Status and Age — what a 304 for If-None-Match carries.
func assertNotModified(t *testing.T, r engResp, cs string) {
	t.Helper()
	require.Equal(t, http.StatusNotModified, r.status, "Cache-Status %q", r.cs())
	assert.Empty(t, r.body)
	assert.Empty(t, r.header.Get("Content-Length"))
	assert.Equal(t, cs, r.cs())
	assert.NotEmpty(t, r.header.Get("Age"))
}

// If-Modified-Since is answered from the entry's Last-Modified (RFC 9111 4.3.2): 304 when
// the entry was not modified after the date, 200 with the body when it was; an invalid,
// repeated or future date is ignored. The source runs once: conditionals never reach it.
func TestIfModifiedSinceAnsweredFromEntry(t *testing.T) {
	lm := fakeclock.New().Now().Add(-time.Hour)
	hs := newEngHarness(t, Config{}, func(w http.ResponseWriter, r *http.Request) {
		assert.Empty(t, r.Header.Get("If-Modified-Since"), "client conditionals are not forwarded")
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Last-Modified", httpDate(lm))
		fmt.Fprint(w, "body")
	})

	// A miss is fetched in full, stored, then answered against the new entry.
	assertNotModified(t, hs.get("/m", "If-Modified-Since", httpDate(lm)), "failsoft; fwd=uri-miss; fwd-status=200; stored")
	hs.clock.Advance(10 * time.Second)

	const hit = "failsoft; hit; ttl=50"
	assertNotModified(t, hs.get("/m", "If-Modified-Since", httpDate(lm)), hit)
	r := hs.get("/m", "If-Modified-Since", httpDate(lm.Add(30*time.Minute)))
	assertNotModified(t, r, hit)
	assert.Equal(t, "10", r.header.Get("Age"))
	assert.Equal(t, httpDate(lm), r.header.Get("Last-Modified"))
	// The obsolete formats http.ParseTime accepts are valid too (RFC 9110 5.6.7).
	assertNotModified(t, hs.get("/m", "If-Modified-Since", lm.Format(time.RFC850)), hit)

	for name, ims := range map[string][]string{
		"modified after": {httpDate(lm.Add(-time.Second))},
		"invalid":        {"yesterday"},
		"future":         {httpDate(hs.clock.Now().Add(time.Minute))},
		"two values":     {httpDate(lm), httpDate(lm)},
		"empty":          {""},
		"date with junk": {httpDate(lm) + " junk"},
	} {
		var hdr []string
		for _, v := range ims {
			hdr = append(hdr, "If-Modified-Since", v)
		}
		r := hs.get("/m", hdr...)
		assert.Equal(t, http.StatusOK, r.status, name)
		assert.Equal(t, "body", r.body, name)
		assert.Equal(t, hit, r.cs(), name)
	}
	assert.EqualValues(t, 1, hs.calls.Load())
}

// If-None-Match, when present, decides alone (RFC 9110 13.2.2): If-Modified-Since is
// ignored whatever it says, also when the entry has no ETag.
func TestIfNoneMatchTakesPrecedenceOverIfModifiedSince(t *testing.T) {
	lm := fakeclock.New().Now().Add(-time.Hour)
	hs := newEngHarness(t, Config{}, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Last-Modified", httpDate(lm))
		if r.URL.Path == "/etag" {
			w.Header().Set("ETag", `"v1"`)
		}
		fmt.Fprint(w, "body")
	})
	require.Equal(t, http.StatusOK, hs.get("/etag").status)
	require.Equal(t, http.StatusOK, hs.get("/plain").status)

	ims := httpDate(lm)
	r := hs.get("/etag", "If-None-Match", `"other"`, "If-Modified-Since", ims)
	assert.Equal(t, http.StatusOK, r.status)
	assert.Equal(t, "body", r.body)
	r = hs.get("/plain", "If-None-Match", `"v1"`, "If-Modified-Since", ims)
	assert.Equal(t, http.StatusOK, r.status, "no ETag: If-None-Match does not match, and If-Modified-Since is ignored")
	assert.Equal(t, "body", r.body)
	// A matching If-None-Match with an If-Modified-Since the entry was modified after: 304.
	assertNotModified(t, hs.get("/etag", "If-None-Match", `"v1"`, "If-Modified-Since", httpDate(lm.Add(-time.Hour))), "failsoft; hit; ttl=60")
	// Without If-None-Match, the same If-Modified-Since answers 304 on both.
	assertNotModified(t, hs.get("/etag", "If-Modified-Since", ims), "failsoft; hit; ttl=60")
	assertNotModified(t, hs.get("/plain", "If-Modified-Since", ims), "failsoft; hit; ttl=60")
	// "*" matches any stored representation, with or without an ETag (RFC 9110 13.1.2);
	// empty list members match nothing.
	assertNotModified(t, hs.get("/plain", "If-None-Match", "*"), "failsoft; hit; ttl=60")
	assertNotModified(t, hs.get("/etag", "If-None-Match", `"other", *`), "failsoft; hit; ttl=60")
	r = hs.get("/plain", "If-None-Match", ", ,")
	assert.Equal(t, http.StatusOK, r.status, "empty members do not match an entry without an ETag")
	assert.Equal(t, "body", r.body)
	assert.EqualValues(t, 2, hs.calls.Load())
}

// An entry without Last-Modified is dated by its Date; without Date, by the time it was
// stored (to the second).
func TestIfModifiedSinceWithoutLastModified(t *testing.T) {
	date := fakeclock.New().Now().Add(-10 * time.Minute)
	hs := newEngHarness(t, Config{}, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=3600")
		if r.URL.Path == "/dated" {
			w.Header().Set("Date", httpDate(date))
		}
		fmt.Fprint(w, "body")
	})
	hs.clock.Advance(500 * time.Millisecond) // stored at 03:04:05.5: compared as 03:04:05
	stored := fakeclock.New().Now().Truncate(time.Second)
	require.Equal(t, http.StatusOK, hs.get("/dated").status)
	require.Equal(t, http.StatusOK, hs.get("/undated").status)
	hs.clock.Advance(time.Minute)

	assertNotModified(t, hs.get("/dated", "If-Modified-Since", httpDate(date)), "failsoft; hit; ttl=2939")
	r := hs.get("/dated", "If-Modified-Since", httpDate(date.Add(-time.Second)))
	assert.Equal(t, http.StatusOK, r.status)
	assert.Equal(t, "body", r.body)
	// Stored a minute after date + 1s, but dated by its Date: not modified since.
	assertNotModified(t, hs.get("/dated", "If-Modified-Since", httpDate(date.Add(time.Second))), "failsoft; hit; ttl=2939")

	assertNotModified(t, hs.get("/undated", "If-Modified-Since", httpDate(stored)), "failsoft; hit; ttl=3540")
	r = hs.get("/undated", "If-Modified-Since", httpDate(stored.Add(-time.Second)))
	assert.Equal(t, http.StatusOK, r.status)
	assert.Equal(t, "body", r.body)
	assert.EqualValues(t, 2, hs.calls.Load())
}

// HEAD gets the same 304, and a 200 without body when modified.
func TestIfModifiedSinceHead(t *testing.T) {
	lm := fakeclock.New().Now().Add(-time.Hour)
	hs := newEngHarness(t, Config{}, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Last-Modified", httpDate(lm))
		fmt.Fprint(w, "body")
	})
	require.Equal(t, http.StatusOK, hs.get("/h").status)
	assertNotModified(t, hs.do(http.MethodHead, "/h", "If-Modified-Since", httpDate(lm)), "failsoft; hit; ttl=60")
	r := hs.do(http.MethodHead, "/h", "If-Modified-Since", httpDate(lm.Add(-time.Second)))
	assert.Equal(t, http.StatusOK, r.status)
	assert.Empty(t, r.body)
	assert.Equal(t, "4", r.header.Get("Content-Length"))
	assert.EqualValues(t, 1, hs.calls.Load())
}

// A stale answer — within stale-while-revalidate, or on failure within stale-if-error —
// honours If-Modified-Since as a fresh hit does, with its own Cache-Status.
func TestIfModifiedSinceOnStaleAnswers(t *testing.T) {
	lm := fakeclock.New().Now().Add(-time.Hour)
	var fail atomic.Bool
	hs := newEngHarness(t, Config{}, func(w http.ResponseWriter, r *http.Request) {
		if fail.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		if r.URL.Path == "/swr" {
			w.Header().Set("Cache-Control", "max-age=5, stale-while-revalidate=100")
		} else {
			w.Header().Set("Cache-Control", "max-age=5, stale-if-error=100")
		}
		w.Header().Set("Last-Modified", httpDate(lm))
		fmt.Fprint(w, "body")
	})
	require.Equal(t, http.StatusOK, hs.get("/swr").status)
	require.Equal(t, http.StatusOK, hs.get("/sie").status)
	hs.clock.Advance(10 * time.Second)
	fail.Store(true)

	assertNotModified(t, hs.get("/sie", "If-Modified-Since", httpDate(lm)),
		"failsoft; fwd=stale; fwd-status=503; ttl=-5; detail=upstream-5xx")
	r := hs.get("/sie", "If-Modified-Since", httpDate(lm.Add(-time.Second)))
	assert.Equal(t, http.StatusOK, r.status)
	assert.Equal(t, "body", r.body)

	assertNotModified(t, hs.get("/swr", "If-Modified-Since", httpDate(lm)),
		"failsoft; hit; ttl=-5; detail=stale-while-revalidate")
}
