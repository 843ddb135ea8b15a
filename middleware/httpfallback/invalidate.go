package httpfallback

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/failsoft/failsoft/cache"
)

// invalidate applies RFC 9111 4.4 after a non-error answer with header h to r, an unsafe
// request: the stored entry of r's URL is purged, and so are those of the URIs in h's
// Location and Content-Location that have r's origin (scheme, host and port; relative
// references are resolved against r's URL). A URI of another origin is never purged: an
// answer must not invalidate what another origin's answers stored.
func (e *Engine) invalidate(r *http.Request, h http.Header) {
	ctx := r.Context()
	e.Purge(ctx, r)
	for _, name := range [...]string{"Location", "Content-Location"} {
		for _, v := range h[name] {
			if g := sameOrigin(r, v); g != nil {
				e.Purge(ctx, g)
			}
		}
	}
}

// sameOrigin returns a shallow copy of r for the URI ref (resolved against r's URL), or
// nil when ref does not parse or names another origin than r's.
func sameOrigin(r *http.Request, ref string) *http.Request {
	ref = strings.TrimSpace(ref)
	if ref == "" {
		return nil
	}
	u, err := url.Parse(ref)
	if err != nil {
		return nil
	}
	scheme := requestScheme(r)
	base := &url.URL{Scheme: scheme, Host: r.Host, Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery}
	t := base.ResolveReference(u)
	if !strings.EqualFold(t.Scheme, scheme) || t.User != nil {
		return nil
	}
	g := r.WithContext(r.Context())
	g.Host = t.Host
	if cache.KeyHost(g) != cache.KeyHost(r) {
		return nil
	}
	g.Host = r.Host
	gu := *r.URL
	gu.Path, gu.RawPath, gu.RawQuery, gu.Fragment, gu.RawFragment = t.Path, t.RawPath, t.RawQuery, "", ""
	g.URL = &gu
	return g
}

// requestScheme is the scheme of r's URL as the cache key sees it: https with TLS, else the
// URL's own, else http.
func requestScheme(r *http.Request) string {
	switch {
	case r.TLS != nil:
		return "https"
	case r.URL.Scheme != "":
		return strings.ToLower(r.URL.Scheme)
	}
	return "http"
}
