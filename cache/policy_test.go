package cache

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

// t0 is a fixed reference time for the rule tables.
var t0 = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

func httpDate(t time.Time) string { return t.UTC().Format(http.TimeFormat) }

func getReq(target string, kv ...string) *http.Request {
	r, err := http.NewRequest(http.MethodGet, target, nil)
	if err != nil {
		panic(err)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		r.Header.Add(kv[i], kv[i+1])
	}
	return r
}

func hdr(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

func TestNewEntryRefuses(t *testing.T) {
	body := []byte("hello")
	tests := []struct {
		name   string
		p      Policy
		req    *http.Request
		status int
		h      http.Header
		body   []byte
		reason string // substring of the reason; "" means storable
	}{
		{"plain 200", Policy{}, getReq("http://a/"), 200, hdr(), body, ""},
		{"204 is 2xx", Policy{}, getReq("http://a/"), 204, hdr(), nil, ""},
		{"POST", Policy{}, func() *http.Request { r := getReq("http://a/"); r.Method = "POST"; return r }(), 200, hdr(), body, "method POST"},
		{"HEAD not stored", Policy{}, func() *http.Request { r := getReq("http://a/"); r.Method = "HEAD"; return r }(), 200, hdr(), nil, "method HEAD"},
		{"206 not stored by default", Policy{}, getReq("http://a/"), 206, hdr(), body, "status 206"},
		{"500", Policy{}, getReq("http://a/"), 500, hdr(), body, "status 500"},
		{"301 not by default", Policy{}, getReq("http://a/"), 301, hdr(), body, "status 301"},
		{"301 configured", Policy{Statuses: []int{200, 301}}, getReq("http://a/"), 301, hdr(), body, ""},
		{"200 not configured", Policy{Statuses: []int{301}}, getReq("http://a/"), 200, hdr(), body, "status 200"},
		{"response no-store", Policy{}, getReq("http://a/"), 200, hdr("Cache-Control", "max-age=60, no-store"), body, "no-store"},
		{"request no-store", Policy{}, getReq("http://a/", "Cache-Control", "no-store"), 200, hdr(), body, "request no-store"},
		{"private", Policy{}, getReq("http://a/"), 200, hdr("Cache-Control", "private, max-age=60"), body, "private"},
		{"qualified private is stored", Policy{}, getReq("http://a/"), 200, hdr("Cache-Control", `private="X-User"`), body, ""},
		{"Vary star", Policy{}, getReq("http://a/"), 200, hdr("Vary", "Accept, *"), body, "Vary: *"},
		{"Set-Cookie", Policy{}, getReq("http://a/"), 200, hdr("Set-Cookie", "a=b"), body, "Set-Cookie"},
		{"body over default cap", Policy{}, getReq("http://a/"), 200, hdr(), make([]byte, DefaultMaxBodyBytes+1), "MaxBodyBytes"},
		{"body at default cap", Policy{}, getReq("http://a/"), 200, hdr(), make([]byte, DefaultMaxBodyBytes), ""},
		{"body over configured cap", Policy{MaxBodyBytes: 4}, getReq("http://a/"), 200, hdr(), body, "MaxBodyBytes"},
		{"truncated body", Policy{}, getReq("http://a/"), 200, hdr("Content-Length", "10"), body, "truncated"},
		{"longer body", Policy{}, getReq("http://a/"), 200, hdr("Content-Length", "2"), body, "truncated"},
		{"invalid Content-Length", Policy{}, getReq("http://a/"), 200, hdr("Content-Length", "x"), body, "invalid Content-Length"},
		{"matching Content-Length", Policy{}, getReq("http://a/"), 200, hdr("Content-Length", "5"), body, ""},
		{"Authorization not shared", Policy{}, getReq("http://a/", "Authorization", "Bearer x"), 200, hdr("Cache-Control", "max-age=60"), body, "Authorization"},
		{"Cookie not shared", Policy{}, getReq("http://a/", "Cookie", "s=1"), 200, hdr(), body, "Cookie"},
		{"Authorization with public", Policy{}, getReq("http://a/", "Authorization", "Bearer x"), 200, hdr("Cache-Control", "public"), body, ""},
		{"Authorization with s-maxage", Policy{}, getReq("http://a/", "Authorization", "Bearer x"), 200, hdr("Cache-Control", "s-maxage=5"), body, ""},
		{"Authorization with must-revalidate", Policy{}, getReq("http://a/", "Authorization", "Bearer x"), 200, hdr("Cache-Control", "must-revalidate"), body, ""},
		{"Authorization with ShareCredentialed", Policy{ShareCredentialed: true}, getReq("http://a/", "Authorization", "Bearer x"), 200, hdr(), body, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := tt.p.NewEntry(tt.req, tt.status, tt.h, tt.body, t0, t0)
			if tt.reason == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if e == nil {
					t.Fatal("nil entry")
				}
				return
			}
			var ns *NotStorableError
			if !errors.As(err, &ns) {
				t.Fatalf("want *NotStorableError, got %v (entry %v)", err, e)
			}
			if !strings.Contains(ns.Reason, tt.reason) {
				t.Fatalf("reason %q does not mention %q", ns.Reason, tt.reason)
			}
			if e != nil {
				t.Fatal("entry returned with an error")
			}
		})
	}
}

func TestNewEntryOwnsHeaderAndBody(t *testing.T) {
	h := hdr("Content-Type", "text/plain", "Connection", "close, X-Hop", "X-Hop", "1", "Keep-Alive", "timeout=5",
		"Transfer-Encoding", "chunked", "Age", "7", "X-User", "bob", "Cache-Control", `private="X-User", no-cache="X-Secret"`,
		"X-Secret", "s", "ETag", `"v1"`, "Last-Modified", httpDate(t0.Add(-time.Hour)))
	body := []byte("hello")
	e, err := Policy{}.NewEntry(getReq("http://a/"), 200, h, body, t0, t0)
	if err != nil {
		t.Fatal(err)
	}
	body[0] = 'J'
	h.Set("Content-Type", "changed")
	equal(t, "hello", string(e.Body))
	equal(t, "text/plain", e.Header.Get("Content-Type"))
	for _, f := range []string{"Connection", "X-Hop", "Keep-Alive", "Transfer-Encoding", "Age", "X-User", "X-Secret"} {
		if e.Header.Has(f) {
			t.Errorf("stored header keeps %s", f)
		}
	}
	equal(t, `"v1"`, e.ETag())
	equal(t, httpDate(t0.Add(-time.Hour)), e.LastModified())
	if e.Cost() < int64(len("hello"))+entryOverhead {
		t.Fatalf("cost %d too small", e.Cost())
	}
}

func TestFreshness(t *testing.T) {
	tests := []struct {
		name string
		p    Policy
		h    http.Header
		want time.Duration // FreshUntil - respTime
	}{
		{"nothing stated, no default", Policy{}, hdr(), 0},
		{"nothing stated, FreshFor", Policy{FreshFor: time.Minute}, hdr(), time.Minute},
		{"max-age", Policy{FreshFor: time.Minute}, hdr("Cache-Control", "max-age=30"), 30 * time.Second},
		{"s-maxage beats max-age", Policy{}, hdr("Cache-Control", "max-age=30, s-maxage=90"), 90 * time.Second},
		{"max-age beats Expires", Policy{}, hdr("Cache-Control", "max-age=30", "Date", httpDate(t0), "Expires", httpDate(t0.Add(time.Hour))), 30 * time.Second},
		{"Expires minus Date", Policy{FreshFor: time.Minute}, hdr("Date", httpDate(t0.Add(-10*time.Second)), "Expires", httpDate(t0.Add(50*time.Second))), 50 * time.Second},
		{"Expires without Date uses response time", Policy{}, hdr("Expires", httpDate(t0.Add(50*time.Second))), 50 * time.Second},
		{"Expires in the past", Policy{FreshFor: time.Minute}, hdr("Date", httpDate(t0), "Expires", httpDate(t0.Add(-time.Hour))), 0},
		{"Expires 0 is expired", Policy{FreshFor: time.Minute}, hdr("Expires", "0"), 0},
		{"invalid Date expires", Policy{FreshFor: time.Minute}, hdr("Date", "yesterday"), 0},
		{"invalid Date does not affect max-age", Policy{}, hdr("Date", "yesterday", "Cache-Control", "max-age=30"), 30 * time.Second},
		{"invalid max-age is stale", Policy{FreshFor: time.Minute}, hdr("Cache-Control", "max-age=-3"), 0},
		{"conflicting max-age is stale", Policy{FreshFor: time.Minute}, hdr("Cache-Control", "max-age=30, max-age=60"), 0},
		{"huge max-age clamps", Policy{}, hdr("Cache-Control", "max-age=999999999999999999999"), MaxDelta},
		{"no-cache never fresh", Policy{FreshFor: time.Minute}, hdr("Cache-Control", "no-cache, max-age=60"), 0},
		{"override beats all", Policy{OverrideFreshness: 5 * time.Second}, hdr("Cache-Control", "max-age=60, s-maxage=90"), 5 * time.Second},
		{"override beats no-cache", Policy{OverrideFreshness: 5 * time.Second}, hdr("Cache-Control", "no-cache"), 5 * time.Second},
		{"Age header reduces", Policy{}, hdr("Cache-Control", "max-age=60", "Age", "20"), 40 * time.Second},
		{"Date in the past reduces (apparent age)", Policy{}, hdr("Cache-Control", "max-age=60", "Date", httpDate(t0.Add(-25*time.Second))), 35 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := tt.p.NewEntry(getReq("http://a/"), 200, tt.h, nil, t0, t0)
			if err != nil {
				t.Fatal(err)
			}
			equal(t, tt.want, e.FreshUntil.Sub(t0))
			equal(t, tt.want, e.TTL(t0))
			if tt.want > 0 {
				equal(t, Fresh, e.State(t0.Add(tt.want-time.Nanosecond)))
			}
			if e.State(t0.Add(tt.want)) == Fresh {
				t.Fatal("fresh at FreshUntil")
			}
		})
	}
}

func TestStaleWindows(t *testing.T) {
	tests := []struct {
		name     string
		p        Policy
		cc       string
		swr, sie time.Duration
	}{
		{"defaults", Policy{}, "max-age=10", 0, time.Hour},
		{"policy defaults", Policy{StaleWhileRevalidate: time.Minute, StaleIfError: 2 * time.Hour}, "max-age=10", time.Minute, 2 * time.Hour},
		{"negative StaleIfError is none", Policy{StaleIfError: -1}, "max-age=10", 0, 0},
		{"response windows win", Policy{StaleWhileRevalidate: time.Minute}, "max-age=10, stale-while-revalidate=5, stale-if-error=7", 5 * time.Second, 7 * time.Second},
		{"response zero windows win", Policy{StaleWhileRevalidate: time.Minute}, "max-age=10, stale-while-revalidate=0, stale-if-error=0", 0, 0},
		{"invalid window ignored", Policy{StaleWhileRevalidate: time.Minute}, "max-age=10, stale-while-revalidate=x", time.Minute, time.Hour},
		{"must-revalidate forbids stale", Policy{StaleWhileRevalidate: time.Minute}, "max-age=10, must-revalidate, stale-if-error=60", 0, 0},
		{"proxy-revalidate forbids stale", Policy{StaleWhileRevalidate: time.Minute}, "max-age=10, proxy-revalidate", 0, 0},
		{"no-cache forbids stale", Policy{StaleWhileRevalidate: time.Minute}, "no-cache", 0, 0},
		{"operator override", Policy{StaleWhileRevalidate: time.Minute, ServeStaleDespiteRevalidate: true}, "max-age=10, must-revalidate", time.Minute, time.Hour},
		{"operator override keeps response windows", Policy{ServeStaleDespiteRevalidate: true}, "max-age=10, proxy-revalidate, stale-if-error=9", 0, 9 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := tt.p.NewEntry(getReq("http://a/"), 200, hdr("Cache-Control", tt.cc), nil, t0, t0)
			if err != nil {
				t.Fatal(err)
			}
			equal(t, tt.swr, e.RevalidateUntil.Sub(e.FreshUntil), "swr")
			equal(t, tt.sie, e.ErrorUntil.Sub(e.FreshUntil), "sie")
			equal(t, latest(e.FreshUntil, e.RevalidateUntil, e.ErrorUntil), e.Expires())
		})
	}
}

func latest(ts ...time.Time) time.Time {
	var m time.Time
	for _, t := range ts {
		if t.After(m) {
			m = t
		}
	}
	return m
}

// RFC 5861 section 3: "Cache-Control: max-age=600, stale-while-revalidate=30" is fresh for
// 600 s, then may be served stale while revalidating for 30 s more.
func TestRFC5861StaleWhileRevalidateExample(t *testing.T) {
	e, err := Policy{StaleIfError: -1}.NewEntry(getReq("http://a/"), 200, hdr("Cache-Control", "max-age=600, stale-while-revalidate=30"), nil, t0, t0)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		at   time.Duration
		want State
	}{{0, Fresh}, {599 * time.Second, Fresh}, {600 * time.Second, Stale}, {629 * time.Second, Stale}, {630 * time.Second, Gone}} {
		equal(t, c.want, e.State(t0.Add(c.at)), c.at)
	}
}

// RFC 5861 section 4: "Cache-Control: max-age=600, stale-if-error=1200" is fresh for 600 s,
// then usable when an error occurs for 1200 s more.
func TestRFC5861StaleIfErrorExample(t *testing.T) {
	e, err := Policy{}.NewEntry(getReq("http://a/"), 200, hdr("Cache-Control", "max-age=600, stale-if-error=1200"), nil, t0, t0)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		at   time.Duration
		want State
	}{{599 * time.Second, Fresh}, {600 * time.Second, StaleIfError}, {1799 * time.Second, StaleIfError}, {1800 * time.Second, Gone}} {
		equal(t, c.want, e.State(t0.Add(c.at)), c.at)
	}
	equal(t, t0.Add(1800*time.Second), e.Expires())
}

// A worked example of RFC 9111 section 4.2.3: the request leaves at 12:00:00, the response
// arrives at 12:00:02 with Date 11:59:50 and Age 5.
//
//	apparent_age          = max(0, 12:00:02 - 11:59:50)  = 12 s
//	response_delay        = 12:00:02 - 12:00:00          = 2 s
//	corrected_age_value   = 5 + 2                        = 7 s
//	corrected_initial_age = max(12, 7)                   = 12 s
//	current_age at 12:01:02 = 12 + 60                    = 72 s
//
// With max-age=100 the response is fresh while current_age < 100: until 12:01:30.
func TestRFC9111AgeExample(t *testing.T) {
	reqT := t0
	respT := t0.Add(2 * time.Second)
	h := hdr("Date", httpDate(t0.Add(-10*time.Second)), "Age", "5", "Cache-Control", "max-age=100")
	e, err := Policy{}.NewEntry(getReq("http://a/"), 200, h, nil, reqT, respT)
	if err != nil {
		t.Fatal(err)
	}
	equal(t, 12*time.Second, e.InitialAge)
	equal(t, 12*time.Second, e.Age(respT))
	equal(t, 72*time.Second, e.Age(t0.Add(62*time.Second)))
	equal(t, t0.Add(90*time.Second), e.FreshUntil)
	equal(t, Fresh, e.State(t0.Add(89*time.Second)))
	equal(t, StaleIfError, e.State(t0.Add(90*time.Second)))
	// A clock before the response time never gives a negative resident time.
	equal(t, 12*time.Second, e.Age(reqT))

	// When the Age header dominates: Age 30, Date equal to the response time.
	h = hdr("Date", httpDate(respT), "Age", "30", "Cache-Control", "max-age=100")
	e, _ = Policy{}.NewEntry(getReq("http://a/"), 200, h, nil, reqT, respT)
	equal(t, 32*time.Second, e.InitialAge) // 30 + response_delay 2
	// Invalid Age is ignored; only the response delay counts.
	h = hdr("Age", "-4", "Cache-Control", "max-age=100")
	e, _ = Policy{}.NewEntry(getReq("http://a/"), 200, h, nil, reqT, respT)
	equal(t, 2*time.Second, e.InitialAge)
}

func TestVaryRecorded(t *testing.T) {
	r := getReq("http://a/", "Accept-Encoding", "gzip,   br", "accept-language", "en")
	e, err := Policy{}.NewEntry(r, 200, hdr("Vary", "accept-language, Accept-Encoding", "Vary", "Accept-Language"), nil, t0, t0)
	if err != nil {
		t.Fatal(err)
	}
	equal(t, []string{"Accept-Encoding", "Accept-Language"}, e.Vary)
	equal(t, []string{"gzip, br", "en"}, e.VaryValues)
}

func TestRefresh(t *testing.T) {
	r := getReq("http://a/", "Accept", "text/html")
	h := hdr("Cache-Control", "max-age=10", "ETag", `"v1"`, "Content-Type", "text/html", "Content-Length", "5", "X-Old", "1", "Vary", "Accept")
	e, err := Policy{}.NewEntry(r, 200, h, []byte("hello"), t0, t0)
	if err != nil {
		t.Fatal(err)
	}
	later := t0.Add(time.Minute)
	nm := hdr("Cache-Control", "max-age=300", "ETag", `"v1"`, "Content-Length", "0", "X-New", "2", "Connection", "close", "Age", "3")
	f := Policy{}.Refresh(e, r, nm, later, later)
	equal(t, 200, f.Status)
	equal(t, "hello", string(f.Body))
	equal(t, "5", f.Header.Get("Content-Length"))
	equal(t, "2", f.Header.Get("X-New"))
	equal(t, "1", f.Header.Get("X-Old"))
	equal(t, "", f.Header.Get("Connection"))
	equal(t, "", f.Header.Get("Age"))
	equal(t, later.Add(297*time.Second), f.FreshUntil)
	equal(t, []string{"Accept"}, f.Vary)
	equal(t, []string{"text/html"}, f.VaryValues)
	// A 304 without Date on an entry with an old Date: freshness counts from the validation.
	old, _ := Policy{}.NewEntry(r, 200, hdr("Date", httpDate(t0), "Cache-Control", "max-age=10"), nil, t0, t0)
	g := Policy{}.Refresh(old, r, hdr("Cache-Control", "max-age=60"), later, later)
	equal(t, later.Add(time.Minute), g.FreshUntil)
	equal(t, "", g.Header.Get("Date"))
	// The original is untouched.
	equal(t, "", e.Header.Get("X-New"))
	equal(t, t0.Add(10*time.Second), e.FreshUntil)
}

func TestStateString(t *testing.T) {
	equal(t, "fresh", Fresh.String())
	equal(t, "stale", Stale.String())
	equal(t, "stale-if-error", StaleIfError.String())
	equal(t, "gone", Gone.String())
	equal(t, "state(9)", State(9).String())
	var nilEntry *Entry
	equal(t, Gone, nilEntry.State(t0))
}

func TestPolicyValidate(t *testing.T) {
	if err := (Policy{}).Validate(); err != nil {
		t.Fatal(err)
	}
	if err := (Policy{StaleIfError: -1, Statuses: []int{200, 301}}).Validate(); err != nil {
		t.Fatal(err)
	}
	for field, p := range map[string]Policy{
		"FreshFor":             {FreshFor: -time.Second},
		"StaleWhileRevalidate": {StaleWhileRevalidate: -time.Second},
		"OverrideFreshness":    {OverrideFreshness: -time.Second},
		"MaxBodyBytes":         {MaxBodyBytes: -1},
		"Statuses":             {Statuses: []int{200, 99}},
	} {
		err := p.Validate()
		if err == nil || !strings.Contains(err.Error(), "Policy."+field) {
			t.Errorf("%s: want an error naming it, got %v", field, err)
		}
	}
}
