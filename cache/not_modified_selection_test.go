package cache

import (
	"testing"
	"time"
)

// A 304 selects the stored entry only when its validator is the entry's (RFC 9111 4.3.4):
// strong comparison for a strong ETag, weak comparison for a weak one, Last-Modified when
// the entry has no ETag.
func TestNotModifiedSelectsEntryOnlyWithItsValidator(t *testing.T) {
	lm, later := httpDate(t0.Add(-time.Hour)), httpDate(t0)
	tests := []struct {
		name     string
		stored   []string
		notMod   []string
		selected bool
	}{
		{"same strong", []string{"Etag", `"a"`}, []string{"Etag", `"a"`}, true},
		{"other strong", []string{"Etag", `"a"`}, []string{"Etag", `"b"`}, false},
		{"strong against weak", []string{"Etag", `W/"a"`}, []string{"Etag", `"a"`}, false},
		{"same weak", []string{"Etag", `W/"a"`}, []string{"Etag", `W/"a"`}, true},
		{"weak against strong", []string{"Etag", `"a"`}, []string{"Etag", `W/"a"`}, true},
		{"other weak", []string{"Etag", `W/"a"`}, []string{"Etag", `W/"b"`}, false},
		{"weak, entry without ETag", []string{"Last-Modified", lm}, []string{"Etag", `W/"b"`}, false},
		{"no validator on the 304", []string{"Etag", `"a"`}, nil, true},
		{"same Last-Modified", []string{"Last-Modified", lm}, []string{"Last-Modified", lm}, true},
		{"other Last-Modified", []string{"Last-Modified", lm}, []string{"Last-Modified", later}, false},
		{"Last-Modified beside the entry's ETag", []string{"Etag", `"a"`, "Last-Modified", lm}, []string{"Last-Modified", later}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := Policy{}.NewEntry(getReq("http://a/"), 200, hdr(tt.stored...), []byte("hello"), t0, t0)
			if err != nil {
				t.Fatal(err)
			}
			if got := e.SelectedBy(hdr(tt.notMod...)); got != tt.selected {
				t.Errorf("SelectedBy = %v, want %v", got, tt.selected)
			}
		})
	}
}
