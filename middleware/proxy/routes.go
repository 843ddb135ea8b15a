package proxy

import (
	"strings"
	"sync"
)

// segmentRoutes names the route of a request by its first path segment, for at most max
// distinct segments: the first ones seen keep their route for the Proxy's life, the rest
// share "*". Its memory is bounded by max routes named with at most maxSegmentLen bytes.
type segmentRoutes struct {
	max      int      // 0: no segment routes
	names    sync.Map // first segment -> *proxyRoute named "/" + segment
	mu       sync.Mutex
	n        int                           // names stored, under mu
	star     *proxyRoute                   // "*"
	newRoute func(name string) *proxyRoute // Proxy.newRoute
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
	if rt, ok := s.names.Load(seg); ok {
		return rt.(*proxyRoute)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if rt, ok := s.names.Load(seg); ok {
		return rt.(*proxyRoute)
	}
	if s.n >= s.max {
		return s.star
	}
	s.n++
	rt := s.newRoute("/" + strings.Clone(seg)) // not the request's string: it outlives the request
	s.names.Store(rt.name[1:], rt)
	return rt
}
