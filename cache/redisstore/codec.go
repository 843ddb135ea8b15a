package redisstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"net/http"
	"slices"
	"time"

	"github.com/failsoft/failsoft/cache"
)

// The encoding of an entry (all integers are varints as encoding/binary writes them):
//
//	magic "fsE" | version (1 byte) | status (uvarint) | time presence (1 byte, one bit per time)
//	| present times as UnixNano (varint), in the order RequestTime, ResponseTime, FreshUntil,
//	  RevalidateUntil, ErrorUntil, ValidateUntil (version 3 on) | InitialAge (varint nanoseconds)
//	| Generation (uvarint; version 2 on)
//	| ETag (string) | LastModified (string)
//	| header field count (uvarint), then per field, sorted by name: name (string),
//	  value count (uvarint), values (string each)
//	| vary count (uvarint), then per varied header: name (string), value (string)
//	| body (bytes)
//	| CRC-32C of everything before it (4 bytes, big endian)
//
// A string or bytes is its length (uvarint) followed by its bytes.
//
// Encode writes version 3. Decode also reads the older versions, so that a rolling upgrade
// keeps a shared Redis's entries (treating them as misses would also be safe, but would
// empty it at each upgrade):
//   - version 2, written before entries had a ValidateUntil: such an entry decodes without
//     one, as it was stored (it is Gone after its stale-if-error window instead of kept for
//     revalidation, so its next request fetches unconditionally);
//   - version 1, written before entries had a Generation: such an entry also decodes with
//     Generation 0. That is safe: cache.Lookup uses a variant only when its Generation equals
//     its primary entry's, and cache.Save never inherits 0, so the first entry saved under a
//     primary key retires the version-1 variants stored with it.
//
// An older process reading a version-3 entry gets ErrVersion: a miss, not a wrong entry.
const (
	magic          = "fsE"
	version   byte = 3
	version2  byte = 2 // no ValidateUntil
	version1  byte = 1 // no Generation, no ValidateUntil
	headerLen      = len(magic) + 1
	crcLen         = 4
	numTimes       = 6
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrForeign means a stored value is not an entry written by this package.
var ErrForeign = errors.New("redisstore: foreign value")

// ErrVersion means a stored value was written by an encoding version this package does not know.
var ErrVersion = errors.New("redisstore: unknown encoding version")

// ErrCorrupt means a stored value carries this package's mark but does not decode: truncated,
// altered, or followed by trailing bytes.
var ErrCorrupt = errors.New("redisstore: corrupt value")

// Encode returns the compact binary encoding of e that Decode reads back. It fails when e
// cannot be represented: a status outside 100-999, or Vary and VaryValues of different lengths.
// Times are kept to the nanosecond as Unix time (their location and monotonic reading are
// dropped), so they must lie between the years 1678 and 2262.
func Encode(e *cache.Entry) ([]byte, error) {
	if e == nil {
		return nil, errors.New("redisstore: encode: nil entry")
	}
	if e.Status < 100 || e.Status > 999 {
		return nil, fmt.Errorf("redisstore: encode: status %d out of range 100-999", e.Status)
	}
	if len(e.Vary) != len(e.VaryValues) {
		return nil, fmt.Errorf("redisstore: encode: %d Vary names but %d VaryValues", len(e.Vary), len(e.VaryValues))
	}
	b := make([]byte, 0, encodedSizeHint(e))
	b = append(b, magic...)
	b = append(b, version)
	b = binary.AppendUvarint(b, uint64(e.Status))
	times := entryTimes(e)
	var present byte
	for i, t := range times {
		if !t.IsZero() {
			present |= 1 << i
		}
	}
	b = append(b, present)
	for _, t := range times {
		if !t.IsZero() {
			b = binary.AppendVarint(b, t.UnixNano())
		}
	}
	b = binary.AppendVarint(b, int64(e.InitialAge))
	b = binary.AppendUvarint(b, e.Generation)
	b = appendString(b, e.ETag()) // kept in the encoding, though the header carries it too
	b = appendString(b, e.LastModified())

	header := e.Header.Clone()
	names := make([]string, 0, len(header))
	for name := range header {
		names = append(names, name)
	}
	slices.Sort(names)
	b = binary.AppendUvarint(b, uint64(len(names)))
	for _, name := range names {
		b = appendString(b, name)
		values := header[name]
		b = binary.AppendUvarint(b, uint64(len(values)))
		for _, v := range values {
			b = appendString(b, v)
		}
	}
	b = binary.AppendUvarint(b, uint64(len(e.Vary)))
	for i := range e.Vary {
		b = appendString(b, e.Vary[i])
		b = appendString(b, e.VaryValues[i])
	}
	b = binary.AppendUvarint(b, uint64(len(e.Body)))
	b = append(b, e.Body...)
	return appendChecksum(b), nil
}

// appendChecksum appends the CRC-32C of b to b.
func appendChecksum(b []byte) []byte {
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

// Decode reads an entry written by Encode, of this package's encoding version or an older
// one (version 1 has no Generation and version 2 no ValidateUntil: they decode as zero). A
// value that is not exactly one such entry is an
// error: ErrForeign without the mark, ErrVersion for a version this package does not know,
// ErrCorrupt for anything else (bad checksum, truncation, trailing bytes, impossible fields).
// The entry's Header is never the zero Header (its Clone is never nil); its Body is a copy owned by the entry.
func Decode(data []byte) (*cache.Entry, error) { return decode(data, false) }

// decode is Decode; with owned, the caller hands data over and the Body aliases it instead of
// being copied.
func decode(data []byte, owned bool) (*cache.Entry, error) {
	if len(data) < headerLen || string(data[:len(magic)]) != magic {
		return nil, ErrForeign
	}
	v := data[len(magic)]
	if v != version && v != version2 && v != version1 {
		return nil, fmt.Errorf("%w %d", ErrVersion, v)
	}
	if len(data) < headerLen+crcLen {
		return nil, fmt.Errorf("%w: too short", ErrCorrupt)
	}
	payload, sum := data[:len(data)-crcLen], data[len(data)-crcLen:]
	if crc32.Checksum(payload, castagnoli) != binary.BigEndian.Uint32(sum) {
		return nil, fmt.Errorf("%w: checksum mismatch", ErrCorrupt)
	}
	d := decoder{b: payload[headerLen:]}
	e := &cache.Entry{}
	status := d.uvarint()
	if d.err == nil && (status < 100 || status > 999) {
		d.fail("status out of range")
	}
	e.Status = int(status)
	present := d.byte()
	known := numTimes
	if v != version {
		known-- // no ValidateUntil
	}
	if present>>known != 0 {
		d.fail("unknown time fields")
	}
	times := entryTimePointers(e)
	for i, t := range times {
		if present&(1<<i) != 0 {
			*t = time.Unix(0, d.varint())
		}
	}
	e.InitialAge = time.Duration(d.varint())
	if v != version1 {
		e.Generation = d.uvarint()
	}
	// ETag and LastModified: the Header carries them (an entry reads its validators from
	// it); one encoded by a store that held them apart gets them back in its Header.
	etag, lastModified := d.string(), d.string()

	n := d.count(2) // a field is at least a name length and a value count
	header := make(http.Header, n)
	prev := ""
	for i := 0; i < n && d.err == nil; i++ {
		name := d.string()
		if i > 0 && name <= prev {
			d.fail("header fields out of order")
		}
		prev = name
		nv := d.count(1)
		var values []string
		if nv > 0 {
			values = make([]string, 0, nv)
		}
		for j := 0; j < nv && d.err == nil; j++ {
			values = append(values, d.string())
		}
		header[name] = values
	}
	if etag != "" && len(header["Etag"]) == 0 {
		header["Etag"] = []string{etag}
	}
	if lastModified != "" && len(header["Last-Modified"]) == 0 {
		header["Last-Modified"] = []string{lastModified}
	}
	e.Header = cache.MakeHeader(header)
	nvary := d.count(2)
	if nvary > 0 {
		e.Vary = make([]string, 0, nvary)
		e.VaryValues = make([]string, 0, nvary)
	}
	for i := 0; i < nvary && d.err == nil; i++ {
		e.Vary = append(e.Vary, d.string())
		e.VaryValues = append(e.VaryValues, d.string())
	}
	if body := d.bytes(); len(body) > 0 {
		if owned {
			e.Body = body[:len(body):len(body)]
		} else {
			e.Body = slices.Clone(body)
		}
	}
	if d.err == nil && len(d.b) != 0 {
		d.fail("trailing bytes")
	}
	if d.err != nil {
		return nil, d.err
	}
	return e, nil
}

func entryTimes(e *cache.Entry) [numTimes]time.Time {
	return [numTimes]time.Time{e.RequestTime, e.ResponseTime, e.FreshUntil, e.RevalidateUntil, e.ErrorUntil, e.ValidateUntil}
}

func entryTimePointers(e *cache.Entry) [numTimes]*time.Time {
	return [numTimes]*time.Time{&e.RequestTime, &e.ResponseTime, &e.FreshUntil, &e.RevalidateUntil, &e.ErrorUntil, &e.ValidateUntil}
}

func encodedSizeHint(e *cache.Entry) int {
	n := headerLen + crcLen + 9*binary.MaxVarintLen64 + len(e.ETag()) + len(e.LastModified()) + len(e.Body)
	for name, values := range e.Header.All() {
		n += len(name) + 2*binary.MaxVarintLen32
		for _, v := range values {
			n += len(v) + binary.MaxVarintLen32
		}
	}
	for i := range e.Vary {
		n += len(e.Vary[i]) + len(e.VaryValues[i]) + 2*binary.MaxVarintLen32
	}
	return n
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// decoder reads fields off b; the first failure sticks in err and later reads return zeros.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(why string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s", ErrCorrupt, why)
	}
	d.b = nil
}

func (d *decoder) byte() byte {
	if d.err != nil {
		return 0
	}
	if len(d.b) == 0 {
		d.fail("truncated")
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

// count reads an element count and checks it against the bytes left, each element taking at
// least minSize bytes, so that a corrupt count cannot make Decode allocate more than its input.
func (d *decoder) count(minSize int) int {
	c := d.uvarint()
	if d.err == nil && c > uint64(len(d.b)/minSize) {
		d.fail("count exceeds input")
		return 0
	}
	return int(c)
}

func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.fail("length exceeds input")
		return nil
	}
	s := d.b[:n]
	d.b = d.b[n:]
	return s
}

func (d *decoder) string() string { return string(d.bytes()) }
