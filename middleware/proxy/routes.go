package proxy

import (
	"strings"
	"sync"
)

// segmentRoutes names the route of a request by its first path segment, for at most max
// distinct segments: the first ones seen keep their route for the Proxy's life, the rest
// share "*". Its memory is bounded by max names of at most maxSegmentLen bytes.
type segmentRoutes struct {
	max   int      // 0: no segment routes
	names sync.Map // first segment -> route name ("/" + segment)
	mu    sync.Mutex
	n     int // names stored, under mu
}

// of returns the route of the cleaned path clean ("/" for the root).
func (s *segmentRoutes) of(clean string) string {
	if s.max <= 0 {
		return "*"
	}
	seg := clean[1:] // clean starts with "/"
	if i := strings.IndexByte(seg, '/'); i >= 0 {
		seg = seg[:i]
	}
	if len(seg) > maxSegmentLen {
		return "*"
	}
	if name, ok := s.names.Load(seg); ok {
		return name.(string)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if name, ok := s.names.Load(seg); ok {
		return name.(string)
	}
	if s.n >= s.max {
		return "*"
	}
	s.n++
	name := "/" + strings.Clone(seg) // not the request's string: it outlives the request
	s.names.Store(name[1:], name)
	return name
}
