package proxy

import (
	"bufio"
	"errors"
	"net/http"
	"net/url"
	"path"
	"strings"
	"testing"
)

func TestJoinPathTable(t *testing.T) {
	cases := []struct {
		base, req string
		want      string // "" : refused
	}{
		{"/api", "/users/1", "/api/users/1"},
		{"/api", "/", "/api/"},
		{"", "/", "/"},
		{"", "/a/b/", "/a/b/"},
		{"/api", "/users/", "/api/users/"},
		{"/api", "/../etc/passwd", "/api/etc/passwd"},
		{"/api", "/a/../../../../b", "/api/b"},
		{"/api", "/a/./b/.", "/api/a/b/"},
		{"/api", "/a/..", "/api/"},
		{"/api", "/%2e%2e/%2E%2e/secret", "/api/secret"},
		{"/api", "/.%2e/x", "/api/x"},
		{"/api", "//evil.example/x", "/api/evil.example/x"},
		{"/api", "/a//b///c", "/api/a/b/c"},
		{"/api", "/caf%C3%A9/%41", "/api/caf%C3%A9/%41"},
		{"/api", "/a;b=c/d,e", "/api/a;b=c/d,e"},
		{"/api", "/...", "/api/..."},
		{"/api", "/.well-known/x", "/api/.well-known/x"},
		{"/api", "/a%2fb", ""},           // encoded slash
		{"/api", "/a%2F..%2F..%2Fb", ""}, // encoded slash and dots
		{"/api", `/a\..\..\b`, ""},       // backslash
		{"/api", "/a b", ""},             // not escaped
		{"/api", "/a%5c..%5cb", ""},      // encoded backslash
		{"/api", "/a%00b", ""},           // NUL
		{"/api", "/a%0d%0aX: y", ""},     // CR LF
		{"/api", "/%252e%252e/x", ""},    // double encoding
		{"/api", "/a%252fb", ""},
		{"/api", "/a%zz", ""}, // bad escape
		// A dot segment with path parameters: Tomcat, Jetty and Spring drop ";..." and
		// then resolve the dots, climbing out of the base path.
		{"/api", "/..;/admin", ""},
		{"/api", "/a/..;x=1/..;/b", ""},
		{"/api", "/.;/b", ""},
		{"/api", "/%2e%2e;/b", ""},
		{"/api", "/..;", ""},
		{"/api", "/a..;/b", "/api/a..;/b"},
		{"/api", "/...;/b", "/api/...;/b"},
		{"/api", "*", ""},
		{"/api", "", ""},
		{"/api", "http://evil.example/x", ""},
	}
	for _, c := range cases {
		got, err := joinPath(c.base, c.req)
		if c.want == "" {
			if !errors.Is(err, errUnsafePath) {
				t.Errorf("joinPath(%q, %q) = %q, %v; want errUnsafePath", c.base, c.req, got, err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("joinPath(%q, %q) = %q, %v; want %q", c.base, c.req, got, err, c.want)
		}
	}
}

// upstreamView is a once-decoded path as an upstream that decodes once more and treats
// backslashes as slashes resolves it. The base goes through the same view, so that an
// escaped base ("/%20") is compared with what it names ("/ ").
func upstreamView(decoded string) string {
	again, err := url.PathUnescape(decoded)
	if err != nil {
		again = decoded // such an upstream refuses it; judge the once-decoded path
	}
	return path.Clean(strings.ReplaceAll(again, `\`, "/"))
}

// checkJoined asserts the properties FuzzJoinPath holds joinPath to.
func checkJoined(t *testing.T, base, req, got string) {
	t.Helper()
	if !strings.HasPrefix(got, base+"/") {
		t.Fatalf("joinPath(%q, %q) = %q: not under the base path", base, req, got)
	}
	// The upstream URL built from it keeps the upstream's host and, even for an upstream
	// that decodes once more and treats backslashes as slashes, stays under the base.
	u, err := url.Parse("http://upstream.test" + got)
	if err != nil || u.Host != "upstream.test" || u.EscapedPath() != got {
		t.Fatalf("joinPath(%q, %q) = %q: parses as %v (%v)", base, req, got, u, err)
	}
	bp, err := url.PathUnescape(base) // the base path as url.Parse decodes it, like u.Path
	if err != nil {
		bp = base
	}
	normal, nbase := upstreamView(u.Path), upstreamView(bp)
	if base != "" && normal != nbase && !strings.HasPrefix(normal, strings.TrimSuffix(nbase, "/")+"/") {
		t.Fatalf("joinPath(%q, %q) = %q: an upstream normalising it reaches %q", base, req, got, normal)
	}
	rest := strings.TrimSuffix(got[len(base)+1:], "/")
	for seg := range strings.SplitSeq(rest, "/") {
		if rest == "" {
			break
		}
		dec, err := url.PathUnescape(seg)
		if err != nil || dec == "" || dec == "." || dec == ".." || strings.ContainsAny(dec, `/\`) {
			t.Fatalf("joinPath(%q, %q) = %q: bad segment %q", base, req, got, seg)
		}
		// Servers that drop path parameters before resolving dots see this segment as:
		if p, _, _ := strings.Cut(dec, ";"); p == "." || p == ".." {
			t.Fatalf("joinPath(%q, %q) = %q: dot segment with parameters %q", base, req, got, seg)
		}
	}
	// Cleaning is idempotent: the proxy keys and forwards the same path.
	if again, err := joinPath(base, got[len(base):]); err != nil || again != got {
		t.Fatalf("joinPath not idempotent on %q: %q, %v", got, again, err)
	}
}

func FuzzJoinPath(f *testing.F) {
	for _, s := range []string{
		"/", "/a/b", "/../x", "/%2e%2e/x", "/a%2fb", `/a\b`, "//h/x", "/a/./b/../c/",
		"/%252e%252e/", "/.%2E/", "/...", "/a%00", "*", "/caf%C3%A9", "/..;/x", "/a;b/.%2e;c/",
	} {
		f.Add("/api", s)
		f.Add("", s)
	}
	f.Fuzz(func(t *testing.T, base, req string) {
		// The base is what NewProxy accepts: a clean escaped path without trailing slash.
		if b, err := cleanPath(base + "/"); err != nil || b != base+"/" {
			return
		}
		got, err := joinPath(base, req)
		if err != nil {
			if !errors.Is(err, errUnsafePath) {
				t.Fatalf("joinPath(%q, %q): unexpected error %v", base, req, err)
			}
			return
		}
		checkJoined(t, base, req, got)
	})
}

// The request paths a real server hands to the proxy (after Go's own parsing of the
// request line) are joined safely too.
func TestJoinPathFromParsedRequestURIs(t *testing.T) {
	for _, uri := range []string{
		"/a/b?x=1", "/../../etc/passwd", "/%2e%2e/%2e%2e/x", "http://evil.test/steal", "//evil.test/x",
		"/a/%2e%2e%2f%2e%2e/x", "/ok%20space", "/a/b/../c",
	} {
		r, err := http.ReadRequest(bufio.NewReader(strings.NewReader("GET " + uri + " HTTP/1.1\r\nHost: evil.test\r\n\r\n")))
		if err != nil {
			t.Fatalf("%q: %v", uri, err)
		}
		got, err := joinPath("/base", r.URL.EscapedPath())
		if err != nil {
			continue // refused: answered 400
		}
		checkJoined(t, "/base", uri, got)
	}
}

func TestIsPlainPathAgreesWithCleanPath(t *testing.T) {
	for _, p := range []string{"/", "/a", "/a/", "/a/b.c", "/.a", "/a.", "/...", "/..", "/.", "/a/..", "/a//b", "/a/./b", "/%41", `/a\b`, "/a\x7f"} {
		c, err := cleanPath(p)
		if isPlainPath(p) && (err != nil || c != p) {
			t.Errorf("isPlainPath(%q) but cleanPath = %q, %v", p, c, err)
		}
	}
}
