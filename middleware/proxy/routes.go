package proxy

import (
	"maps"
	"strings"
	"sync"
	"sync/atomic"
)

// segmentRoutes names the route of a request by its first path segment, for at most max
// distinct segments: the first ones seen keep their route for the Proxy's life, the rest
// share "*". Its memory is bounded by max routes named with at most maxSegmentLen bytes.
//
// Every request reads the routes and only a new segment (at most max of them) writes:
// they are a map that is never changed once published, replaced by a larger copy per new
// segment. A lookup is a plain map read, cheaper than a sync.Map's, most of all when the
// map is cold in the CPU's caches, as between requests on a busy server.
type segmentRoutes struct {
	max      int                                    // 0: no segment routes
	names    atomic.Pointer[map[string]*proxyRoute] // first segment -> route named "/" + segment
	mu       sync.Mutex                             // serialises the copies
	star     *proxyRoute                            // "*"
	newRoute func(name string) *proxyRoute          // Proxy.newRoute
}

// of returns the route of the cleaned path clean ("/" for the root).
func (s *segmentRoutes) of(clean string) *proxyRoute {
	if s.max <= 0 {
		return s.star
	}
	seg := clean[1:] // clean starts with "/"
	if i := strings.IndexByte(seg, '/'); i >= 0 {
		seg = seg[:i]
	}
	if len(seg) > maxSegmentLen {
		return s.star
	}
	if m := s.names.Load(); m != nil {
		if rt, ok := (*m)[seg]; ok {
			return rt
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var names map[string]*proxyRoute
	if m := s.names.Load(); m != nil {
		if rt, ok := (*m)[seg]; ok {
			return rt
		}
		names = *m
	}
	if len(names) >= s.max {
		return s.star
	}
	rt := s.newRoute("/" + strings.Clone(seg)) // not the request's string: it outlives the request
	next := make(map[string]*proxyRoute, len(names)+1)
	maps.Copy(next, names)
	next[rt.name[1:]] = rt
	s.names.Store(&next)
	return rt
}
