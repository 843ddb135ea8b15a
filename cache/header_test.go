package cache

import (
	"net/http"
	"strings"
	"testing"
)

// The compact form holds what the http.Header held: every field, its values in order,
// fields without values, values of any length (lengths past one varint byte), and an empty
// Header reads as no fields.
func TestHeaderKeepsEveryFieldAndValue(t *testing.T) {
	long := strings.Repeat("v", 70_000)
	src := http.Header{
		"Content-Type": {"application/json"},
		"Link":         {"</a>; rel=a", "", "</b>; rel=b"},
		"X-Empty":      {},
		"X-Long":       {long},
		"x-raw":        {"kept as given"},
	}
	h := MakeHeader(src)
	equal(t, src, h.Clone())
	equal(t, 5, h.Len())
	equal(t, "application/json", h.Get("content-type"), "Get canonicalises")
	equal(t, []string{"</a>; rel=a", "", "</b>; rel=b"}, h.Values("Link"))
	equal(t, long, h.Get("X-Long"))
	equal(t, true, h.Has("X-Empty"))
	equal(t, "", h.Get("X-Empty"))
	equal(t, []string{}, h.Values("X-Empty"))
	equal(t, false, h.Has("X-Absent"))
	equal(t, []string(nil), h.Values("X-Absent"))
	equal(t, []string(nil), h.Values("x-raw"), "a non-canonical name is found only by its exact spelling (as in a map)")
	equal(t, []string{"kept as given"}, h.exactValues("x-raw"))
	seen := http.Header{}
	for name, vs := range h.All() {
		seen[name] = vs
	}
	equal(t, src, seen)

	equal(t, http.Header(nil), MakeHeader(nil).Clone())
	equal(t, http.Header{}, MakeHeader(http.Header{}).Clone())
	var zero Header
	equal(t, 0, zero.Len())
	equal(t, "", zero.Get("A"))
	equal(t, false, zero.Has("A"))
}

// Values and Clone return the caller's own slices: writing them leaves the Header as it was.
func TestHeaderValuesAreTheCallersOwn(t *testing.T) {
	h := MakeHeader(http.Header{"A": {"1", "2"}})
	vs := h.Values("A")
	vs[0] = "changed"
	c := h.Clone()
	c["A"][1] = "changed"
	equal(t, []string{"1", "2"}, h.Values("A"))
}

// An entry stores its header without hop-by-hop fields, those Connection names, Age, and
// those a qualified private or no-cache directive names, while the response's own header
// is left as it was.
func TestNewEntryStoresTheCleanedHeaderAndLeavesTheResponses(t *testing.T) {
	h := http.Header{
		"Cache-Control": {`max-age=60, private="X-User", no-cache="X-Secret"`},
		"Connection":    {"x-hop, close"},
		"X-Hop":         {"1"},
		"Keep-Alive":    {"timeout=5"},
		"Age":           {"3"},
		"X-User":        {"u"},
		"X-Secret":      {"s"},
		"Content-Type":  {"text/plain"},
	}
	before := h.Clone()
	e, err := Policy{}.NewEntry(getReq("http://a/"), 200, h, nil, t0, t0)
	if err != nil {
		t.Fatal(err)
	}
	equal(t, http.Header{"Cache-Control": before["Cache-Control"], "Content-Type": {"text/plain"}}, e.Header.Clone())
	equal(t, before, h)
}

// Every common name maps to its index and back, and no other name has an index.
func TestCommonNamesRoundTrip(t *testing.T) {
	for i := range numCommonNames {
		name := commonName(i)
		if name == "" || commonIndex(name) != i {
			t.Fatalf("index %d: name %q, back to %d", i, name, commonIndex(name))
		}
		h := MakeHeader(http.Header{name: {"v"}, "X-Other": {"w"}})
		equal(t, http.Header{name: {"v"}, "X-Other": {"w"}}, h.Clone())
		equal(t, "v", h.Get(name))
	}
	equal(t, "", commonName(numCommonNames))
	equal(t, -1, commonIndex("content-type"), "only the canonical spelling is common")
}

// Headers made of equal http.Headers are equal, whatever order the map iterates in: the
// fields are stored in name order.
func TestMakeHeaderIsDeterministic(t *testing.T) {
	src := http.Header{}
	for i := range 20 {
		src["X-Field-"+string(rune('a'+i))] = []string{"v"}
	}
	first := MakeHeader(src)
	for range 20 {
		if MakeHeader(src) != first {
			t.Fatal("the same header made two different Headers")
		}
	}
	equal(t, src, first.Clone())
}
