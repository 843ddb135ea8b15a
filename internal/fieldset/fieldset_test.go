package fieldset

import (
	"net/http"
	"testing"

	"github.com/failsoft/failsoft/internal/leaktest"
)

func TestMain(m *testing.M) { leaktest.Main(m) }

// browser is a Firefox request's header section (without Host, which net/http keeps apart).
var browser = http.Header{
	"User-Agent":      {"Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"},
	"Accept":          {"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"},
	"Accept-Encoding": {"gzip, deflate, br, zstd"},
	"Accept-Language": {"en-US,en;q=0.5"},
	"Connection":      {"keep-alive"},
	"Referer":         {"http://example.test/items"},
	"X-Request-Id":    {"4bf92f3577b34da6a3ce929d0e0e4736"},
	"Sec-Fetch-Mode":  {"cors"},
}

// asked are the names a request's path asks for: the keyed headers
// (cache.DefaultKeyedHeaders), the method overrides, the conditionals, Range, Upgrade.
var asked = []string{"X-Forwarded-Host", "X-Forwarded-Proto", "X-Forwarded-Protocol",
	"X-Forwarded-Scheme", "X-Forwarded-Ssl", "X-Url-Scheme", "X-Forwarded-Port",
	"X-Forwarded-Prefix", "X-Host", "X-Original-Url", "X-Rewrite-Url",
	"X-Http-Method-Override", "X-Http-Method", "X-Method-Override", "Forwarded",
	"If-None-Match", "If-Modified-Since", "Range", "Upgrade"}

func TestScanHoldsEveryNameAndCountsTheSection(t *testing.T) {
	size, s := Scan(browser, -1)
	want := 0
	for name, vs := range browser {
		if !s.MayHave(name) {
			t.Errorf("the Set lacks %q, a field it was built from", name)
		}
		for _, v := range vs {
			want += len(name) + len(": ") + len(v) + len("\r\n")
		}
	}
	if size != want {
		t.Errorf("size %d, want %d", size, want)
	}
	if s == All() {
		t.Error("the Set of eight fields is All: it filters nothing")
	}
	if got, _ := Scan(http.Header{"A": {"1", "22"}}, -1); got != len("A: 1\r\nA: 22\r\n") {
		t.Errorf("two lines of one field: size %d, want %d", got, len("A: 1\r\nA: 22\r\n"))
	}
}

// Of the names clients commonly send and the names the request path asks for, few share
// a position: a shared one costs a lookup on every request carrying the common name.
func TestPosSpreadsCommonNames(t *testing.T) {
	common := []string{"User-Agent", "Accept", "Accept-Encoding", "Accept-Language", "Connection",
		"Referer", "X-Request-Id", "Sec-Fetch-Mode", "Sec-Fetch-Site", "Sec-Fetch-Dest",
		"Sec-Fetch-User", "Sec-Ch-Ua", "Sec-Ch-Ua-Mobile", "Sec-Ch-Ua-Platform", "Origin", "Cookie",
		"Authorization", "Content-Type", "Traceparent", "Tracestate", "X-Forwarded-For",
		"X-Real-Ip", "Via", "X-Amzn-Trace-Id", "Cache-Control", "Pragma",
		"Upgrade-Insecure-Requests", "Dnt", "Priority", "Te", "Content-Length", "X-Csrf-Token",
		"X-Requested-With", "Baggage", "B3", "X-B3-Traceid", "X-B3-Spanid",
		"X-Cloud-Trace-Context", "Cf-Ray", "Cf-Connecting-Ip", "True-Client-Ip", "X-Api-Key",
		"Accept-Charset", "Keep-Alive", "If-Match", "Expect"}
	shared := 0
	for _, c := range common {
		for _, a := range asked {
			if Pos(c) == Pos(a) {
				shared++
			}
		}
	}
	// 46 x 19 pairs over 256 positions: about 3.4 shared for a random hash.
	if shared > 3 {
		t.Errorf("%d pairs of a common and an asked name share a position: want at most 3", shared)
	}
}

// The names the request path asks for and a browser never sends: most must be answered
// absent by the filter alone, or it saves nothing.
func TestScanRulesOutTheNamesAPathAsksFor(t *testing.T) {
	_, s := Scan(browser, -1)
	maybe := 0
	for _, n := range asked {
		if s.MayHave(n) {
			maybe++
		}
	}
	if maybe > 0 {
		t.Errorf("%d of %d absent names may be present by the filter: want none", maybe, len(asked))
	}
}

func TestScanStopsPastTheLimit(t *testing.T) {
	h := http.Header{"Big": {string(make([]byte, 100))}}
	size, s := Scan(h, 50)
	if size <= 50 {
		t.Errorf("size %d: want past the limit 50", size)
	}
	if s != All() {
		t.Errorf("past the limit the Set is %x, want All: the fields after were not read", s)
	}
	if size, s := Scan(h, 200); size != 100+len("Big: \r\n") || s == All() {
		t.Errorf("within the limit: size %d, Set All %v", size, s == All())
	}
}

func TestScanOfNoFields(t *testing.T) {
	for _, h := range []http.Header{nil, {}} {
		if size, s := Scan(h, 10); size != 0 || s != (Set{}) {
			t.Errorf("Scan(%v) = %d, %x; want 0, the empty Set", h, size, s)
		}
	}
	if b := Of([]string{"A", "B"}); Of(nil) != (Set{}) || !b.MayHave("B") {
		t.Error("Of: the empty Set holds something, or a Set lacks a name it was built from")
	}
}

func BenchmarkScan(b *testing.B) {
	var n int
	var s Set
	for b.Loop() {
		size, set := Scan(browser, 32<<10)
		n += size
		s[0] |= set[0]
	}
	if n == 0 || s == (Set{}) {
		b.Fatal("nothing scanned")
	}
}
