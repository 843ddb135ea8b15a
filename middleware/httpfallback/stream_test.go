package httpfallback

import (
	"bufio"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/failsoft/failsoft/upstream"
)

func TestIsStreaming(t *testing.T) {
	for _, c := range []struct {
		hdr  []string
		want bool
	}{
		{[]string{"Accept", "text/event-stream"}, true},
		{[]string{"Accept", "application/json, Text/Event-Stream;q=0.9"}, true},
		{[]string{"Accept", "text/html", "Accept", "text/event-stream"}, true},
		{[]string{"Connection", "Upgrade", "Upgrade", "websocket"}, true},
		{[]string{"Accept", "text/html,application/xhtml+xml,*/*;q=0.8"}, false},
		{[]string{"Accept", "text/event-streams"}, false},
		{[]string{"Accept", "application/x-text/event-stream"}, false},
		{[]string{"Accept", "TEXT/EVENT-STREAM"}, true},
		{[]string{"Accept", "application/signed-exchange;v=b3, x-a-b/c-d-e, text/event-stream"}, true},
		{[]string{"Accept", "-text/event-stream-"}, false},
		{[]string{"Accept", "text/event-"}, false},
		{[]string{"Accept", "-"}, false},
		{nil, false},
	} {
		r, err := http.NewRequest(http.MethodGet, "http://example.test/", nil)
		require.NoError(t, err)
		for i := 0; i < len(c.hdr); i += 2 {
			r.Header.Add(c.hdr[i], c.hdr[i+1])
		}
		assert.Equal(t, c.want, IsStreaming(r), "%q", c.hdr)
	}
	// A CONNECT is a tunnel (WebSocket over HTTP/2 and HTTP/3 comes as one, RFC 8441/9220,
	// with no Upgrade field).
	r, err := http.NewRequest(http.MethodConnect, "http://example.test/chat", nil)
	require.NoError(t, err)
	r.Header.Set(":protocol", "websocket")
	assert.True(t, IsUpgrade(r))
	assert.True(t, IsStreaming(r))
}

// A Server-Sent Events stream through the net/http middleware reaches the client as the
// handler writes it, outside any command: the handler here sends one event and waits until
// the client has read it before sending a second. Buffered, the client would get nothing
// until the handler returned, which it does only when the 50 ms command timeout ends its
// context: the answer would be a timeout, counted against the breaker.
func TestHandlerPassesEventStreamsThrough(t *testing.T) {
	read := make(chan struct{})
	hs := newEngHarness(t, Config{Common: upstream.Common{Command: upstream.Settings{Timeout: 50 * time.Millisecond}}}, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Cache-Control", "max-age=60")
		_, _ = w.Write([]byte("data: 1\n\n"))
		http.NewResponseController(w).Flush()
		select {
		case <-read:
		case <-r.Context().Done():
			return
		}
		_, _ = w.Write([]byte("data: 2\n\n"))
	})
	req, err := http.NewRequest(http.MethodGet, hs.srv.URL+"/events", nil)
	require.NoError(t, err)
	req.Header.Set("Accept", "text/event-stream")
	c := hs.srv.Client()
	c.Timeout = 10 * time.Second // bounds the test if the stream is buffered
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Empty(t, resp.Header.Get("Cache-Status"), "not through the engine")
	br := bufio.NewReader(resp.Body)
	line, err := br.ReadString('\n')
	require.NoError(t, err)
	assert.Equal(t, "data: 1\n", line)
	close(read)
	rest, err := br.ReadString(0)
	assert.Equal(t, "\ndata: 2\n\n", rest)
	assert.Error(t, err) // io.EOF: the stream ended when the handler returned
	if rn := hs.eng.runnerOf(defaultRoute); rn != nil {
		assert.Equal(t, upstream.Closed, rn.State())
	}
	assert.Zero(t, hs.eng.Stats().Stored)
	assert.True(t, strings.HasSuffix(hs.get("/events").cs(), "stored"), "a plain GET goes through the engine")
}
