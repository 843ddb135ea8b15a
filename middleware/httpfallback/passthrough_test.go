package httpfallback

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/failsoft/failsoft/cache"
)

func TestUnsafeMethodInvalidates(t *testing.T) {
	sw := &switchable{}
	hs := newEngHarness(t, Config{}, func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			if m, _ := sw.mode.Load().(string); m == "500" {
				w.WriteHeader(500)
				return
			}
			w.WriteHeader(201)
			fmt.Fprint(w, "created")
			return
		}
		w.Header().Set("Cache-Control", "max-age=60")
		fmt.Fprint(w, "list")
	})
	hs.get("/items")
	assert.True(t, hasParam(hs.get("/items").cs(), "hit"))

	sw.set("500")
	r := hs.do(http.MethodPost, "/items")
	assert.Equal(t, 500, r.status)
	assert.Equal(t, "failsoft; fwd=method; fwd-status=500; detail=upstream-5xx", r.cs())
	assert.True(t, hasParam(hs.get("/items").cs(), "hit"), "a failed POST does not invalidate")

	r = hs.do(http.MethodOptions, "/items")
	assert.True(t, hasParam(hs.get("/items").cs(), "hit"), "a safe OPTIONS does not invalidate")

	sw.set("")
	r = hs.do(http.MethodPost, "/items")
	assert.Equal(t, 201, r.status)
	assert.Equal(t, "created", r.body)
	assert.Equal(t, "failsoft; fwd=method; fwd-status=201", r.cs())
	calls := hs.calls.Load()
	assert.True(t, hasParam(hs.get("/items").cs(), "stored"), "the POST invalidated the entry")
	assert.Equal(t, calls+1, hs.calls.Load())
}

func TestLargeResponseIsStreamedNotStored(t *testing.T) {
	const chunk = 4 << 10
	const chunks = 64
	firstRead := make(chan struct{})
	var streamedBeforeEnd atomic.Bool
	cfg := Config{Policy: cache.Policy{MaxBodyBytes: 8 << 10}}
	hs := newEngHarness(t, cfg, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		p := []byte(strings.Repeat("z", chunk))
		for i := range chunks {
			_, _ = w.Write(p)
			if i == 3 {
				w.(http.Flusher).Flush()
				select { // the client already has the first bytes: nothing waited for the whole body
				case <-firstRead:
					streamedBeforeEnd.Store(true)
				case <-time.After(10 * time.Second):
				}
			}
		}
	})
	res, err := hs.srv.Client().Get(hs.srv.URL + "/big")
	require.NoError(t, err)
	defer res.Body.Close()
	buf := make([]byte, chunk)
	_, err = io.ReadFull(res.Body, buf)
	require.NoError(t, err)
	close(firstRead)
	rest, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	assert.Equal(t, chunk*chunks, len(buf)+len(rest))
	assert.True(t, streamedBeforeEnd.Load())
	assert.Equal(t, "failsoft; fwd=uri-miss; fwd-status=200; detail=too-large", res.Header.Get("Cache-Status"))
	assert.EqualValues(t, 0, hs.eng.Stats().Stored)
}
