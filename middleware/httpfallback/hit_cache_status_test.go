package httpfallback

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/failsoft/failsoft/internal/fakeclock"
	"github.com/failsoft/failsoft/upstream"
)

// An answer from the store carries the entry's own Cache-Status members (an upstream
// cache's) before ours, and nothing else: a member already on the ResponseWriter when the
// engine is called (an outer middleware's) is replaced, with or without members in the
// entry.
func TestHitCacheStatusIsTheEntrysMembersThenOurs(t *testing.T) {
	eng, err := New(Config{Common: upstream.Common{Now: fakeclock.New().Now}})
	require.NoError(t, err)
	defer func() { require.NoError(t, eng.Close()) }()
	serve := func(path, outer string) string {
		rec := httptest.NewRecorder()
		if outer != "" {
			rec.Header().Set("Cache-Status", outer)
		}
		eng.Serve(rec, httptest.NewRequest(http.MethodGet, "http://svc.test"+path, nil), "r",
			func(ctx context.Context, w http.ResponseWriter, r *http.Request) error {
				return eng.RunCommand(ctx, "r", w, r, func(_ context.Context, w http.ResponseWriter, r *http.Request) error {
					if r.URL.Path == "/with" {
						w.Header().Set("Cache-Status", "upstream-cache; hit")
					}
					w.Header().Set("Cache-Control", "max-age=3600")
					fmt.Fprint(w, "v1")
					return nil
				})
			})
		require.Equal(t, "v1", rec.Body.String())
		return fmt.Sprint(rec.Header()["Cache-Status"])
	}
	serve("/with", "")
	serve("/without", "")
	assert.Equal(t, "[upstream-cache; hit, failsoft; hit; ttl=3600]", serve("/with", ""))
	assert.Equal(t, "[upstream-cache; hit, failsoft; hit; ttl=3600]", serve("/with", "outer; fwd=miss"))
	assert.Equal(t, "[failsoft; hit; ttl=3600]", serve("/without", ""))
	assert.Equal(t, "[failsoft; hit; ttl=3600]", serve("/without", "outer; fwd=miss"))
}
