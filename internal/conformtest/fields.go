package conformtest

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/failsoft/failsoft/cache"
	"github.com/failsoft/failsoft/middleware/httpfallback"
)

// Fields is RFC 9111 section 5 (field definitions): 5.1 Age, 5.2 Cache-Control
// directives, 5.3 Expires; and RFC 5861's stale-while-revalidate and stale-if-error.
func Fields(t *testing.T, m Mount) {
	var rules []rule
	for name, ages := range map[string][]string{
		"abc": {"abc"}, "negative": {"-1"}, "fraction": {"1.5"}, "list": {"3600, 0"},
		"list_of_zeros": {"0, 0"}, "two_lines": {"0", "0"}, "parameter": {"0;p=1"},
	} {
		rules = append(rules, rule{name: "5.1_invalid_Age_is_stale/" + name, run: func(t *testing.T, h *H) {
			h.Origin(func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Cache-Control", "max-age=3600")
				w.Header()["Age"] = ages
				_, _ = w.Write([]byte("x"))
			})
			require.EqualValues(t, 2, twice(h, "/r"), "stale: not served from the store without a fetch")
		}})
	}
	rules = append(rules, []rule{
		{name: "5.1_Age_sent_with_stored_answers", run: func(t *testing.T, h *H) {
			h.Origin(answer(200, "x", "Cache-Control", "max-age=60", "Age", "7"))
			h.Get("/r")
			h.Advance(3 * time.Second)
			r := h.Get("/r")
			require.Equal(t, []string{"10"}, r.Header.Values("Age"))
		}},
		{name: "5.2.2.1_max-age_zero_is_stale_at_once", run: func(t *testing.T, h *H) {
			h.Origin(answer(200, "x", "Cache-Control", "max-age=0"))
			require.EqualValues(t, 2, twice(h, "/r"))
		}},
		{name: "5.2.2.1_invalid_max-age_is_stale", run: func(t *testing.T, h *H) {
			h.Origin(answer(200, "x", "Cache-Control", "max-age=ten"))
			require.EqualValues(t, 2, twice(h, "/r"))
		}},
		{name: "5.2.2.4_qualified_no-cache_field_not_served_from_store", run: func(t *testing.T, h *H) {
			h.Origin(answer(200, "x", "Cache-Control", `max-age=60, no-cache="X-Secret"`, "X-Secret", "s", "X-Plain", "p"))
			h.Get("/r")
			r := h.Get("/r")
			require.EqualValues(t, 1, h.Calls())
			require.Empty(t, r.Header.Get("X-Secret"))
			require.Equal(t, "p", r.Header.Get("X-Plain"))
		}},
		{name: "5.2.2.7_qualified_private_field_not_stored", run: func(t *testing.T, h *H) {
			h.Origin(answer(200, "x", "Cache-Control", `max-age=60, private="X-User"`, "X-User", "u"))
			h.Get("/r")
			r := h.Get("/r")
			require.EqualValues(t, 1, h.Calls())
			require.Empty(t, r.Header.Get("X-User"))
		}},
		{name: "5.2.2.10_s-maxage_wins_and_forbids_stale_on_failure", run: func(t *testing.T, h *H) {
			h.Origin(answer(200, "good", "Cache-Control", "max-age=3600, s-maxage=10"))
			h.Get("/r")
			h.Advance(20 * time.Second)
			h.Origin(failing())
			require.Equal(t, http.StatusServiceUnavailable, h.Get("/r").Status)
		}},
		{name: "5.3_Expires_in_the_past_is_stale", run: func(t *testing.T, h *H) {
			h.Origin(func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Date", h.Date())
				w.Header().Set("Expires", h.Now().Add(-time.Hour).UTC().Format(http.TimeFormat))
				_, _ = w.Write([]byte("x"))
			})
			require.EqualValues(t, 2, twice(h, "/r"))
		}},
		{name: "5.3_max-age_overrides_Expires", run: func(t *testing.T, h *H) {
			h.Origin(func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Date", h.Date())
				w.Header().Set("Expires", h.Now().Add(-time.Hour).UTC().Format(http.TimeFormat))
				w.Header().Set("Cache-Control", "max-age=60")
				_, _ = w.Write([]byte("x"))
			})
			require.EqualValues(t, 1, twice(h, "/r"))
		}},
		{name: "RFC5861_3_stale-while-revalidate_served_and_refreshed", run: func(t *testing.T, h *H) {
			h.Origin(answer(200, "v1", "Cache-Control", "max-age=10, stale-while-revalidate=60"))
			h.Get("/r")
			h.Advance(20 * time.Second)
			h.Origin(answer(200, "v2", "Cache-Control", "max-age=10, stale-while-revalidate=60"))
			r := h.Get("/r")
			require.Equal(t, "v1", r.Body, "stale at once")
			require.Contains(t, r.Header.Get("Cache-Status"), "stale-while-revalidate")
			require.Eventually(t, func() bool { return strings.Contains(h.Get("/r").Body, "v2") }, 10*time.Second, 5*time.Millisecond,
				"the background refresh stored v2")
		}},
		{name: "RFC5861_4_stale-if-error_window_from_the_response", cfg: httpfallback.Config{Policy: cache.Policy{StaleIfError: -1}}, run: func(t *testing.T, h *H) {
			h.Origin(answer(200, "good", "Cache-Control", "max-age=10, stale-if-error=60"))
			h.Get("/r")
			h.Advance(30 * time.Second)
			h.Origin(failing())
			require.Equal(t, "good", h.Get("/r").Body)
			h.Advance(60 * time.Second)
			require.Equal(t, http.StatusServiceUnavailable, h.Get("/r").Status, "past the response's window")
		}},
	}...)
	runRules(t, m, rules)
}
