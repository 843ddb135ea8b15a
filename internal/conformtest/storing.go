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

// twice asks path twice (with the request fields kv) and reports how many requests
// reached the origin.
func twice(h *H, path string, kv ...string) int64 {
	h.t.Helper()
	before := h.Calls()
	h.Get(path, kv...)
	h.Get(path, kv...)
	return h.Calls() - before
}

// Storing is RFC 9111 section 3 (storing responses in caches), 3.1 (which header
// fields), 3.2 (updating them), 3.3 and 3.4 (partial content) and 3.5 (Authorization),
// with failsoft's departures (Set-Cookie, Cookie) pinned as such.
func Storing(t *testing.T, m Mount) {
	notStored := func(kv ...string) func(t *testing.T, h *H) {
		return func(t *testing.T, h *H) {
			h.Origin(answer(200, "x", append([]string{"Cache-Control", "max-age=60"}, kv...)...))
			require.EqualValues(t, 2, twice(h, "/r"), "not stored: each request reaches the origin")
		}
	}
	stored := func(status int, kv ...string) func(t *testing.T, h *H) {
		return func(t *testing.T, h *H) {
			h.Origin(answer(status, "body of "+strconv.Itoa(status), append([]string{"Date", h.Date()}, kv...)...))
			r := h.Get("/r")
			require.Equal(t, status, r.Status)
			r = h.Get("/r")
			require.Equal(t, status, r.Status)
			require.Equal(t, "body of "+strconv.Itoa(status), r.Body)
			require.EqualValues(t, 1, h.Calls(), "stored and served from the store while fresh")
			require.Contains(t, r.Header.Get("Cache-Status"), "hit")
		}
	}
	rules := []rule{
		{name: "3_200_with_max-age_stored", run: stored(200, "Cache-Control", "max-age=60")},
		{name: "3_no-store_response_not_stored", run: notStored("Cache-Control", "no-store")},
		{name: "3_private_response_not_stored", run: notStored("Cache-Control", "private")},
		{name: "3_Vary_star_not_stored", run: notStored("Vary", "*")},
		{name: "3_request_no-store_not_stored", run: func(t *testing.T, h *H) {
			h.Origin(answer(200, "x", "Cache-Control", "max-age=60"))
			h.Get("/r", "Cache-Control", "no-store")
			h.Get("/r")
			require.EqualValues(t, 2, h.Calls())
		}},
		{name: "3_departure_Set-Cookie_response_not_stored", run: notStored("Set-Cookie", "s=1")},
		{name: "3_301_with_max-age_stored", run: stored(301, "Cache-Control", "max-age=60", "Location", "/elsewhere")},
		{name: "3_308_with_max-age_stored", run: stored(308, "Cache-Control", "max-age=60", "Location", "/elsewhere")},
		{name: "3_404_with_max-age_stored", run: stored(404, "Cache-Control", "max-age=60")},
		{name: "3_410_with_s-maxage_stored", run: stored(410, "Cache-Control", "s-maxage=60")},
		{name: "3_302_with_Expires_stored", run: func(t *testing.T, h *H) {
			stored(302, "Expires", h.Now().Add(time.Minute).UTC().Format(http.TimeFormat), "Location", "/elsewhere")(t, h)
		}},
		{name: "3_heuristically_cacheable_404_public_stored", cfg: httpfallback.Config{Policy: cache.Policy{FreshFor: time.Minute}},
			run: stored(404, "Cache-Control", "public")},
		{name: "3_202_without_explicit_freshness_not_stored", run: func(t *testing.T, h *H) {
			h.Origin(answer(202, "accepted"))
			require.EqualValues(t, 2, twice(h, "/r"))
		}},
		{name: "3_202_with_max-age_stored", run: stored(202, "Cache-Control", "max-age=60")},
		{name: "3_404_without_explicit_freshness_not_stored", run: func(t *testing.T, h *H) {
			h.Origin(answer(404, "gone"))
			require.EqualValues(t, 2, twice(h, "/r"))
		}},
		{name: "3_5xx_never_stored", run: func(t *testing.T, h *H) {
			h.Origin(answer(503, "down", "Cache-Control", "max-age=60"))
			before := h.Calls()
			h.Get("/r")
			mid := h.Calls()
			h.Get("/r")
			require.Greater(t, h.Calls(), mid, "the second request reached the origin too")
			require.Greater(t, mid, before)
		}},
		{name: "3.1_hop-by-hop_and_Connection_named_fields_not_stored", run: func(t *testing.T, h *H) {
			h.Origin(answer(200, "x", "Cache-Control", "max-age=60", "Connection", "X-Hop", "X-Hop", "1", "X-End", "1"))
			h.Get("/r")
			r := h.Get("/r")
			require.EqualValues(t, 1, h.Calls())
			require.Empty(t, r.Header.Get("X-Hop"))
			require.Equal(t, "1", r.Header.Get("X-End"))
		}},
		{name: "3.2_304_updates_stored_fields_except_content_ones", run: func(t *testing.T, h *H) {
			h.Origin(answer(200, "stored bytes", "Cache-Control", "max-age=10", "Etag", `"v1"`,
				"Content-Encoding", "x-stored", "Content-Md5", "stored-md5", "X-Version", "1"))
			h.Get("/r", "Accept-Encoding", "x-stored")
			h.Advance(20 * time.Second)
			h.Origin(func(w http.ResponseWriter, r *http.Request) {
				for k, v := range map[string]string{"Cache-Control": "max-age=60", "Etag": `"v1"`,
					"Content-Encoding": "x-new", "Content-Md5": "new-md5", "Content-Range": "bytes 0-0/1", "X-Version": "2"} {
					w.Header().Set(k, v)
				}
				w.WriteHeader(http.StatusNotModified)
			})
			r := h.Get("/r", "Accept-Encoding", "x-stored")
			require.Equal(t, `"v1"`, h.Last().Get("If-None-Match"), "revalidated with the stored validator")
			require.Equal(t, 200, r.Status)
			require.Equal(t, "stored bytes", r.Body)
			require.Equal(t, "2", r.Header.Get("X-Version"), "other fields are updated")
			require.Equal(t, "x-stored", r.Header.Get("Content-Encoding"))
			require.Equal(t, "stored-md5", r.Header.Get("Content-Md5"))
			require.Empty(t, r.Header.Get("Content-Range"))
			require.Equal(t, strconv.Itoa(len("stored bytes")), r.Header.Get("Content-Length"))
		}},
		{name: "3.3_206_from_the_origin_never_stored_as_whole", run: func(t *testing.T, h *H) {
			h.Origin(answer(206, "01", "Cache-Control", "max-age=60", "Content-Range", "bytes 0-1/10"))
			require.EqualValues(t, 2, twice(h, "/r"))
		}},
		{name: "3.5_Authorization_response_not_shared", run: func(t *testing.T, h *H) {
			h.Origin(answer(200, "mine", "Cache-Control", "max-age=60"))
			h.Get("/r", "Authorization", "Bearer a")
			h.Get("/r")
			require.EqualValues(t, 2, h.Calls())
		}},
		{name: "3.5_Authorization_response_public_shared", run: func(t *testing.T, h *H) {
			h.Origin(answer(200, "ours", "Cache-Control", "public, max-age=60"))
			h.Get("/r", "Authorization", "Bearer a")
			r := h.Get("/r")
			require.EqualValues(t, 1, h.Calls())
			require.Equal(t, "ours", r.Body)
		}},
		{name: "3.5_Authorization_response_must-revalidate_shared", run: func(t *testing.T, h *H) {
			h.Origin(answer(200, "ours", "Cache-Control", "max-age=60, must-revalidate"))
			h.Get("/r", "Authorization", "Bearer a")
			r := h.Get("/r")
			require.EqualValues(t, 1, h.Calls())
			require.Equal(t, "ours", r.Body)
		}},
		{name: "3.5_departure_Cookie_treated_as_Authorization", run: func(t *testing.T, h *H) {
			h.Origin(answer(200, "mine", "Cache-Control", "max-age=60"))
			h.Get("/r", "Cookie", "session=a")
			h.Get("/r")
			require.EqualValues(t, 2, h.Calls())
		}},
		{name: "3.5_departure_Cookie_response_must-revalidate_not_shared", run: func(t *testing.T, h *H) {
			// must-revalidate lets an Authorization answer be shared (RFC 9111 3.5); a
			// Cookie's answer is shared only when it says public or s-maxage.
			h.Origin(answer(200, "mine", "Cache-Control", "max-age=60, must-revalidate"))
			h.Get("/r", "Cookie", "session=a")
			h.Get("/r")
			require.EqualValues(t, 2, h.Calls())
		}},
	}
	runRules(t, m, rules)
}
