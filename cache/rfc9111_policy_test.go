package cache

import (
	"net/http"
	"testing"
	"time"
)

// RFC 9111 5.1: an Age that is not a single non-negative integer makes the response stale
// (it says nothing reliable about its age), whatever its max-age says. A valid Age is
// counted in the entry's age.
func TestRFC9111AgeInvalidIsStale(t *testing.T) {
	p := Policy{}
	for name, ages := range map[string][]string{
		"abc": {"abc"}, "negative": {"-1"}, "fraction": {"1.5"}, "list": {"3600, 0"},
		"list of zeros": {"0, 0"}, "two lines": {"0", "0"}, "parameter": {"0;p=1"}, "empty": {""},
	} {
		t.Run(name, func(t *testing.T) {
			h := hdr("Cache-Control", "max-age=3600", "Date", httpDate(t0))
			for _, a := range ages {
				h.Add("Age", a)
			}
			e, err := p.NewEntry(getReq("http://a/"), 200, h, []byte("x"), t0, t0)
			equal(t, nil, err)
			equal(t, StaleIfError, e.State(t0), "stored, but stale at once (kept for stale-if-error)")
		})
	}
	h := hdr("Cache-Control", "max-age=3600", "Date", httpDate(t0), "Age", " 600 ")
	e, err := p.NewEntry(getReq("http://a/"), 200, h, []byte("x"), t0, t0)
	equal(t, nil, err)
	equal(t, Fresh, e.State(t0))
	equal(t, 600*time.Second, e.Age(t0))
	equal(t, StaleIfError, e.State(t0.Add(3000*time.Second)), "fresh for 3600-600 s only")

	// The same holds for the Age of a 304 that refreshes an entry.
	r := p.Refresh(e, getReq("http://a/"), hdr("Age", "1, 2", "Date", httpDate(t0)), t0, t0)
	equal(t, StaleIfError, r.State(t0))
}

// RFC 9111 3.2, 4.3.4: a 304 updates the stored header, except Content-Length and the fields
// that describe the stored bytes (their coding, range and digests), and except hop-by-hop
// fields, including those its own Connection names.
func TestRFC9111Refresh304KeepsFieldsOfTheStoredContent(t *testing.T) {
	p := Policy{}
	stored := hdr("Cache-Control", "max-age=10", "Etag", `"a"`, "Content-Type", "text/plain",
		"Content-Encoding", "gzip", "Content-Range", "bytes 0-2/3", "Content-Md5", "stored-md5",
		"Content-Digest", "sha-256=:stored:", "Repr-Digest", "sha-256=:stored:",
		"Content-Length", "3", "X-Kept", "stored", "X-Updated", "old")
	e, err := p.NewEntry(getReq("http://a/"), 200, stored, []byte("abc"), t0, t0)
	equal(t, nil, err)
	nm := hdr("Cache-Control", "max-age=100", "Etag", `"a"`, "Content-Encoding", "br",
		"Content-Range", "bytes 0-0/1", "Content-Md5", "new-md5", "Content-Digest", "sha-256=:new:",
		"Repr-Digest", "sha-256=:new:", "Content-Length", "0", "X-Updated", "new",
		"Connection", "X-Kept", "Keep-Alive", "timeout=5", "Proxy-Authentication-Info", "x")
	r := p.Refresh(e, getReq("http://a/"), nm, t0, t0)
	for k, want := range map[string]string{
		"Content-Encoding": "gzip", "Content-Range": "bytes 0-2/3", "Content-Md5": "stored-md5",
		"Content-Digest": "sha-256=:stored:", "Repr-Digest": "sha-256=:stored:", "Content-Length": "3",
		"X-Kept": "stored", "X-Updated": "new", "Cache-Control": "max-age=100", "Content-Type": "text/plain",
		"Connection": "", "Keep-Alive": "", "Proxy-Authentication-Info": "",
	} {
		equal(t, want, r.Header.Get(k), k)
	}
	equal(t, "abc", string(r.Body))
	equal(t, 100*time.Second, r.FreshUntil.Sub(t0))
}

// RFC 9111 4.3.1, 4.2.4: a response that must not be served stale (must-revalidate,
// proxy-revalidate, no-cache) is kept past its freshness when it has a validator, in state
// Revalidate: usable to revalidate, never servable stale. Without a validator it is Gone.
// ServeStaleDespiteRevalidate (the operator's override) gives it the stale windows.
func TestRFC9111MustRevalidateKeptForRevalidation(t *testing.T) {
	for _, cc := range []string{"max-age=60, must-revalidate", "max-age=60, proxy-revalidate", "s-maxage=60, must-revalidate", "s-maxage=60", "no-cache"} {
		t.Run(cc, func(t *testing.T) {
			e, err := Policy{}.NewEntry(getReq("http://a/"), 200, hdr("Cache-Control", cc, "Etag", `"v"`), []byte("x"), t0, t0)
			equal(t, nil, err)
			past := t0.Add(61 * time.Second)
			equal(t, Revalidate, e.State(past))
			equal(t, false, e.State(past).ServableStale())
			equal(t, Gone, e.State(t0.Add(61*time.Second+DefaultStaleIfError)), "kept as long as stale-if-error would have")
			equal(t, true, e.Expires().After(past))

			noValidator, err := Policy{}.NewEntry(getReq("http://a/"), 200, hdr("Cache-Control", cc), []byte("x"), t0, t0)
			equal(t, nil, err)
			equal(t, Gone, noValidator.State(past))

			over, err := Policy{ServeStaleDespiteRevalidate: true}.NewEntry(getReq("http://a/"), 200, hdr("Cache-Control", cc, "Etag", `"v"`), []byte("x"), t0, t0)
			equal(t, nil, err)
			equal(t, StaleIfError, over.State(past))
			equal(t, true, over.State(past).ServableStale())
		})
	}
}

// RFC 9111 3, RFC 9110 15.1: a final response other than 2xx is stored when it has explicit
// freshness (or says public and its status is heuristically cacheable); 206 and 304 never
// are. Stored so, it has no stale window unless StaleNon2xx; a status listed in Statuses
// is stored like a 2xx (the documented behaviour before the default grew).
func TestRFC9111Non2xxStoredWithExplicitFreshness(t *testing.T) {
	body := []byte("x")
	tests := []struct {
		name    string
		p       Policy
		status  int
		h       http.Header
		stored  bool
		stalePr bool // may be served stale past freshness
	}{
		{"301 max-age", Policy{}, 301, hdr("Cache-Control", "max-age=60", "Location", "/b"), true, false},
		{"308 max-age", Policy{}, 308, hdr("Cache-Control", "max-age=60"), true, false},
		{"404 max-age", Policy{}, 404, hdr("Cache-Control", "max-age=60"), true, false},
		{"410 s-maxage", Policy{}, 410, hdr("Cache-Control", "s-maxage=60"), true, false},
		{"302 Expires", Policy{}, 302, hdr("Date", httpDate(t0), "Expires", httpDate(t0.Add(time.Minute))), true, false},
		{"404 public heuristic", Policy{FreshFor: time.Minute}, 404, hdr("Cache-Control", "public", "Date", httpDate(t0)), true, false},
		{"403 public not heuristic", Policy{}, 403, hdr("Cache-Control", "public"), false, false},
		{"404 no freshness", Policy{}, 404, hdr(), false, false},
		{"301 no freshness", Policy{}, 301, hdr(), false, false},
		{"304", Policy{}, 304, hdr("Cache-Control", "max-age=60"), false, false},
		{"206 max-age", Policy{}, 206, hdr("Cache-Control", "max-age=60", "Content-Range", "bytes 0-0/2"), false, false},
		{"206 listed", Policy{Statuses: []int{200, 206}}, 206, hdr("Cache-Control", "max-age=60"), false, false},
		{"404 max-age StaleNon2xx", Policy{StaleNon2xx: true}, 404, hdr("Cache-Control", "max-age=60"), true, true},
		{"404 listed", Policy{Statuses: []int{200, 404}}, 404, hdr("Cache-Control", "max-age=60"), true, true},
		{"404 listed without freshness", Policy{Statuses: []int{200, 404}}, 404, hdr(), true, true},
		{"301 max-age not in a list", Policy{Statuses: []int{200}}, 301, hdr("Cache-Control", "max-age=60"), false, false},
		{"200 no freshness", Policy{}, 200, hdr(), true, true},
		{"203 no freshness", Policy{}, 203, hdr(), true, true},
		{"202 no freshness", Policy{}, 202, hdr(), false, false},
		{"202 max-age", Policy{}, 202, hdr("Cache-Control", "max-age=60"), true, true},
		{"207 public", Policy{}, 207, hdr("Cache-Control", "public"), true, true},
		{"202 listed", Policy{Statuses: []int{202}}, 202, hdr(), true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := tt.p.NewEntry(getReq("http://a/"), tt.status, tt.h, body, t0, t0)
			equal(t, tt.stored, err == nil, err)
			if !tt.stored {
				return
			}
			equal(t, tt.stalePr, e.State(t0.Add(61*time.Second)).ServableStale())
		})
	}
	equal(t, true, Policy{Statuses: []int{200, 206}}.Validate() != nil, "206 refused in Statuses")
}
