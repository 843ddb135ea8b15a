package cache

import (
	"crypto/tls"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func reqFor(method, target string, kv ...string) *http.Request {
	r := getReq(target, kv...)
	r.Method = method
	return r
}

func TestKeyEquivalences(t *testing.T) {
	same := [][2]*http.Request{
		{reqFor("GET", "http://example.com/a"), reqFor("HEAD", "http://example.com/a")},
		{reqFor("GET", "http://Example.COM/a"), reqFor("GET", "http://example.com/a")},
		{reqFor("GET", "http://example.com:80/a"), reqFor("GET", "http://example.com/a")},
		{reqFor("GET", "https://example.com:443/a"), reqFor("GET", "https://example.com/a")},
		{reqFor("GET", "http://example.com"), reqFor("GET", "http://example.com/")},
		{reqFor("GET", "http://example.com/%7Euser/%61"), reqFor("GET", "http://example.com/~user/a")},
		{reqFor("GET", "http://example.com/a%2fb"), reqFor("GET", "http://example.com/a%2Fb")},
		{reqFor("GET", "http://example.com/a?b=2&a=1"), reqFor("GET", "http://example.com/a?a=1&b=2")},
		{reqFor("GET", "http://example.com/a?b=2&&a=1&"), reqFor("GET", "http://example.com/a?a=1&b=2")},
		{reqFor("GET", "http://example.com/a?x=%41%2c"), reqFor("GET", "http://example.com/a?x=A%2C")},
		{reqFor("GET", "http://example.com/a", "X-Forwarded-Proto", "https", "X-Forwarded-Host", "evil"), reqFor("GET", "http://example.com/a")},
		{reqFor("GET", "http://example.com/a", "Accept", "x"), reqFor("GET", "http://example.com/a")},
	}
	for i, p := range same {
		a, b := Key(p[0], KeyOptions{}), Key(p[1], KeyOptions{})
		if a != b {
			t.Errorf("%d: keys differ:\n%q\n%q", i, a, b)
		}
	}
	differ := [][2]*http.Request{
		{reqFor("GET", "http://example.com/a"), reqFor("POST", "http://example.com/a")},
		{reqFor("GET", "http://example.com/a"), reqFor("GET", "https://example.com/a")},
		{reqFor("GET", "http://example.com/a"), reqFor("GET", "http://example.com:8080/a")},
		{reqFor("GET", "https://example.com/a"), reqFor("GET", "https://example.com:80/a")},
		{reqFor("GET", "http://example.com/a"), reqFor("GET", "http://example.org/a")},
		{reqFor("GET", "http://example.com/a/b"), reqFor("GET", "http://example.com/a%2Fb")},
		{reqFor("GET", "http://example.com/a"), reqFor("GET", "http://example.com/A")},
		{reqFor("GET", "http://example.com/a?x=1&x=2"), reqFor("GET", "http://example.com/a?x=2&x=1")},
		{reqFor("GET", "http://example.com/a?x=1%262"), reqFor("GET", "http://example.com/a?x=1&2")},
		{reqFor("GET", "http://example.com/a?x"), reqFor("GET", "http://example.com/a?x=")},
		{reqFor("GET", "http://example.com/a?"), reqFor("GET", "http://example.com/a?%3F")},
	}
	for i, p := range differ {
		a, b := Key(p[0], KeyOptions{}), Key(p[1], KeyOptions{})
		if a == b {
			t.Errorf("%d: keys equal: %q", i, a)
		}
	}
}

func TestKeyScheme(t *testing.T) {
	r := &http.Request{Method: "GET", Host: "a", URL: &url.URL{Path: "/"}, Header: http.Header{}}
	plain := Key(r, KeyOptions{})
	r.TLS = &tls.ConnectionState{}
	secure := Key(r, KeyOptions{})
	equal(t, "G|http|a|/", plain)
	equal(t, "G|https|a|/", secure)
}

func TestKeyCredentials(t *testing.T) {
	const secret = "Bearer s3cr3t-t0ken-value"
	a := reqFor("GET", "http://example.com/a", "Authorization", secret)
	b := reqFor("GET", "http://example.com/a", "Authorization", "Bearer other")
	c := reqFor("GET", "http://example.com/a", "Cookie", "sid="+secret)
	none := reqFor("GET", "http://example.com/a")
	opt := KeyOptions{Credentials: true}

	equal(t, Key(none, KeyOptions{}), Key(a, KeyOptions{}), "credentials ignored without the option")
	equal(t, Key(none, KeyOptions{}), Key(none, opt), "no credential, no suffix")
	ka, kb, kc := Key(a, opt), Key(b, opt), Key(c, opt)
	if ka == kb || ka == kc || kb == kc {
		t.Fatalf("credential keys collide: %q %q %q", ka, kb, kc)
	}
	for _, k := range []string{ka, kb, kc} {
		if strings.Contains(k, "s3cr3t") || strings.Contains(k, "other") {
			t.Fatalf("raw credential in key %q", k)
		}
		if !regexp.MustCompile(`^G\|http\|example\.com\|/a\|c[0-9a-f]{32}$`).MatchString(k) {
			t.Fatalf("unexpected key form %q", k)
		}
	}
	equal(t, ka, Key(reqFor("GET", "http://example.com/a", "Authorization", secret), opt), "deterministic")
}

func TestKeyManyParamsSorted(t *testing.T) {
	var q, want []string
	for i := 40; i > 0; i-- {
		q = append(q, "p"+strconv.Itoa(i%20)+"="+strconv.Itoa(i))
	}
	for i := 0; i < 20; i++ {
		for _, v := range q {
			if strings.HasPrefix(v, "p"+strconv.Itoa(i)+"=") {
				want = append(want, v)
			}
		}
	}
	slices.SortStableFunc(want, func(a, b string) int {
		return strings.Compare(strings.SplitN(a, "=", 2)[0], strings.SplitN(b, "=", 2)[0])
	})
	k := Key(getReq("http://a/?"+strings.Join(q, "&")), KeyOptions{})
	equal(t, "G|http|a|/?"+strings.Join(want, "&"), k)
}

func TestKeyWithoutURL(t *testing.T) {
	equal(t, "G|http|h|/", Key(&http.Request{Host: "h", Header: http.Header{}}, KeyOptions{}))
}

func TestKeyEscapesSeparator(t *testing.T) {
	r := &http.Request{Method: "GET", Host: "a|b", URL: &url.URL{Path: "/x|y", RawPath: "", RawQuery: "q=|"}, Header: http.Header{}}
	k := Key(r, KeyOptions{})
	equal(t, 3, strings.Count(k, "|"), k)
	r.Method = "M|X"
	equal(t, 3, strings.Count(Key(r, KeyOptions{}), "|"))
}

func TestVariantKey(t *testing.T) {
	h := hdr("Accept-Encoding", "gzip", "Accept-Language", "en ,  fr")
	a := VariantKey("P", []string{"accept-language", "Accept-Encoding"}, h)
	b := VariantKey("P", []string{"Accept-Encoding", "Accept-Language", "accept-encoding"}, h)
	equal(t, a, b)
	equal(t, "P|v|Accept-Encoding=gzip|Accept-Language=en%20,%20fr", a)
	if a == VariantKey("P", []string{"Accept-Encoding"}, h) {
		t.Fatal("variant ignores a header")
	}
	if a == VariantKey("P", []string{"Accept-Encoding", "Accept-Language"}, hdr("Accept-Encoding", "br", "Accept-Language", "en ,  fr")) {
		t.Fatal("variant ignores a value")
	}
	// A value cannot smuggle a separator.
	equal(t, 2, strings.Count(VariantKey("P", []string{"X"}, hdr("X", "a|v|Y=b")), "|"))
}

// FuzzKey: Key never panics, is deterministic, is stable under re-keying of its own URL
// parts, and never contains the raw credential: with Credentials the key is exactly the
// credential-less key plus "|c" and 32 hex digits.
func FuzzKey(f *testing.F) {
	f.Add("GET", "http://example.com/a?b=1&a=2", "Example.com:80", "Bearer abc", "sid=1")
	f.Add("POST", "/%zz/%2f?%=&&x", "[::1]:443", "", "c")
	f.Add("HEAD", "https://h/a%7e?x=%7E", "", "Basic dXNlcjpwYXNz", "")
	suffix := regexp.MustCompile(`^\|c[0-9a-f]{32}$`)
	f.Fuzz(func(t *testing.T, method, target, host, auth, cookie string) {
		u, err := url.Parse(target)
		if err != nil {
			return
		}
		r := &http.Request{Method: method, URL: u, Host: host, Header: http.Header{}}
		if auth != "" {
			r.Header["Authorization"] = []string{auth}
		}
		if cookie != "" {
			r.Header["Cookie"] = []string{cookie}
		}
		plain := Key(r, KeyOptions{})
		if plain != Key(r, KeyOptions{}) {
			t.Fatal("not deterministic")
		}
		cred := Key(r, KeyOptions{Credentials: true})
		if auth == "" && cookie == "" {
			if cred != plain {
				t.Fatalf("suffix without credential: %q", cred)
			}
			return
		}
		if !strings.HasPrefix(cred, plain) || !suffix.MatchString(cred[len(plain):]) {
			t.Fatalf("credential key %q is not %q + hash", cred, plain)
		}
		if strings.Count(plain, "|") != 3 {
			t.Fatalf("separator count in %q", plain)
		}
	})
}
