package upstream

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A GET naming a non-idempotent method in a method-override field is sent once: an
// upstream honouring the field runs it as that method. It was retried as a GET (3 attempts
// against a 503), while the same request sent as a POST was tried once.
func TestClientDoesNotRetryGetNamingPost(t *testing.T) {
	for _, field := range []string{"X-HTTP-Method-Override", "X-HTTP-Method", "X-Method-Override"} {
		t.Run(field, func(t *testing.T) {
			f := newFixture(t, ClientConfig{}, status(http.StatusServiceUnavailable))
			req := f.req(t, http.MethodGet, nil)
			req.Header.Set(field, "post")
			resp, err := f.c.Do(req)
			if resp != nil {
				_ = resp.Body.Close()
			}
			require.Error(t, err)
			assert.EqualValues(t, 1, f.hits.Load(), "one attempt")
		})
	}
	// Naming an idempotent method keeps the GET's retries; an Idempotency-Key keeps them
	// whatever the field names.
	for _, tc := range []struct {
		hdr  []string
		hits int64
	}{
		{[]string{"X-HTTP-Method-Override", "DELETE"}, 3},
		{[]string{"X-HTTP-Method-Override", "PATCH", "Idempotency-Key", "k1"}, 3},
		{[]string{"X-HTTP-Method-Override", ""}, 3},
	} {
		f := newFixture(t, ClientConfig{}, status(http.StatusServiceUnavailable))
		req := f.req(t, http.MethodGet, nil)
		for i := 0; i+1 < len(tc.hdr); i += 2 {
			req.Header.Set(tc.hdr[i], tc.hdr[i+1])
		}
		resp, _ := f.c.Do(req)
		if resp != nil {
			_ = resp.Body.Close()
		}
		assert.Equal(t, tc.hits, f.hits.Load(), "%v", tc.hdr)
	}
}

func TestMethodOverrideNamesTheRiskiest(t *testing.T) {
	for _, tc := range []struct {
		h    http.Header
		want string
		ok   bool
	}{
		{nil, "", false},
		{http.Header{"X-Http-Method-Override": {" "}}, "", false},
		{http.Header{"X-Http-Method-Override": {"delete"}}, "DELETE", true},
		{http.Header{"X-Http-Method": {"GET"}, "X-Method-Override": {"PUT"}}, "PUT", true},
		{http.Header{"X-Http-Method": {"OPTIONS"}, "X-Method-Override": {"HEAD"}}, "OPTIONS", true},
		{http.Header{"X-Http-Method-Override": {"DELETE", "POST"}}, "POST", true},
		{http.Header{"X-Http-Method-Override": {"POST, GET"}}, "POST, GET", true},
	} {
		got, ok := MethodOverride(tc.h)
		assert.Equal(t, tc.want, got, "%v", tc.h)
		assert.Equal(t, tc.ok, ok, "%v", tc.h)
	}
}

// Each field MethodOverrideFields names is one MethodOverride reads, and no other is.
func TestMethodOverrideReadsItsFields(t *testing.T) {
	for _, name := range MethodOverrideFields() {
		got, ok := MethodOverride(http.Header{name: {"post"}})
		assert.True(t, ok, name)
		assert.Equal(t, "POST", got, name)
		assert.Equal(t, http.CanonicalHeaderKey(name), name, "a canonical name")
	}
	_, ok := MethodOverride(http.Header{"X-Override": {"POST"}})
	assert.False(t, ok)
}
