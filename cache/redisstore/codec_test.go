package redisstore

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/failsoft/failsoft/cache"
)

// fullEntry sets every field of an Entry, so that a field the encoding forgets fails the round trip.
func fullEntry() *cache.Entry {
	now := time.Date(2026, 11, 27, 12, 0, 0, 123456789, time.UTC)
	return &cache.Entry{
		Status: 203,
		Header: cache.MakeHeader(http.Header{"Content-Type": {"application/json"}, "X-Many": {"1", "2", ""}, "X-Empty": {},
			"Etag": {`W/"abc"`}, "Last-Modified": {"Fri, 27 Nov 2026 11:00:00 GMT"}}),
		Body:            []byte(`{"ok":true}` + "\x00\xff"),
		RequestTime:     now.Add(-1500 * time.Millisecond),
		ResponseTime:    now,
		InitialAge:      42*time.Second + 7,
		FreshUntil:      now.Add(time.Minute),
		RevalidateUntil: now.Add(2 * time.Minute),
		ErrorUntil:      now.Add(time.Hour),
		ValidateUntil:   now.Add(2 * time.Hour),
		Vary:            []string{"Accept-Encoding", "Accept-Language"},
		VaryValues:      []string{"gzip", ""},
		Generation:      0xfeedfacedeadbeef, // the longest uvarint
	}
}

// assertSameEntry compares every field; times by instant (the encoding drops locations).
func assertSameEntry(t testing.TB, want, got *cache.Entry) {
	t.Helper()
	assert.Equal(t, want.Status, got.Status, "Status")
	wh, gh := want.Header.Clone(), got.Header.Clone()
	assert.Equal(t, len(wh), len(gh), "Header fields")
	for k, v := range wh {
		if len(v) == 0 {
			assert.Empty(t, gh[k], "Header %s", k)
			assert.Contains(t, gh, k)
			continue
		}
		assert.Equal(t, v, gh[k], "Header %s", k)
	}
	assert.True(t, bytes.Equal(want.Body, got.Body), "Body")
	for i, wt := range entryTimes(want) {
		gt := entryTimes(got)[i]
		assert.True(t, wt.Equal(gt), "time %d: want %v got %v", i, wt, gt)
		assert.Equal(t, wt.IsZero(), gt.IsZero(), "time %d zero", i)
	}
	assert.Equal(t, want.InitialAge, got.InitialAge, "InitialAge")
	assert.Equal(t, want.Generation, got.Generation, "Generation")
	assert.Equal(t, want.ETag(), got.ETag(), "ETag")
	assert.Equal(t, want.LastModified(), got.LastModified(), "LastModified")
	assert.Equal(t, len(want.Vary), len(got.Vary), "Vary")
	for i := range want.Vary {
		assert.Equal(t, want.Vary[i], got.Vary[i])
		assert.Equal(t, want.VaryValues[i], got.VaryValues[i])
	}
}

// largeEntry is fullEntry with a body long enough that the checksum runs through every path
// of hash/crc32's CRC-32C on amd64 (splits from 504 and from 4032 bytes on, then the rest),
// which FuzzDecode's inputs stay below (see fuzzMaxInput).
func largeEntry() *cache.Entry {
	e := fullEntry()
	e.Body = make([]byte, 2*4032+3*504+11)
	for i := range e.Body {
		e.Body[i] = byte(i * 7)
	}
	return e
}

func TestCodecRoundTrip(t *testing.T) {
	for name, e := range map[string]*cache.Entry{
		"every field": fullEntry(),
		"large body":  largeEntry(),
		"minimal":     {Status: 200},
		"zero times and empty body": {
			Status: 204, Header: cache.MakeHeader(http.Header{"A": {"b"}}), FreshUntil: time.Unix(0, 0),
		},
		"negative initial age and pre-1970 time": {
			Status: 200, InitialAge: -time.Second, RequestTime: time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC),
		},
	} {
		t.Run(name, func(t *testing.T) {
			data, err := Encode(e)
			require.NoError(t, err)
			got, err := Decode(data)
			require.NoError(t, err)
			assertSameEntry(t, e, got)
			require.NotNil(t, got.Header.Clone(), "decoded Header is never nil")
			again, err := Encode(got)
			require.NoError(t, err)
			assert.Equal(t, data, again, "encoding is deterministic")
		})
	}
}

func TestDecodeCopiesBody(t *testing.T) {
	data, err := Encode(fullEntry())
	require.NoError(t, err)
	e, err := Decode(data)
	require.NoError(t, err)
	for i := range data {
		data[i] = 0
	}
	assert.Equal(t, fullEntry().Body, e.Body, "the entry must not alias the input")
}

func TestEncodeRejects(t *testing.T) {
	_, err := Encode(nil)
	assert.Error(t, err)
	_, err = Encode(&cache.Entry{Status: 99})
	assert.ErrorContains(t, err, "status")
	_, err = Encode(&cache.Entry{Status: 1000})
	assert.ErrorContains(t, err, "status")
	_, err = Encode(&cache.Entry{Status: 200, Vary: []string{"Accept"}})
	assert.ErrorContains(t, err, "Vary")
}

func TestDecodeForeign(t *testing.T) {
	for _, v := range []string{"", "f", "fsE", `{"status":200}`, "hello world", "\x00\x01\x02\x03\x04\x05\x06\x07", "FSE\x01xxxx"} {
		_, err := Decode([]byte(v))
		assert.ErrorIs(t, err, ErrForeign, "%q", v)
	}
}

func TestDecodeFutureVersion(t *testing.T) {
	data, err := Encode(fullEntry())
	require.NoError(t, err)
	data[len(magic)] = version + 1
	_, err = Decode(data)
	assert.ErrorIs(t, err, ErrVersion)
	data[len(magic)] = 0
	_, err = Decode(data)
	assert.ErrorIs(t, err, ErrVersion)
}

func TestDecodeCorrupt(t *testing.T) {
	data, err := Encode(fullEntry())
	require.NoError(t, err)
	t.Run("every truncation", func(t *testing.T) {
		for n := headerLen; n < len(data); n++ {
			_, err := Decode(data[:n])
			assert.ErrorIs(t, err, ErrCorrupt, "truncated to %d of %d bytes", n, len(data))
		}
	})
	t.Run("every single bit flip after the mark", func(t *testing.T) {
		for i := headerLen; i < len(data); i++ {
			for bit := range 8 {
				c := bytes.Clone(data)
				c[i] ^= 1 << bit
				_, err := Decode(c)
				assert.ErrorIs(t, err, ErrCorrupt, "byte %d bit %d", i, bit)
			}
		}
	})
	t.Run("large body: every truncation, a bit flip in every byte", func(t *testing.T) {
		large, err := Encode(largeEntry())
		require.NoError(t, err)
		for n := headerLen; n < len(large); n++ {
			if _, err := Decode(large[:n]); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("truncated to %d of %d bytes: %v", n, len(large), err)
			}
		}
		for i := headerLen; i < len(large); i++ {
			c := bytes.Clone(large)
			c[i] ^= 1 << (i % 8)
			if _, err := Decode(c); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("byte %d of %d flipped: %v", i, len(large), err)
			}
		}
	})
	t.Run("trailing bytes", func(t *testing.T) {
		_, err := Decode(append(bytes.Clone(data), 0))
		assert.ErrorIs(t, err, ErrCorrupt)
		// Trailing bytes inside a valid checksum are caught by the parser itself.
		payload := append(bytes.Clone(data[:len(data)-crcLen]), 'x')
		_, err = Decode(appendChecksum(payload))
		assert.ErrorIs(t, err, ErrCorrupt)
		assert.ErrorContains(t, err, "trailing")
	})
	t.Run("impossible fields under a valid checksum", func(t *testing.T) {
		// head: mark, status 200, no times, InitialAge 0, Generation 0, no ETag, no Last-Modified.
		head := binary.AppendUvarint([]byte(magic+string(version)), 200)
		head = append(head, 0, 0, 0, 0, 0)
		huge := binary.AppendUvarint(nil, 1<<40)
		for name, payload := range map[string][]byte{
			"status 0":             {magic[0], magic[1], magic[2], version, 0, 0, 0, 0, 0, 0, 0, 0},
			"status 1000":          append(binary.AppendUvarint([]byte(magic+string(version)), 1000), 0, 0, 0, 0, 0, 0, 0),
			"unknown time bits":    append(binary.AppendUvarint([]byte(magic+string(version)), 200), 0x80, 0, 0, 0, 0, 0, 0),
			"huge header count":    append(append(bytes.Clone(head), huge...), 0, 0),
			"huge value count":     append(append(bytes.Clone(head), 1, 1, 'A'), huge...),
			"huge vary count":      append(append(bytes.Clone(head), 0), huge...),
			"huge body length":     append(append(bytes.Clone(head), 0, 0), huge...),
			"headers out of order": append(bytes.Clone(head), 2, 1, 'B', 0, 1, 'A', 0, 0, 0),
			"duplicate header":     append(bytes.Clone(head), 2, 1, 'A', 0, 1, 'A', 0, 0, 0),
			"missing body":         append(bytes.Clone(head), 0, 0),
		} {
			_, err := Decode(appendChecksum(payload))
			assert.ErrorIs(t, err, ErrCorrupt, name)
		}
		// The same head with a valid tail decodes: the cases above fail for their own reason.
		_, err := Decode(appendChecksum(append(bytes.Clone(head), 0, 0, 0)))
		assert.NoError(t, err)
		// Version 1 has no Generation: its head is one byte shorter.
		v1 := binary.AppendUvarint([]byte(magic+string(version1)), 200)
		v1 = append(v1, 0, 0, 0, 0)
		_, err = Decode(appendChecksum(append(bytes.Clone(v1), 0, 0, 0)))
		assert.NoError(t, err)
		_, err = Decode(appendChecksum(append(bytes.Clone(v1), 0, 0, 0, 0)))
		assert.ErrorContains(t, err, "trailing", "a version-1 value is not read as a later version")
	})
}

// fuzzMaxInput bounds what FuzzDecode hands to Decode: a longer input is cut to its first
// fuzzMaxInput bytes.
//
// It must stay below 504 bytes. When fuzzing, hash/crc32 is coverage-instrumented like our own
// code, and on amd64 its CRC-32C takes other branches by length alone: a three-way split from
// 504 = 3*168 bytes on (one more loop pass per 504 bytes, an alignment step that depends on the
// buffer's address), another from 4032 bytes on. The fuzzing engine took each such length for
// new coverage and minimized the input while keeping it, which cannot shrink it below the
// threshold, so every pass of the minimizer ran to the end: the pass over every byte range
// alone costs n²/2 calls of the fuzz function (125,000 for 500 bytes, 6 million for 3.5 KB),
// during which a worker reports no executions: the "0 execs/s" stall. Decode checksums at most
// len(data) bytes, and Encode of what it decoded no more, so below 504 only the parser's path
// through the value counts as coverage. The long CRC paths are covered by TestCodecRoundTrip
// and TestDecodeCorrupt ("large body").
//
// It is 320 rather than 503 because the minimizer pays the same n²/2 for an input whose
// coverage comes from its structure (say, 48 header fields), which no byte can be cut from:
// about 6 s for 490 bytes on a loaded 2-core machine, a quarter of that for 256. Nothing in the
// parser needs more bytes to be reached (fullEntry encodes to 285: its validators are in its
// Header and, for older readers, written apart too).
const fuzzMaxInput = 320

func FuzzDecode(f *testing.F) {
	full, err := Encode(fullEntry())
	require.NoError(f, err)
	require.LessOrEqual(f, len(full), fuzzMaxInput, "the full seed must not be cut")
	minimal, err := Encode(&cache.Entry{Status: 200})
	require.NoError(f, err)
	f.Add(full)
	f.Add(minimal)
	f.Add([]byte(magic + string(version)))
	for _, old := range []string{v1FullEntry, v2FullEntry} {
		if v, err := hex.DecodeString(old); err == nil {
			f.Add(v)
		}
	}
	f.Add([]byte("not an entry"))
	f.Add(full[:len(full)/2])
	f.Add(full[:len(full)-crcLen]) // a payload: valid once checkDecode appends the checksum
	f.Fuzz(func(t *testing.T, data []byte) {
		// min, an expression, adds no coverage counter; an if statement would, and the first
		// long input would be minimized for it at the same n²/2 cost.
		data = data[:min(len(data), fuzzMaxInput)]
		checkDecode(t, data)
		// The checksum stops almost every mutation before the parser: also try the input
		// as a payload with a valid checksum, so the fuzzer explores the fields.
		checkDecode(t, appendChecksum(bytes.Clone(data)))
	})
}

// checkDecode asserts Decode's contract on data: a classified error and no entry, or an entry
// that survives an encode/decode round trip.
func checkDecode(t *testing.T, data []byte) {
	e, err := Decode(data)
	if err != nil {
		if e != nil {
			t.Fatal("an error must come with a nil entry")
		}
		if !errors.Is(err, ErrForeign) && !errors.Is(err, ErrVersion) && !errors.Is(err, ErrCorrupt) {
			t.Fatalf("unclassified error %v", err)
		}
		return
	}
	again, err := Encode(e)
	if err != nil {
		t.Fatalf("a decoded entry must encode: %v", err)
	}
	back, err := Decode(again)
	if err != nil {
		t.Fatalf("re-encoded entry does not decode: %v", err)
	}
	assertSameEntry(t, e, back)
}

// v1FullEntry is fullEntry() as the version-1 encoder wrote it (commit 20de6a5, before
// entries had a Generation): a rolling upgrade finds such values in Redis.
const v1FullEntry = "66734501cb011faaf8d8c6e6c7f2eb31aab49addf1c7f2eb31aa94d5e1b0cbf2eb31aaf48fe6efcef2eb31aab4" +
	"dfe8b799f4eb318e90a9f6b80207572f22616263221d4672692c203237204e6f7620323032362031313a30303a3030" +
	"20474d54030c436f6e74656e742d5479706501106170706c69636174696f6e2f6a736f6e07582d456d7074790006" +
	"582d4d616e79030131013200020f4163636570742d456e636f64696e6704677a69700f4163636570742d4c616e67" +
	"75616765000d7b226f6b223a747275657d00ff85713841"

func TestDecodeVersion1(t *testing.T) {
	want := fullEntry()
	want.Generation = 0              // version 1 has none: such an entry starts no generation
	want.ValidateUntil = time.Time{} // nor a ValidateUntil
	data := requireDecodesOlder(t, v1FullEntry, 1, want)

	data[len(data)-crcLen-1] ^= 1 // a version-1 value is checked as strictly as a current one
	_, err := Decode(data)
	assert.ErrorIs(t, err, ErrCorrupt)
}

// requireDecodesOlder checks that the value hexData, written by the encoder of version v,
// decodes as want and is encoded again in the current version to the same entry. It
// returns the value's bytes.
func requireDecodesOlder(t *testing.T, hexData string, v byte, want *cache.Entry) []byte {
	t.Helper()
	data, err := hex.DecodeString(hexData)
	require.NoError(t, err)
	require.Equal(t, v, data[len(magic)])
	got, err := Decode(data)
	require.NoError(t, err, "version %d values still decode", v)
	assertSameEntry(t, want, got)

	again, err := Encode(got)
	require.NoError(t, err)
	assert.Equal(t, version, again[len(magic)], "Encode writes the current version")
	back, err := Decode(again)
	require.NoError(t, err)
	assertSameEntry(t, want, back)
	return data
}

// v2FullEntry is fullEntry() as the version-2 encoder wrote it (commit bdcd7f3, before
// entries kept their ValidateUntil): a rolling upgrade finds such values in Redis.
const v2FullEntry = "66734502cb011faaf8d8c6e6c7f2eb31aab49addf1c7f2eb31aa94d5e1b0cbf2eb31aaf48fe6efcef2eb31aab4" +
	"dfe8b799f4eb318e90a9f6b802effdb6f5edd9fef6fe0107572f22616263221d4672692c203237204e6f762032303236" +
	"2031313a30303a303020474d54030c436f6e74656e742d5479706501106170706c69636174696f6e2f6a736f6e0758" +
	"2d456d7074790006582d4d616e79030131013200020f4163636570742d456e636f64696e6704677a69700f41636365" +
	"70742d4c616e6775616765000d7b226f6b223a747275657d00ff1a39baea"

func TestDecodeVersion2(t *testing.T) {
	want := fullEntry()
	want.ValidateUntil = time.Time{} // version 2 has none
	data := requireDecodesOlder(t, v2FullEntry, 2, want)

	// A version-2 value with the time bit version 3 gave ValidateUntil is corrupt, not a
	// version-3 entry: the presence byte follows the status (2 bytes for 203).
	flag := bytes.Clone(data[:len(data)-crcLen])
	flag[headerLen+2] |= 1 << (numTimes - 1)
	_, err := Decode(appendChecksum(flag))
	assert.ErrorIs(t, err, ErrCorrupt)
}

// A stored entry kept only to be revalidated (must-revalidate, past its windows) is still
// one after a round trip through Redis: it is fetched with its validators, not as a miss.
func TestEncodeCarriesValidateUntil(t *testing.T) {
	e := fullEntry()
	past := e.ErrorUntil.Add(time.Minute)
	require.Equal(t, cache.Revalidate, e.State(past))
	data, err := Encode(e)
	require.NoError(t, err)
	got, err := Decode(data)
	require.NoError(t, err)
	assert.Equal(t, cache.Revalidate, got.State(past))
	assert.True(t, e.ValidateUntil.Equal(got.ValidateUntil))
}

func TestEncodeCarriesGeneration(t *testing.T) {
	e := fullEntry()
	with, err := Encode(e)
	require.NoError(t, err)
	e.Generation = 1
	other, err := Encode(e)
	require.NoError(t, err)
	assert.NotEqual(t, with, other, "entries of other generations must not encode alike")
	got, err := Decode(other)
	require.NoError(t, err)
	assert.Equal(t, uint64(1), got.Generation)
}
