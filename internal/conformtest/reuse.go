package conformtest

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/failsoft/failsoft/cache"
	"github.com/failsoft/failsoft/middleware/httpfallback"
)

// validating is an origin that answers 304 (with the header fields kv) to a request
// carrying the validator etag or the date lastMod, and 200 with body otherwise.
func validating(etag, lastMod, body string, kv ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i+1 < len(kv); i += 2 {
			w.Header().Set(kv[i], kv[i+1])
		}
		if etag != "" {
			w.Header().Set("Etag", etag)
		}
		if lastMod != "" {
			w.Header().Set("Last-Modified", lastMod)
		}
		if (etag != "" && r.Header.Get("If-None-Match") == etag) || (lastMod != "" && r.Header.Get("If-Modified-Since") == lastMod) {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		_, _ = w.Write([]byte(body))
	}
}

// Reuse is RFC 9111 section 4 (constructing responses from caches): 4.1 Vary, 4.2
// freshness, 4.2.4 serving stale, 4.3 validation, 4.4 invalidation; and the fallback
// rules failsoft adds (stale-if-error from configuration, non-2xx never served stale).
func Reuse(t *testing.T, m Mount) {
	lastMod := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC).Format(http.TimeFormat)
	neverStale := func(cc string, cfg httpfallback.Config, served bool) rule {
		name := "4.2.4_stale_" + cc + "_never_served_on_failure"
		if served {
			name = "4.2.4_stale_" + cc + "_served_on_failure_with_operator_override"
		}
		return rule{name: name, cfg: cfg, run: func(t *testing.T, h *H) {
			h.Origin(answer(200, "good", "Cache-Control", cc, "Etag", `"v1"`))
			require.Equal(t, "good", h.Get("/r").Body)
			h.Advance(20 * time.Second)
			h.Origin(failing())
			r := h.Get("/r")
			if served {
				require.Equal(t, 200, r.Status)
				require.Equal(t, "good", r.Body)
				return
			}
			require.Equal(t, http.StatusServiceUnavailable, r.Status)
			require.NotEqual(t, "good", r.Body)
			require.Equal(t, `"v1"`, h.Last().Get("If-None-Match"), "the stale entry lent its validator")
		}}
	}
	override := httpfallback.Config{Policy: cache.Policy{ServeStaleDespiteRevalidate: true}}
	rules := []rule{
		{name: "4_fresh_answer_served_from_store_with_Age", run: func(t *testing.T, h *H) {
			h.Origin(answer(200, "x", "Cache-Control", "max-age=60", "Date", h.Date()))
			h.Get("/r")
			h.Advance(10 * time.Second)
			r := h.Get("/r")
			require.EqualValues(t, 1, h.Calls())
			require.Equal(t, "10", r.Header.Get("Age"))
		}},
		{name: "4_HEAD_answered_from_the_GET_entry_without_body", run: func(t *testing.T, h *H) {
			h.Origin(answer(200, "x", "Cache-Control", "max-age=60"))
			h.Get("/r")
			r := h.Do(http.MethodHead, "/r")
			require.EqualValues(t, 1, h.Calls())
			require.Equal(t, 200, r.Status)
			require.Empty(t, r.Body)
		}},
		{name: "4.1_Vary_selecting_fields_must_match", run: func(t *testing.T, h *H) {
			h.Origin(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Cache-Control", "max-age=60")
				w.Header().Set("Vary", "Accept-Language")
				_, _ = w.Write([]byte("lang=" + r.Header.Get("Accept-Language")))
			})
			require.Equal(t, "lang=en", h.Get("/r", "Accept-Language", "en").Body)
			require.Equal(t, "lang=fr", h.Get("/r", "Accept-Language", "fr").Body)
			require.Equal(t, "lang=en", h.Get("/r", "Accept-Language", "en").Body)
			require.EqualValues(t, 2, h.Calls())
		}},
		{name: "4.2.1_s-maxage_overrides_max-age", run: func(t *testing.T, h *H) {
			h.Origin(answer(200, "x", "Cache-Control", "max-age=100, s-maxage=10"))
			h.Get("/r")
			h.Advance(20 * time.Second)
			h.Get("/r")
			require.EqualValues(t, 2, h.Calls())
		}},
		{name: "4.2.1_Expires_minus_Date", run: func(t *testing.T, h *H) {
			h.Origin(func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Date", h.Date())
				w.Header().Set("Expires", h.Now().Add(30*time.Second).UTC().Format(http.TimeFormat))
				_, _ = w.Write([]byte("x"))
			})
			h.Get("/r")
			h.Advance(20 * time.Second)
			h.Get("/r")
			require.EqualValues(t, 1, h.Calls(), "fresh for 30 s")
			h.Advance(20 * time.Second)
			h.Get("/r")
			require.EqualValues(t, 2, h.Calls())
		}},
		{name: "4.2.1_invalid_Expires_is_stale", run: func(t *testing.T, h *H) {
			h.Origin(answer(200, "x", "Expires", "0", "Date", h.Date()))
			require.EqualValues(t, 2, twice(h, "/r"))
		}},
		{name: "4.2.3_Age_counts_against_freshness", run: func(t *testing.T, h *H) {
			h.Origin(answer(200, "x", "Cache-Control", "max-age=60", "Age", "50"))
			h.Get("/r")
			h.Advance(5 * time.Second)
			require.Equal(t, "55", h.Get("/r").Header.Get("Age"))
			h.Advance(10 * time.Second)
			h.Get("/r")
			require.EqualValues(t, 2, h.Calls())
		}},
		neverStale("max-age=10, must-revalidate", httpfallback.Config{}, false),
		neverStale("max-age=10, proxy-revalidate", httpfallback.Config{}, false),
		neverStale("no-cache", httpfallback.Config{}, false),
		neverStale("s-maxage=10", httpfallback.Config{}, false),
		neverStale("max-age=10, must-revalidate", override, true),
		{name: "4.2.4_departure_stale-if-error_from_configuration", run: func(t *testing.T, h *H) {
			h.Origin(answer(200, "good", "Cache-Control", "max-age=10"))
			h.Get("/r")
			h.Advance(20 * time.Second)
			h.Origin(failing())
			r := h.Get("/r")
			require.Equal(t, 200, r.Status)
			require.Equal(t, "good", r.Body)
			require.Contains(t, r.Header.Get("Cache-Status"), "fwd=stale")
			h.Advance(cache.DefaultStaleIfError)
			require.Equal(t, http.StatusServiceUnavailable, h.Get("/r").Status, "past the window: not served")
		}},
		{name: "4.3.1_stale_entry_revalidated_with_If-None-Match_and_If-Modified-Since", run: func(t *testing.T, h *H) {
			h.Origin(validating(`"v1"`, lastMod, "body", "Cache-Control", "max-age=10"))
			h.Get("/r")
			h.Advance(20 * time.Second)
			r := h.Get("/r")
			require.Equal(t, `"v1"`, h.Last().Get("If-None-Match"))
			require.Equal(t, lastMod, h.Last().Get("If-Modified-Since"))
			require.Equal(t, "body", r.Body)
		}},
		{name: "4.3.1_must-revalidate_entry_revalidated_not_refetched", run: func(t *testing.T, h *H) {
			h.Origin(validating(`"v1"`, "", "body", "Cache-Control", "max-age=10, must-revalidate"))
			h.Get("/r")
			h.Advance(20 * time.Second)
			r := h.Get("/r")
			require.Equal(t, `"v1"`, h.Last().Get("If-None-Match"), "conditional, with the stored validator")
			require.Equal(t, 200, r.Status)
			require.Equal(t, "body", r.Body)
			h.Get("/r")
			require.EqualValues(t, 2, h.Calls(), "the 304 made it fresh again (4.3.3)")
		}},
		{name: "4.3.1_must-revalidate_entry_revalidated_with_Last-Modified", run: func(t *testing.T, h *H) {
			h.Origin(validating("", lastMod, "body", "Cache-Control", "max-age=10, must-revalidate"))
			h.Get("/r")
			h.Advance(20 * time.Second)
			require.Equal(t, "body", h.Get("/r").Body)
			require.Equal(t, lastMod, h.Last().Get("If-Modified-Since"))
		}},
		{name: "4.3.1_no-cache_entry_revalidated_on_every_use", run: func(t *testing.T, h *H) {
			h.Origin(validating(`"v1"`, "", "body", "Cache-Control", "no-cache"))
			h.Get("/r")
			for range 2 {
				require.Equal(t, "body", h.Get("/r").Body)
				require.Equal(t, `"v1"`, h.Last().Get("If-None-Match"))
			}
			require.EqualValues(t, 3, h.Calls())
		}},
		{name: "4.3.2_client_conditional_answered_from_store", run: func(t *testing.T, h *H) {
			h.Origin(answer(200, "x", "Cache-Control", "max-age=60", "Etag", `"v1"`))
			h.Get("/r")
			r := h.Get("/r", "If-None-Match", `"v1"`)
			require.Equal(t, http.StatusNotModified, r.Status)
			require.Empty(t, r.Body)
			require.EqualValues(t, 1, h.Calls())
		}},
		{name: "4.3.4_304_with_another_strong_validator_does_not_update", run: func(t *testing.T, h *H) {
			h.Origin(answer(200, "old", "Cache-Control", "max-age=10", "Etag", `"v1"`))
			h.Get("/r")
			h.Advance(20 * time.Second)
			h.Origin(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Etag", `"v2"`)
				w.Header().Set("Cache-Control", "max-age=10")
				if r.Header.Get("If-None-Match") != "" {
					w.WriteHeader(http.StatusNotModified)
					return
				}
				_, _ = w.Write([]byte("new"))
			})
			r := h.Get("/r")
			require.Equal(t, "new", r.Body)
			require.Equal(t, `"v2"`, r.Header.Get("Etag"))
		}},
		{name: "4.4_unsafe_method_invalidates_target_URI", run: invalidation(http.MethodPost, 200, "", "/r", true)},
		{name: "4.4_PUT_invalidates_target_URI", run: invalidation(http.MethodPut, 204, "", "/r", true)},
		{name: "4.4_DELETE_invalidates_target_URI", run: invalidation(http.MethodDelete, 200, "", "/r", true)},
		{name: "4.4_unknown_method_invalidates_target_URI", run: invalidation("FROB", 200, "", "/r", true)},
		{name: "4.4_error_answer_does_not_invalidate", run: invalidation(http.MethodPost, 400, "", "/r", false)},
		{name: "4.4_Location_invalidated_when_same_origin", run: invalidation(http.MethodPost, 201, "Location", "/other", true)},
		{name: "4.4_Content-Location_invalidated_when_same_origin", run: invalidation(http.MethodPost, 200, "Content-Location", "/other", true)},
		{name: "4.4_Location_of_another_origin_not_invalidated", run: invalidation(http.MethodPost, 201, "Location", "http://elsewhere.example/other", false)},
		{name: "4_non-2xx_served_while_fresh_never_stale", run: func(t *testing.T, h *H) {
			h.Origin(answer(404, "missing", "Cache-Control", "max-age=10"))
			h.Get("/r")
			require.Equal(t, "missing", h.Get("/r").Body)
			require.EqualValues(t, 1, h.Calls())
			h.Advance(20 * time.Second)
			h.Origin(failing())
			r := h.Get("/r")
			require.Equal(t, http.StatusServiceUnavailable, r.Status, "a stale 404 is not the fallback")
		}},
		{name: "4_non-2xx_served_stale_with_Policy_StaleNon2xx", cfg: httpfallback.Config{Policy: cache.Policy{StaleNon2xx: true}}, run: func(t *testing.T, h *H) {
			h.Origin(answer(404, "missing", "Cache-Control", "max-age=10"))
			h.Get("/r")
			h.Advance(20 * time.Second)
			h.Origin(failing())
			r := h.Get("/r")
			require.Equal(t, 404, r.Status)
			require.Equal(t, "missing", r.Body)
		}},
		{name: "4_non-2xx_does_not_replace_the_last_good_answer", run: func(t *testing.T, h *H) {
			h.Origin(answer(200, "good", "Cache-Control", "max-age=10"))
			h.Get("/r")
			h.Advance(20 * time.Second)
			h.Origin(answer(404, "missing", "Cache-Control", "max-age=60"))
			r := h.Get("/r")
			require.Equal(t, 404, r.Status, "the origin's answer is passed on")
			require.Contains(t, r.Header.Get("Cache-Status"), "detail=last-good-kept")
			h.Origin(failing())
			r = h.Get("/r")
			require.Equal(t, 200, r.Status, "the failure is covered by the last good answer")
			require.Equal(t, "good", r.Body)
		}},
	}
	runRules(t, m, rules)
}

// invalidation stores /r and /other, sends method to /r, answered status with the field
// name: ref (none when name is ""), and checks whether the entry of /r (or of /other
// when ref names it) was invalidated.
func invalidation(method string, status int, name, ref string, invalidated bool) func(t *testing.T, h *H) {
	return func(t *testing.T, h *H) {
		version := 0
		h.Origin(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodGet {
				if name != "" {
					w.Header().Set(name, ref)
				}
				w.WriteHeader(status)
				return
			}
			w.Header().Set("Cache-Control", "max-age=60")
			_, _ = w.Write([]byte(r.URL.Path + " v" + strconv.Itoa(version)))
		})
		h.Get("/r")
		h.Get("/other")
		before := h.Calls()
		h.Do(method, "/r")
		require.Equal(t, before+1, h.Calls())
		target := "/r"
		if name != "" {
			target = "/other"
			h.Get("/r")
		}
		mid := h.Calls()
		h.Get(target)
		require.Equal(t, invalidated, h.Calls() > mid, "%s %s invalidated", method, target)
	}
}
