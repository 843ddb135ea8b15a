package fieldset

import "net/http"

// Set is a filter of field names (a Bloom filter of one hash, 256 bits): a name whose Pos
// is not in the Set is not among the names it was built from; a name whose Pos is may be,
// or may share its position with one of them. The zero Set holds no name.
type Set [4]uint64

// All returns the Set that may hold every name: for a request whose header was not read.
func All() Set { return Set{^uint64(0), ^uint64(0), ^uint64(0), ^uint64(0)} }

// Pos is name's position in a Set: a multiplicative hash of its length and its first and
// last bytes, cheap enough to take for every field of every request, and spread enough
// that, of 46 field names clients commonly send and the 19 names a request's path asks
// for (the keyed headers, the method overrides, the conditionals, Range, Upgrade), 3
// pairs share a position (TestPosSpreadsCommonNames).
func Pos(name string) uint8 {
	if name == "" {
		return 0
	}
	x := uint32(len(name))<<16 | uint32(name[0])<<8 | uint32(name[len(name)-1])
	return uint8((x * 0x9E3779B1) >> 24)
}

// Add puts the position p in s.
func (s *Set) Add(p uint8) { s[p>>6] |= 1 << (p & 63) }

// Has reports whether position p is in s.
func (s *Set) Has(p uint8) bool { return s[p>>6]&(1<<(p&63)) != 0 }

// MayHave reports whether name may be in s; false means it certainly is not.
func (s *Set) MayHave(name string) bool { return s.Has(Pos(name)) }

// Meets reports whether s and t share a position: whether a name of one may be in the other.
func (s *Set) Meets(t *Set) bool {
	return s[0]&t[0]|s[1]&t[1]|s[2]&t[2]|s[3]&t[3] != 0
}

// Of is the Set of names.
func Of(names []string) Set {
	var s Set
	for _, n := range names {
		s.Add(Pos(n))
	}
	return s
}

// Scan reads h once: size is h's length as sent ("Name: value\r\n" a line) counted until
// it passes limit (a negative limit: no limit), and s the Set of its field names (All once
// the count has passed limit: the fields after it were not read).
func Scan(h http.Header, limit int) (size int, s Set) {
	if len(h) == 0 {
		return 0, s // without a map iteration's setup (a random start, ~9 ns)
	}
	for name, vs := range h {
		for _, v := range vs {
			size += len(name) + len(v) + 4
		}
		s.Add(Pos(name))
		if limit >= 0 && size > limit {
			return size, All()
		}
	}
	return size, s
}
