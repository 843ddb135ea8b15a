package httpfallback

import (
	"fmt"
	"net/http"
	"time"

	"github.com/stretchr/testify/require"
)

// storeThenFail stores the good answer of sw's handler for path, lets the entry age by age,
// switches the handler to mode and returns the answer to path then.
func (hs *engHarness) storeThenFail(sw *switchable, path string, age time.Duration, mode string) engResp {
	hs.t.Helper()
	require.Equal(hs.t, `{"good":true}`, hs.get(path).body, "the entry to fall back on is stored")
	hs.clock.Advance(age)
	sw.set(mode)
	return hs.get(path)
}

// etagHandler answers "original" with ETag "e1" and max-age=10, and a 304 to a request
// whose If-None-Match is "e1", after on304 (nil: none) has set the 304's own header fields.
func etagHandler(on304 func(http.Header)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=10")
		w.Header().Set("ETag", `"e1"`)
		if r.Header.Get("If-None-Match") == `"e1"` {
			if on304 != nil {
				on304(w.Header())
			}
			w.WriteHeader(http.StatusNotModified)
			return
		}
		fmt.Fprint(w, "original")
	}
}
