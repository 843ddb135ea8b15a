package httpfallback

import (
	"context"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"

	"github.com/failsoft/failsoft/cache"
)

// maxPurgeHosts bounds the origins an Engine remembers for purging by path.
const maxPurgeHosts = 64

// maxPurgeVariants bounds the sets of keyed header values an Engine remembers per origin.
const maxPurgeVariants = 16

// PurgeError says why a purge could not be resolved to stored entries.
type PurgeError struct {
	Target string // what was asked: a URL, a path or a tag
	Reason string
}

func (e *PurgeError) Error() string { return "httpfallback: purge " + e.Target + ": " + e.Reason }

// purgeIndex remembers what purges need and the store cannot tell: the origins (scheme
// and host, as keyed) entries were stored under, with the values of the keyed headers
// their requests carried (a load balancer's X-Forwarded-Proto is in the key of every
// entry behind it: a purge by URL must key its request with it too), and the tags of
// stored answers.
type purgeIndex struct {
	tags  *cache.Tags
	keyed []string // the keyed headers (canonical); nil with a Config.Key of the caller's

	mu      sync.RWMutex
	origins map[string]map[string]http.Header // origin -> the keyed headers' values carried, by keyedSig
	many    bool                              // more than maxPurgeHosts origins were seen
}

// stored records an entry stored under key for req, whose answer's header is h.
func (p *purgeIndex) stored(req *http.Request, key string, h cache.Header) {
	if sk, ct := h.Values("Surrogate-Key"), h.Values("Cache-Tag"); sk != nil || ct != nil {
		p.tags.Add(key, cache.ParseTags(http.Header{"Surrogate-Key": sk, "Cache-Tag": ct}))
	}
	origin := cache.KeyOrigin(req)
	sig := p.keyedSig(req.Header)
	p.mu.RLock()
	seen, known := p.origins[origin]
	_, knownSig := seen[sig]
	many := p.many
	p.mu.RUnlock()
	if knownSig || (many && !known) {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	seen, known = p.origins[origin]
	switch {
	case known:
	case len(p.origins) >= maxPurgeHosts:
		p.many = true
		return
	default:
		if p.origins == nil {
			p.origins = make(map[string]map[string]http.Header)
		}
		seen = make(map[string]http.Header)
		p.origins[origin] = seen
	}
	if _, ok := seen[sig]; !ok && len(seen) < maxPurgeVariants {
		seen[sig] = p.keyedOf(req.Header)
	}
}

// keyedSig is the values h carries of the keyed headers, as one string ("" for none).
func (p *purgeIndex) keyedSig(h http.Header) string {
	var b strings.Builder
	for _, n := range p.keyed {
		if vs := h[n]; len(vs) > 0 {
			b.WriteString(n)
			b.WriteByte(':')
			b.WriteString(strings.Join(vs, ","))
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// keyedOf is h's keyed headers alone.
func (p *purgeIndex) keyedOf(h http.Header) http.Header {
	out := http.Header{}
	for _, n := range p.keyed {
		if vs := h[n]; len(vs) > 0 {
			out[n] = append([]string(nil), vs...)
		}
	}
	return out
}

// variants returns the sets of keyed header values entries of origin were stored with
// (an empty one for none), at least the empty one.
func (p *purgeIndex) variants(origin string) []http.Header {
	p.mu.RLock()
	defer p.mu.RUnlock()
	out := []http.Header{{}}
	for sig, h := range p.origins[origin] {
		if sig != "" {
			out = append(out, h.Clone())
		}
	}
	return out
}

// originList returns the origins seen, sorted, and whether there were too many to keep.
func (p *purgeIndex) originList() ([]string, bool) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	list := make([]string, 0, len(p.origins))
	for o := range p.origins {
		list = append(list, o)
	}
	sort.Strings(list)
	return list, p.many
}

// Purge removes the stored entry for r's URL (whatever r's method: the GET entry; its
// Vary variants go with it, as they are only found through it) and reports how many
// entries it removed (0 to 2). r is keyed as a request would be: its Host, its scheme
// (TLS), and the headers the key includes. When r carries Authorization or Cookie and the
// key includes the credential (Policy.ShareCredentialed), the entry shared with requests
// without credentials goes too; other users' entries, keyed by their own credentials,
// cannot be found and stay until they expire.
func (e *Engine) Purge(ctx context.Context, r *http.Request) int {
	if e.isClosed.Load() {
		return 0
	}
	g := withoutOverride(r).WithContext(ctx)
	g.Method = http.MethodGet
	key := e.key(g)
	n := e.purgeKey(ctx, key)
	if hasCredentials(g) {
		g.Header = g.Header.Clone()
		delete(g.Header, "Authorization")
		delete(g.Header, "Cookie")
		if shared := e.key(g); shared != key {
			n += e.purgeKey(ctx, shared)
		}
	}
	return n
}

// purgeKey deletes key and reports whether a usable entry was there.
func (e *Engine) purgeKey(ctx context.Context, key string) int {
	ent, _ := e.store.Get(ctx, key, e.cfg.Now())
	e.store.Delete(ctx, key)
	e.purge.tags.Remove(key)
	if ent != nil {
		return 1
	}
	return 0
}

// PurgeURL removes the stored entry of target, resolved as a request for it would be
// keyed, and reports how many entries it removed. target is an absolute http or https URL
// ("http://localhost:8080/items/1?x=1": scheme, host and port as clients send them; a
// default port is ignored), or a path with its query ("/items/1?x=1") when the engine has
// stored entries under one origin only. A *PurgeError says why target cannot be resolved:
// not a URL, a path while entries are stored under several origins (it lists them), ...
//
// The host is part of the key: "http://localhost:8080/a" and "http://127.0.0.1:8080/a" are
// two entries, as they are two origins to a server with virtual hosts. An engine in front
// of one upstream, where the host does not change the answer, purges with PurgePath.
//
// So are the keyed headers (cache.DefaultKeyedHeaders) a request carries, such as the
// X-Forwarded-Proto a load balancer adds: target's entries are looked up as a request
// without them would be keyed, and as one carrying each set of their values that entries
// of target's origin were stored with (up to 16 sets an origin are remembered; none with
// a Config.Key of the caller's).
func (e *Engine) PurgeURL(ctx context.Context, target string) (int, error) {
	u, err := parsePurgeTarget(target)
	if err != nil {
		return 0, err
	}
	if u.Host == "" {
		origins, many := e.purge.originList()
		switch {
		case many:
			return 0, &PurgeError{Target: target, Reason: "a path alone is ambiguous: entries are stored under more than " +
				itoa(maxPurgeHosts) + " origins; give the full URL"}
		case len(origins) == 0:
			return 0, nil // nothing stored yet
		case len(origins) > 1:
			return 0, &PurgeError{Target: target, Reason: "a path alone is ambiguous: entries are stored under " +
				itoa(len(origins)) + " origins (" + strings.Join(origins, ", ") + "); give the full URL"}
		}
		o, _ := url.Parse(origins[0])
		u.Scheme, u.Host = o.Scheme, o.Host
	}
	return e.purgeURL(ctx, u), nil
}

// PurgePath removes the entries of target's path and query under every origin the engine
// has stored entries for, and reports how many it removed: for an engine in front of one
// upstream (a reverse proxy's), where the Host a client used (localhost:8080, 127.0.0.1:8080, a
// name) does not change the answer. target is a path with its query, or a URL whose
// scheme and host are ignored. A *PurgeError says why it cannot: not a URL or path, or
// more origins seen than the engine remembers (64).
func (e *Engine) PurgePath(ctx context.Context, target string) (int, error) {
	u, err := parsePurgeTarget(target)
	if err != nil {
		return 0, err
	}
	origins, many := e.purge.originList()
	if many {
		return 0, &PurgeError{Target: target, Reason: "entries are stored under more than " + itoa(maxPurgeHosts) +
			" origins: they cannot all be found; purge each full URL"}
	}
	n := 0
	for _, origin := range origins {
		o, _ := url.Parse(origin)
		c := *u
		c.Scheme, c.Host = o.Scheme, o.Host
		n += e.purgeURL(ctx, &c)
	}
	return n, nil
}

// PurgeTag removes every stored entry whose answer carried tag in Surrogate-Key or
// Cache-Tag (see cache.ParseTags) and reports how many it removed. The index of tags is
// bounded (cache.DefaultMaxTagged pairs): the oldest entries past the bound are no longer
// found by tag, and only answers stored by this Engine (not by another process sharing
// the store) are indexed.
func (e *Engine) PurgeTag(ctx context.Context, tag string) (int, error) {
	if tag = strings.TrimSpace(tag); tag == "" {
		return 0, &PurgeError{Target: `tag ""`, Reason: "empty tag"}
	}
	if e.isClosed.Load() {
		return 0, nil
	}
	n := 0
	for _, key := range e.purge.tags.Keys(tag) {
		n += e.purgeKey(ctx, key)
	}
	return n, nil
}

// purgeURL removes the GET entries of u: keyed as a request without headers would be, and
// as each set of keyed header values entries of its origin were stored with.
func (e *Engine) purgeURL(ctx context.Context, u *url.URL) int {
	if e.isClosed.Load() {
		return 0
	}
	r := (&http.Request{Method: http.MethodGet, URL: u, Host: u.Host}).WithContext(ctx)
	n := 0
	for _, h := range e.purge.variants(cache.KeyOrigin(r)) {
		r.Header = h
		n += e.purgeKey(ctx, e.key(r))
	}
	return n
}

// parsePurgeTarget parses an absolute http(s) URL or an origin-form path; the result has no
// fragment, and no Host when target is a path.
func parsePurgeTarget(target string) (*url.URL, error) {
	u, err := url.Parse(target)
	switch {
	case err != nil:
		return nil, &PurgeError{Target: target, Reason: "not a URL: " + err.Error()}
	case u.Scheme == "" && u.Host == "":
		if !strings.HasPrefix(u.Path, "/") {
			return nil, &PurgeError{Target: target, Reason: "neither an absolute http(s) URL nor a path starting with /"}
		}
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, &PurgeError{Target: target, Reason: "scheme " + u.Scheme + " is not http or https"}
	case u.Host == "":
		return nil, &PurgeError{Target: target, Reason: "no host"}
	case u.User != nil:
		return nil, &PurgeError{Target: target, Reason: "user info is not part of a cache key"}
	}
	u.Fragment, u.RawFragment = "", ""
	return u, nil
}
