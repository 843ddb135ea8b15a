package cache

import (
	"net/http"
	"sync"
	"testing"
)

func TestCopyHeaderIsTheRequestsOwn(t *testing.T) {
	e := &Entry{Status: 200, Header: MakeHeader(http.Header{
		"Content-Type": {"application/json"},
		"Link":         {"</a>; rel=a", "</b>; rel=b"},
		"X-Empty":      {},
	})}
	dst := http.Header{"Content-Type": {"text/plain"}, "X-Mine": {"kept"}}
	extra := e.CopyHeader(dst, 2)
	equal(t, 2, len(extra))
	equal(t, []string{"", ""}, extra)
	equal(t, []string{"application/json"}, dst["Content-Type"], "replaced")
	equal(t, []string{"</a>; rel=a", "</b>; rel=b"}, dst["Link"])
	equal(t, []string{"kept"}, dst["X-Mine"])
	if v, ok := dst["X-Empty"]; !ok || len(v) != 0 {
		t.Fatalf("X-Empty: %q %v", v, ok)
	}

	// Writes through dst reach neither the entry nor a neighbouring field.
	extra[0] = "mine"
	dst["Content-Type"][0] = "changed"
	dst["Content-Type"] = append(dst["Content-Type"], "appended")
	dst["Link"] = append(dst["Link"], "appended")
	equal(t, "application/json", e.Header.Get("Content-Type"))
	equal(t, []string{"</a>; rel=a", "</b>; rel=b"}, e.Header.Values("Link"))

	again := http.Header{}
	e.CopyHeader(again, 0)
	equal(t, http.Header{"Content-Type": {"application/json"}, "Link": {"</a>; rel=a", "</b>; rel=b"}, "X-Empty": {}}, again,
		"a second copy is the entry's header, untouched by the first")
}

func TestCopyHeaderConcurrentFirstUse(t *testing.T) {
	e := &Entry{Status: 200, Header: MakeHeader(http.Header{"A": {"1"}, "B": {"2", "3"}})}
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h := http.Header{}
			e.CopyHeader(h, 1)
			if len(h) != 2 || h.Get("A") != "1" || len(h["B"]) != 2 {
				t.Errorf("copy %v", h)
			}
		}()
	}
	wg.Wait()
}

func TestCopyHeaderFieldReturnsTheCopiedField(t *testing.T) {
	e := &Entry{Status: 200, Header: MakeHeader(http.Header{
		"Cache-Status": {"upstream; hit", "edge; fwd=miss"},
		"Content-Type": {"application/json"},
	})}
	dst := http.Header{"Cache-Status": {"left by w"}}
	own, field := e.CopyHeaderField(dst, 1, "Cache-Status")
	equal(t, 1, len(own))
	equal(t, []string{"upstream; hit", "edge; fwd=miss"}, field)
	equal(t, dst["Cache-Status"], field, "the field is the copy on dst")
	field[0] = "changed"
	equal(t, "upstream; hit", e.Header.Get("Cache-Status"), "the entry is not written through the copy")

	_, none := (&Entry{Header: MakeHeader(http.Header{"Content-Type": {"text/plain"}})}).CopyHeaderField(http.Header{}, 0, "Cache-Status")
	if none != nil {
		t.Fatalf("an entry without the field: %q, want nil", none)
	}
}
