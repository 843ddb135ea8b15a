package main

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Issue 15, end to end through the built binary: the upstream's answers are stale at once
// (max-age=0, stale-if-error=600), 100 keys are warmed, then the upstream hangs (accepts,
// never answers) and 32 concurrent clients ask for every key. The breaker is not open (no
// attempt has failed: the attempt timeout is a minute). Every answer must be a 200 with the
// stored bytes, answered from the store while the upstream still hangs, and say why:
// detail=soft-timeout (this request's fetch passed the soft deadline and goes on in the
// background) or detail=in-flight (another fetch of the key is running). Nothing here is
// timed: had any answer waited for the upstream, it could not have come before the upstream
// was released, which happens only after every client is done. How long the answers take is
// measured by the degradation harness (benchmarks/, hang mode), not asserted here.
func TestBuiltProxyAnswersStaleWhileUpstreamHangs(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the proxy binary")
	}
	const keys, clients = 100, 32
	goBin, err := exec.LookPath("go")
	require.NoError(t, err, "the go command builds the binary under test")
	bin := filepath.Join(t.TempDir(), "proxy")
	out, err := exec.Command(goBin, "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, "go build: %s", out)

	body := func(path string) string {
		return fmt.Sprintf(`{"path":%q,"pad":%q}`, path, strings.Repeat("x", 512))
	}
	var (
		hang    atomic.Bool
		release = make(chan struct{})
		mu      sync.Mutex
		hung    = map[string]int{} // requests per path that reached the hung upstream
	)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hang.Load() {
			mu.Lock()
			hung[r.URL.Path]++
			mu.Unlock()
			select { // never answers: until the proxy gives up, or the test ends
			case <-r.Context().Done():
			case <-release:
			}
			panic(http.ErrAbortHandler)
		}
		w.Header().Set("Cache-Control", "max-age=0, stale-if-error=600")
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, body(r.URL.Path))
	}))
	defer up.Close()
	defer close(release) // before up.Close: no handler is left waiting

	cmd := exec.Command(bin, "-listen", "127.0.0.1:0", "-upstream", up.URL,
		"-timeout", "1m", "-soft-timeout", "50ms", "-name", "e2e-hang")
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	logs := &syncBuffer{}
	addrc := make(chan string, 1)
	exited := make(chan error, 1)
	go func() { // reads the logs to the end, then reaps the process
		sc := bufio.NewScanner(stderr)
		listen := regexp.MustCompile(`msg="proxy listening" listen=(\S+)`)
		for sc.Scan() {
			line := sc.Text()
			_, _ = logs.Write([]byte(line + "\n"))
			if m := listen.FindStringSubmatch(line); m != nil {
				addrc <- m[1]
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
		exited <- cmd.Wait()
	}()
	stopped := false
	stop := func() error { // SIGINT: graceful shutdown, background fetches cancelled
		if stopped {
			return nil
		}
		stopped = true
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case err := <-exited:
			return err
		case <-time.After(2 * time.Minute): // a bound, so that the test ends: not a measurement
			_ = cmd.Process.Kill()
			<-exited
			return fmt.Errorf("the proxy did not exit after SIGINT; logs:\n%s", logs.String())
		}
	}
	defer func() { _ = stop() }()

	var base string
	select {
	case a := <-addrc:
		base = "http://" + a
	case err := <-exited:
		stopped = true
		t.Fatalf("the proxy exited before listening (%v); logs:\n%s", err, logs.String())
	}

	tr := &http.Transport{MaxIdleConnsPerHost: clients, Proxy: nil}
	defer tr.CloseIdleConnections()
	// A bound so that the test ends if the proxy waits for the hung upstream: not a measurement.
	client := &http.Client{Transport: tr, Timeout: time.Minute}
	get := func(path string) (status int, b, cacheStatus string, err error) {
		res, err := client.Get(base + path)
		if err != nil {
			return 0, "", "", err
		}
		defer res.Body.Close()
		raw, err := io.ReadAll(res.Body)
		return res.StatusCode, string(raw), res.Header.Get("Cache-Status"), err
	}
	path := func(k int) string { return fmt.Sprintf("/items/%d", k) }

	for k := range keys { // warm: every key fetched and stored while healthy
		st, b, cs, err := get(path(k))
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, st)
		require.Equal(t, body(path(k)), b)
		require.Contains(t, cs, "stored", "warm %s", path(k))
	}

	hang.Store(true)
	type answer struct {
		path, body, cacheStatus string
		status                  int
		err                     error
	}
	answers := make([][]answer, clients)
	var wg sync.WaitGroup
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range keys { // every client asks for every key, each from its own offset
				p := path((c*3 + j) % keys)
				st, b, cs, err := get(p)
				answers[c] = append(answers[c], answer{path: p, body: b, cacheStatus: cs, status: st, err: err})
			}
		}()
	}
	wg.Wait()

	softTimeout, inFlight := 0, 0
	for _, as := range answers {
		for _, a := range as {
			if !assert.NoError(t, a.err, a.path) {
				continue
			}
			ok := assert.Equal(t, http.StatusOK, a.status, "%s: Cache-Status %q", a.path, a.cacheStatus) &&
				assert.Equal(t, body(a.path), a.body, "%s: the stored bytes", a.path)
			switch {
			case strings.Contains(a.cacheStatus, "detail=soft-timeout"):
				softTimeout++
				ok = ok && assert.Contains(t, a.cacheStatus, "fwd=stale", a.path)
			case strings.Contains(a.cacheStatus, "detail=in-flight"):
				inFlight++
			default:
				ok = assert.Failf(t, "neither soft-timeout nor in-flight", "%s: Cache-Status %q", a.path, a.cacheStatus)
			}
			if !ok {
				t.FailNow() // one failure tells the story; 3200 would bury it
			}
		}
	}
	t.Logf("%d answers: %d soft-timeout, %d in-flight", clients*keys, softTimeout, inFlight)
	assert.Equal(t, clients*keys, softTimeout+inFlight)
	// Each key's first request during the hang starts its fetch and is answered at the soft
	// deadline; the fetch never ends, so every later request for the key finds it in
	// flight: exactly one soft-timeout answer per key.
	assert.Equal(t, keys, softTimeout, "one fetch per key, so one soft-timeout answer per key")

	// The process stops by itself on SIGINT: Close cancels the background fetches.
	require.NoError(t, stop(), "logs:\n%s", logs.String())
	assert.Contains(t, logs.String(), "stopped")
	mu.Lock()
	defer mu.Unlock()
	assert.NotEmpty(t, hung, "the stale keys were fetched")
	for p, n := range hung {
		assert.Equal(t, 1, n, "%s: one fetch per key reached the hung upstream (no second fetch, no retry while one runs)", p)
	}
}
