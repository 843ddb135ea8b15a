package conformtest

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Range is RFC 9110 section 14 (range requests) answered from a stored complete
// response (RFC 9111 3.3, 3.4): 206 with Content-Range, 416 when unsatisfiable, If-Range,
// HEAD, several ranges; the origin is never asked for less than the whole once stored.
func Range(t *testing.T, m Mount) {
	lastMod := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC).Format(http.TimeFormat)
	stored := func(h *H) {
		h.Origin(answer(200, "0123456789", "Cache-Control", "max-age=60", "Etag", `"v1"`, "Last-Modified", lastMod, "Content-Type", "text/plain"))
		h.Get("/f")
	}
	rules := []rule{
		{name: "14.2_Range_answered_from_stored_entry_206", run: func(t *testing.T, h *H) {
			stored(h)
			r := h.Get("/f", "Range", "bytes=0-1")
			require.Equal(t, http.StatusPartialContent, r.Status)
			require.Equal(t, "01", r.Body)
			require.Equal(t, "bytes 0-1/10", r.Header.Get("Content-Range"))
			require.Equal(t, "2", r.Header.Get("Content-Length"))
			require.Contains(t, r.Header.Get("Cache-Status"), "hit")
			require.NotEmpty(t, r.Header.Get("Age"))
			require.EqualValues(t, 1, h.Calls())
		}},
		{name: "14.2_suffix_range", run: func(t *testing.T, h *H) {
			stored(h)
			r := h.Get("/f", "Range", "bytes=-3")
			require.Equal(t, http.StatusPartialContent, r.Status)
			require.Equal(t, "789", r.Body)
		}},
		{name: "14.6_several_ranges_multipart_byteranges", run: func(t *testing.T, h *H) {
			stored(h)
			r := h.Get("/f", "Range", "bytes=0-1,5-6")
			require.Equal(t, http.StatusPartialContent, r.Status)
			require.True(t, strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/byteranges"), r.Header.Get("Content-Type"))
			require.Contains(t, r.Body, "01")
			require.Contains(t, r.Body, "56")
		}},
		{name: "15.5.17_unsatisfiable_range_416", run: func(t *testing.T, h *H) {
			stored(h)
			r := h.Get("/f", "Range", "bytes=20-30")
			require.Equal(t, http.StatusRequestedRangeNotSatisfiable, r.Status)
			require.Equal(t, "bytes */10", r.Header.Get("Content-Range"))
		}},
		{name: "13.1.5_If-Range_matching_ETag_206", run: func(t *testing.T, h *H) {
			stored(h)
			r := h.Get("/f", "Range", "bytes=2-3", "If-Range", `"v1"`)
			require.Equal(t, http.StatusPartialContent, r.Status)
			require.Equal(t, "23", r.Body)
		}},
		{name: "13.1.5_If-Range_matching_Last-Modified_206", run: func(t *testing.T, h *H) {
			stored(h)
			r := h.Get("/f", "Range", "bytes=2-3", "If-Range", lastMod)
			require.Equal(t, http.StatusPartialContent, r.Status)
		}},
		{name: "13.1.5_If-Range_not_matching_whole_200", run: func(t *testing.T, h *H) {
			stored(h)
			r := h.Get("/f", "Range", "bytes=2-3", "If-Range", `"v0"`)
			require.Equal(t, http.StatusOK, r.Status)
			require.Equal(t, "0123456789", r.Body)
			require.EqualValues(t, 1, h.Calls())
		}},
		{name: "14.2_Range_on_HEAD_ignored_no_body", run: func(t *testing.T, h *H) {
			stored(h)
			r := h.Do(http.MethodHead, "/f", "Range", "bytes=0-1")
			require.Equal(t, http.StatusOK, r.Status)
			require.Empty(t, r.Body)
		}},
		{name: "14.2_Range_on_a_stale_entry_served_on_failure", run: func(t *testing.T, h *H) {
			stored(h)
			h.Advance(2 * time.Minute)
			h.Origin(failing())
			r := h.Get("/f", "Range", "bytes=0-1")
			require.Equal(t, http.StatusPartialContent, r.Status)
			require.Equal(t, "01", r.Body)
			require.Empty(t, h.Last().Get("Range"), "revalidation asks for the whole")
		}},
		{name: "3.4_revalidation_asks_for_the_whole_and_answers_the_range", run: func(t *testing.T, h *H) {
			stored(h)
			h.Advance(2 * time.Minute)
			h.Origin(validating(`"v1"`, "", "0123456789", "Cache-Control", "max-age=60"))
			r := h.Get("/f", "Range", "bytes=4-5")
			require.Empty(t, h.Last().Get("Range"))
			require.Equal(t, http.StatusPartialContent, r.Status)
			require.Equal(t, "45", r.Body)
		}},
	}
	runRules(t, m, rules)
}
