package cache

import (
	"strings"
	"testing"
	"time"
)

func sec(n int64) time.Duration { return time.Duration(n) * time.Second }

func valid(n int64) Delta { return Delta{Present: true, Valid: true, Value: sec(n)} }

var invalidDelta = Delta{Present: true}

func TestParseCacheControl(t *testing.T) {
	tests := []struct {
		name string
		in   []string
		want CacheControl
	}{
		{"empty", nil, CacheControl{}},
		{"simple", []string{"max-age=60"}, CacheControl{MaxAge: valid(60)}},
		{"case and spacing", []string{"  Max-Age = 60 ,, PUBLIC ,"}, CacheControl{MaxAge: valid(60), Public: true}},
		{"tabs", []string{"\tno-store\t,\tmust-revalidate"}, CacheControl{NoStore: true, MustRevalidate: true}},
		{"quoted value", []string{`max-age="120"`}, CacheControl{MaxAge: valid(120)}},
		{"quoted with escape and comma; invalid name dropped", []string{`private="Set-Cookie, x-a\"b, x-token", max-age=5`},
			CacheControl{PrivateFields: []string{"Set-Cookie", "X-Token"}, MaxAge: valid(5)}},
		{"unterminated quote", []string{`no-cache="foo, max-age=5`}, CacheControl{NoCacheFields: []string{"Foo"}}},
		{"qualified no-cache", []string{`no-cache="Set-Cookie"`}, CacheControl{NoCacheFields: []string{"Set-Cookie"}}},
		{"unqualified no-cache", []string{`no-cache`}, CacheControl{NoCache: true}},
		{"empty qualified no-cache is unqualified", []string{`no-cache=""`}, CacheControl{NoCache: true}},
		{"several lines", []string{"public", "s-maxage=10", "stale-while-revalidate=30"},
			CacheControl{Public: true, SMaxAge: valid(10), StaleWhileRevalidate: valid(30)}},
		{"negative is invalid", []string{"max-age=-1"}, CacheControl{MaxAge: invalidDelta}},
		{"garbage is invalid", []string{"max-age=abc"}, CacheControl{MaxAge: invalidDelta}},
		{"missing value is invalid", []string{"max-age"}, CacheControl{MaxAge: invalidDelta}},
		{"empty value is invalid", []string{"max-age="}, CacheControl{MaxAge: invalidDelta}},
		{"decimal is invalid", []string{"max-age=1.5"}, CacheControl{MaxAge: invalidDelta}},
		{"past int64 clamps", []string{"max-age=99999999999999999999999999"}, CacheControl{MaxAge: Delta{true, true, MaxDelta}}},
		{"2^31 exactly", []string{"max-age=2147483648"}, CacheControl{MaxAge: Delta{true, true, MaxDelta}}},
		{"2^31+1 clamps", []string{"max-age=2147483649"}, CacheControl{MaxAge: Delta{true, true, MaxDelta}}},
		{"leading zeros", []string{"max-age=007"}, CacheControl{MaxAge: valid(7)}},
		{"duplicate equal max-age", []string{"max-age=60, max-age=60"}, CacheControl{MaxAge: valid(60)}},
		{"duplicate conflicting max-age is stale", []string{"max-age=60", "max-age=30"}, CacheControl{MaxAge: invalidDelta}},
		{"duplicate conflicting s-maxage is stale", []string{"s-maxage=60, s-maxage=600"}, CacheControl{SMaxAge: invalidDelta}},
		{"duplicate windows: smallest", []string{"stale-if-error=600, stale-if-error=60, stale-while-revalidate=9, stale-while-revalidate=90"},
			CacheControl{StaleIfError: valid(60), StaleWhileRevalidate: valid(9)}},
		{"invalid window then valid", []string{"stale-if-error=x, stale-if-error=60"}, CacheControl{StaleIfError: valid(60)}},
		{"unknown directives ignored", []string{"foo, bar=baz, max-age=1"}, CacheControl{MaxAge: valid(1)}},
		{"junk after value skipped", []string{"max-age=10 junk, public"}, CacheControl{MaxAge: valid(10), Public: true}},
		{"flags", []string{"proxy-revalidate, no-transform, immutable, private"},
			CacheControl{ProxyRevalidate: true, NoTransform: true, Immutable: true, Private: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			equal(t, tt.want, ParseCacheControl(tt.in))
		})
	}
}

func FuzzParseCacheControl(f *testing.F) {
	for _, s := range []string{
		"max-age=60", `private="a, b"`, `no-cache="`, "max-age=99999999999999999999999",
		"s-maxage=-5, stale-if-error=\"10\"", ",,, = ,", `"\`, "max-age=\"1\\",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		cc := ParseCacheControl([]string{s})
		for _, d := range []Delta{cc.MaxAge, cc.SMaxAge, cc.StaleWhileRevalidate, cc.StaleIfError} {
			if d.Value < 0 || d.Value > MaxDelta {
				t.Fatalf("delta out of range: %v", d)
			}
			if !d.Valid && d.Value != 0 {
				t.Fatalf("invalid delta with a value: %v", d)
			}
			if d.Valid && !d.Present {
				t.Fatalf("valid but not present: %v", d)
			}
		}
		// Splitting the same text over two lines at a comma must not change the result.
		if i := strings.IndexByte(s, ','); i >= 0 && !strings.ContainsRune(s, '"') {
			equal(t, cc, ParseCacheControl([]string{s[:i], s[i+1:]}))
		}
	})
}
