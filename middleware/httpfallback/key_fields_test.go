package httpfallback

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/failsoft/failsoft/cache"
	"github.com/failsoft/failsoft/internal/fieldset"
)

// The engine keys a request that carries none of the keyed headers without reading its
// fields again (viewKey, from the filter screen built): whatever the request carries, the
// key is the one the full key function gives, and a keyed header's value still splits it.
func TestKeyFromTheScannedFieldsIsTheFullKey(t *testing.T) {
	browser := http.Header{
		"User-Agent": {"Mozilla/5.0"}, "Accept": {"*/*"}, "Accept-Encoding": {"gzip"},
		"Accept-Language": {"en"}, "Connection": {"keep-alive"}, "Referer": {"http://api.test/"},
		"X-Request-Id": {"42"}, "Sec-Fetch-Mode": {"cors"},
	}
	many := http.Header{"X-Forwarded-Proto": {"https"}}
	for i := range 20 {
		many["X-Field-"+strconv.Itoa(i)] = []string{"v"}
	}
	headers := map[string]http.Header{
		"none":                     nil,
		"browser":                  browser,
		"more fields than names":   many,
		"Forwarded without host":   {"Forwarded": {"for=192.0.2.1"}},
		"Forwarded with host":      {"Forwarded": {"host=evil.test;proto=https"}},
		"keyed, no lines":          {"X-Forwarded-Host": nil},
		"override":                 {"X-Http-Method-Override": {"GET"}},
		"credentials":              {"Authorization": {"Bearer t"}, "Cookie": {"s=1"}},
		"browser and keyed":        with(browser, "X-Original-Url", "/admin"),
		"browser and keyed prefix": with(browser, "X-Forwarded-Prefix", "/p"),
	}
	for _, name := range cache.DefaultKeyedHeaders() {
		v := "v"
		if name == "Forwarded" {
			v = "host=v" // keyed by its host= and proto= only
		}
		headers["keyed "+name] = http.Header{name: {v}}
	}
	for _, shared := range []bool{false, true} {
		eng, err := New(Config{Policy: cache.Policy{ShareCredentialed: shared}})
		require.NoError(t, err)
		require.NotNil(t, eng.appendURLKey, "the engine's own store: keys are built in buffers")
		plain := httptest.NewRequest(http.MethodGet, "http://api.test/items?id=1", nil)
		plainKey := eng.keyFn(plain)
		for hname, h := range headers {
			r := httptest.NewRequest(http.MethodGet, "http://api.test/items?id=1", nil)
			r.Header = h
			want := eng.keyFn(r)
			_, fields := fieldset.Scan(h, -1)
			for _, fs := range []fieldset.Set{fields, fieldset.All()} {
				got, kb := eng.viewKey(r, fs)
				assert.Equal(t, want, got, "shared %v, %s, fields %x", shared, hname, fs)
				eng.putKeyBuf(kb)
			}
			_, keyedLine := keyedValue(h)
			if keyedLine && hname != "Forwarded without host" {
				assert.NotEqual(t, plainKey, want, "%s: a keyed header's value is in the key", hname)
			}
		}
		require.NoError(t, eng.Close())
	}
}

// with returns a copy of h with name set to v.
func with(h http.Header, name, v string) http.Header {
	c := h.Clone()
	c[name] = []string{v}
	return c
}

// keyedValue returns the first keyed header h has a line of.
func keyedValue(h http.Header) (string, bool) {
	for _, n := range cache.DefaultKeyedHeaders() {
		if len(h[n]) > 0 {
			return n, true
		}
	}
	return "", false
}
