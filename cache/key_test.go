package cache

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
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

	// With a Secret the hash is keyed: the same form, another value per secret, stable for
	// one secret (replicas sharing a store agree), the same through Func.
	sum := sha256.Sum256([]byte("Authorization\x00" + secret + "\nCookie\n"))
	equal(t, "G|http|example.com|/a|c"+hex.EncodeToString(sum[:])[:32], ka, "unkeyed: plain SHA-256")
	s1 := KeyOptions{Credentials: true, Secret: []byte("one")}
	s2 := KeyOptions{Credentials: true, Secret: []byte("two")}
	k1, k2 := Key(a, s1), Key(a, s2)
	m := hmac.New(sha256.New, []byte("one"))
	m.Write([]byte("Authorization\x00" + secret + "\nCookie\n"))
	equal(t, "G|http|example.com|/a|c"+hex.EncodeToString(m.Sum(nil))[:32], k1, "HMAC-SHA-256 keyed with the secret")
	if k1 == ka || k1 == k2 {
		t.Fatalf("keyed hashes must differ from the plain one and between secrets: %q %q %q", ka, k1, k2)
	}
	equal(t, k1, s1.Func()(a), "Func and Key agree")
	equal(t, Key(none, s1), Key(none, opt), "no credential, no suffix")
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
// credential-less key plus "|c" and 32 hex digits. With keyed headers: a request carrying
// none keys as the plain key, one carrying them keys as the plain key plus "|h" and one
// part per header, distinct values give distinct keys, and Func agrees with Key. The
// allocation-free shortcuts (canonical query, raw path) agree with the general code.
func FuzzKey(f *testing.F) {
	f.Add("GET", "http://example.com/a?b=1&a=2", "Example.com:80", "Bearer abc", "sid=1", "", "", "https")
	f.Add("POST", "/%zz/%2f?%=&&x", "[::1]:443", "", "c", "evil.example", "", "")
	f.Add("HEAD", "https://h/a%7e?x=%7E", "", "Basic dXNlcjpwYXNz", "", "a", "b", "http")
	f.Add("GET", "/p?a=1&b=2", "h", "", "", "r%65al|h|X=1", "", strings.Repeat("long", 40))
	suffix := regexp.MustCompile(`^\|c[0-9a-f]{32}$`)
	opt := KeyOptions{Headers: DefaultKeyedHeaders()}
	keyed := opt.Func()
	f.Fuzz(func(t *testing.T, method, target, host, auth, cookie, xfh1, xfh2, xfp string) {
		u, err := url.Parse(target)
		if err != nil {
			return
		}
		if u.RawQuery != "" {
			equal(t, string(appendQueryNormalised(nil, u.RawQuery)), string(appendQuery(nil, u.RawQuery)), "query shortcut")
		}
		equal(t, u.EscapedPath(), escapedPath(u), "path shortcut")
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
		if strings.Count(plain, "|") != 3 {
			t.Fatalf("separator count in %q", plain)
		}
		cred := Key(r, KeyOptions{Credentials: true})
		if auth == "" && cookie == "" {
			if cred != plain {
				t.Fatalf("suffix without credential: %q", cred)
			}
		} else if !strings.HasPrefix(cred, plain) || !suffix.MatchString(cred[len(plain):]) {
			t.Fatalf("credential key %q is not %q + hash", cred, plain)
		}

		equal(t, plain, Key(r, opt), "no keyed header carried")
		var lines []string
		for _, v := range []string{xfh1, xfh2} {
			if v != "" {
				lines = append(lines, v)
			}
		}
		parts := 0
		if len(lines) > 0 {
			r.Header["X-Forwarded-Host"] = lines
			parts++
		}
		if xfp != "" {
			r.Header["X-Forwarded-Proto"] = []string{xfp}
			parts++
		}
		k := Key(r, opt)
		equal(t, k, keyed(r), "Func agrees with Key")
		if parts == 0 {
			equal(t, plain, k)
			return
		}
		if !strings.HasPrefix(k, plain+"|h|") || strings.Count(k, "|") != 4+parts {
			t.Fatalf("keyed %q is not %q + |h + %d parts", k, plain, parts)
		}
		if kc := Key(r, KeyOptions{Credentials: true, Headers: opt.Headers}); !strings.HasPrefix(kc, k) || kc != k && !suffix.MatchString(kc[len(k):]) {
			t.Fatalf("credential key %q is not %q + hash", kc, k)
		}
		if len(lines) > 0 {
			r.Header["X-Forwarded-Host"] = append(slices.Clone(lines[:len(lines)-1]), lines[len(lines)-1]+"x")
			if Key(r, opt) == k {
				t.Fatalf("values %q and %q share the key %q", lines, r.Header["X-Forwarded-Host"], k)
			}
		}
	})
}

func TestKeyHeaders(t *testing.T) {
	opt := KeyOptions{Headers: DefaultKeyedHeaders()}
	plain := Key(getReq("http://example.com/a?x=1"), KeyOptions{})
	equal(t, plain, Key(getReq("http://example.com/a?x=1", "Accept", "x", "X-Forwarded-For", "1.2.3.4"), opt),
		"no keyed header carried: the plain key")
	evil := Key(getReq("http://example.com/a?x=1", "X-Forwarded-Host", "evil.example"), opt)
	equal(t, plain+"|h|X-Forwarded-Host=evil.example", evil)
	equal(t, plain, Key(getReq("http://example.com/a?x=1", "X-Forwarded-Host", "evil.example"), KeyOptions{}),
		"not keyed without the option")

	two := getReq("http://example.com/a?x=1", "X-Forwarded-Proto", "https", "x-forwarded-host", "api.example")
	equal(t, plain+"|h|X-Forwarded-Host=api.example|X-Forwarded-Proto=https", Key(two, opt))
	equal(t, Key(two, opt), Key(two, KeyOptions{Headers: []string{" x-forwarded-proto", "X-FORWARDED-HOST", "X-Forwarded-Proto"}}),
		"names: any case, order, duplicates")
	equal(t, Key(two, opt), opt.Func()(two), "Func is Key")

	// Distinct values never share a key: escapes are not decoded, lines stay apart.
	distinct := [][]string{
		{"real.example"}, {"r%65al.example"}, {"REAL.example"}, {"a", "b"}, {"a&b"}, {"a,b"}, {"a, b"},
		{""}, {"a|h|X=b"}, {"a%26b"},
	}
	seen := map[string][]string{}
	for _, v := range distinct {
		r := getReq("http://example.com/a")
		r.Header["X-Host"] = v
		k := Key(r, opt)
		if prev, dup := seen[k]; dup {
			t.Fatalf("%q and %q share the key %q", prev, v, k)
		}
		seen[k] = v
		equal(t, 5, strings.Count(k, "|"), k)
	}
	absent := getReq("http://example.com/a")
	absent.Header["X-Host"] = []string{}
	equal(t, Key(getReq("http://example.com/a"), opt), Key(absent, opt), "no line: not carried")

	// A long value is hashed: bounded, and still distinct.
	long := strings.Repeat("x", 300)
	k1 := Key(getReq("http://example.com/a", "X-Original-Url", long+"1"), opt)
	k2 := Key(getReq("http://example.com/a", "X-Original-Url", long+"2"), opt)
	if k1 == k2 || strings.Contains(k1, long) {
		t.Fatalf("long values: %q %q", k1, k2)
	}
	if !regexp.MustCompile(`\|h\|X-Original-Url=#[0-9a-f]{32}$`).MatchString(k1) {
		t.Fatalf("long value form %q", k1)
	}

	// Credentials come last, after the keyed headers; other methods are keyed too.
	cred := getReq("http://example.com/a", "X-Forwarded-Host", "h", "Cookie", "sid=1")
	cred.Method = http.MethodDelete
	k := Key(cred, KeyOptions{Credentials: true, Headers: DefaultKeyedHeaders()})
	if !regexp.MustCompile(`^DELETE\|http\|example\.com\|/a\|h\|X-Forwarded-Host=h\|c[0-9a-f]{32}$`).MatchString(k) {
		t.Fatalf("key form %q", k)
	}
}

func TestDefaultKeyedHeaders(t *testing.T) {
	l := DefaultKeyedHeaders()
	for _, want := range []string{"X-Forwarded-Host", "X-Forwarded-Proto", "X-Forwarded-Prefix", "X-Host",
		"X-Original-Url", "X-Rewrite-Url", "X-Http-Method-Override", "X-Http-Method", "X-Method-Override"} {
		if !slices.Contains(l, want) {
			t.Errorf("%s not keyed by default", want)
		}
	}
	for _, n := range l {
		equal(t, http.CanonicalHeaderKey(n), n)
	}
	l[0] = "changed"
	equal(t, "X-Forwarded-Host", DefaultKeyedHeaders()[0], "a fresh copy each call")
}

func TestKeyHost(t *testing.T) {
	for in, want := range map[string]string{
		"http://Example.COM:80/":    "example.com",
		"http://example.com:/":      "example.com",
		"http://example.com:443/":   "example.com:443",
		"https://example.com:443/":  "example.com",
		"http://[::1]:8080/":        "[::1]:8080",
		"http://example.com.:8080/": "example.com.:8080",
	} {
		equal(t, want, KeyHost(getReq(in)), in)
	}
	r := &http.Request{URL: &url.URL{Host: "From-URL"}}
	equal(t, "from-url", KeyHost(r))
}

// TestKeyShortcuts: the allocation-free shortcuts give what the general code gives.
func TestKeyShortcuts(t *testing.T) {
	for _, q := range []string{"a=1&b=2", "c&b=1&a=2&b=0&a", "p17=1&p16=1&p15=1&p14=1&p13=1&p12=1&p11=1&p10=1&p9=1&p8=1&p7=1&p6=1&p5=1&p4=1&p3=1&p2=1&p1=1", "a=1&a=0&b", "b=1&a=2", "a=%41", "a=1&&b=2", "&a", "a&", "=x&a", "a=b=c&a=", "x=%zz", "q=|", "a b=1"} {
		equal(t, string(appendQueryNormalised(nil, q)), string(appendQuery(nil, q)), q)
	}
	for _, target := range []string{"/a/b", "/%7Euser/a%2Fb", "/x%20y", "/caf%C3%A9", "/a[b]", "/a;b=c"} {
		u, err := url.Parse(target)
		if err != nil {
			t.Fatal(err)
		}
		equal(t, u.EscapedPath(), escapedPath(u), target)
		u.Path += "x" // a stale RawPath
		equal(t, u.EscapedPath(), escapedPath(u), target)
	}
}

// TestKeyManyHeaders: the field-scan and the name-lookup ways of finding keyed headers
// give the same, sorted parts, whichever is more numerous.
func TestKeyManyHeaders(t *testing.T) {
	var names []string
	for i := 19; i >= 0; i-- {
		names = append(names, "X-K"+strconv.Itoa(100+i))
	}
	for _, carried := range []int{1, 14, 15, 16, 20} {
		r := getReq("http://a/")
		want := "G|http|a|/|h"
		for i := 0; i < carried; i++ {
			n := "X-K" + strconv.Itoa(100+i)
			r.Header.Set(n, "v"+strconv.Itoa(i))
			want += "|" + n + "=v" + strconv.Itoa(i)
		}
		r.Header.Set("Accept", "x")
		equal(t, want, Key(r, KeyOptions{Headers: names}), carried)
		equal(t, want, KeyOptions{Headers: names}.Func()(r), carried)
	}
}

// Forwarded is keyed by its host= and proto= parameters only: the addresses in for= and
// by= never split the key, while a host or scheme a framework could build links from does.
func TestKeyForwardedHostProto(t *testing.T) {
	opt := KeyOptions{Headers: DefaultKeyedHeaders()}
	key := func(fwd ...string) string {
		hdr := make([]string, 0, 2*len(fwd))
		for _, f := range fwd {
			hdr = append(hdr, "Forwarded", f)
		}
		return Key(reqFor("GET", "http://example.com/a", hdr...), opt)
	}
	plain := key()
	equal(t, plain, key("for=192.0.2.1"), "addresses only: not keyed")
	equal(t, plain, key(`for="[2001:db8::1]:4711";by=203.0.113.7`), "addresses only: not keyed")

	evil := key("for=192.0.2.1;host=evil.example")
	if evil == plain {
		t.Fatal("a Forwarded host must be keyed")
	}
	equal(t, "G|http|example.com|/a|h|Forwarded=host=evil.example;proto=", evil, "key form")
	equal(t, evil, key("for=198.51.100.9; Host=\"EVIL.example\""), "another client, name case, quotes, value case")
	if key("proto=https") == plain || key("proto=https") == key("proto=http") {
		t.Fatal("a Forwarded proto must be keyed")
	}
	equal(t, key("host=a, host=b"), key("host=a", "host=b"), "elements across lines")
	if key("host=a, host=b") == key("host=b, host=a") {
		t.Fatal("element order is kept: frameworks read the first or the last")
	}
	equal(t, key(`host="a\"b"`), key(`host=a"b`), "quoted-pair unescaped")
}
