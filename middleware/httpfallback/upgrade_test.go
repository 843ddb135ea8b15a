package httpfallback

import (
	"bufio"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/failsoft/failsoft/cache"
	"github.com/failsoft/failsoft/upstream"
)

// upgradeHandler answers a protocol upgrade the way WebSocket libraries do: it hijacks the
// connection and writes 101 on it, or, when the writer cannot be hijacked, answers 500
// (gorilla/websocket and coder/websocket both do).
func upgradeHandler(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Upgrade") == "" {
		_, _ = w.Write([]byte("plain"))
		return
	}
	conn, rw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		http.Error(w, "cannot hijack: "+err.Error(), http.StatusInternalServerError)
		return
	}
	defer conn.Close()
	_, _ = rw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: test\r\nConnection: Upgrade\r\n\r\n")
	_ = rw.Flush()
}

// upgradeStatus sends a raw upgrade request to addr and returns the status line.
func upgradeStatus(t *testing.T, addr string) string {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(10*time.Second)))
	_, err = conn.Write([]byte("GET /ws HTTP/1.1\r\nHost: example.test\r\nConnection: Upgrade\r\nUpgrade: test\r\n\r\n"))
	require.NoError(t, err)
	line, err := bufio.NewReader(conn).ReadString('\n')
	require.NoError(t, err)
	return strings.TrimSpace(line)
}

// A protocol upgrade (WebSocket) through the net/http middleware reaches a handler that can
// take over the connection, as the Echo adapter's default Skipper does: the engine's buffer
// cannot be hijacked, so the handler used to answer 500, which the route's breaker counted
// (with eng.Handler(mux), the one "*" breaker of the whole mux opened on reconnecting
// WebSocket clients).
func TestHandlerPassesProtocolUpgradesThrough(t *testing.T) {
	cfg := Config{Common: upstream.Common{Command: fastCommand()}, Policy: cache.Policy{FreshFor: time.Minute}}
	hs := newEngHarness(t, cfg, upgradeHandler)
	addr := strings.TrimPrefix(hs.srv.URL, "http://")

	for range 4 {
		require.Equal(t, "HTTP/1.1 101 Switching Protocols", upgradeStatus(t, addr))
	}
	// Upgrades never went through a command: the breaker is untouched and plain requests
	// are still served through the engine.
	if rn := hs.eng.runnerOf(defaultRoute); rn != nil {
		require.Equal(t, upstream.Closed, rn.State())
	}
	res := hs.get("/ws")
	require.Equal(t, http.StatusOK, res.status)
	require.Equal(t, "plain", res.body)
	require.True(t, hasParam(res.cs(), "stored"), res.cs())

	// An Upgrade header without "Connection: upgrade" is not an upgrade (RFC 9110 7.8): it
	// goes through the engine as usual (answered from the entry just stored).
	res = hs.get("/ws", "Upgrade", "test")
	require.Equal(t, http.StatusOK, res.status)
	require.True(t, strings.HasPrefix(res.cs(), "failsoft; hit"), res.cs())
}
