package cache

import (
	"net/http/httptest"
	"testing"
	"unsafe"
)

// Get keeps no reference to the key it is given, even when the Get moves the key's entry
// into the protected part: a key that is a view of a buffer the caller then overwrites
// finds the entry again under its own bytes, and the overwritten bytes find nothing.
func TestMemoryGetKeepsNoReferenceToItsKey(t *testing.T) {
	m, err := New(Config{MaxBytes: 1 << 20, Now: fixedClock(t0), SweepInterval: -1, ProtectAfter: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	const key = "G|http|api.example|/items/1"
	if !m.Set(bg, key, entryAt(t, []byte(`{"id":1}`))) {
		t.Fatal("Set refused")
	}
	buf := []byte(key)
	view := unsafe.String(unsafe.SliceData(buf), len(buf))
	for range 3 { // the second request of the key promotes it: the part keeps a key
		if e, _ := m.Get(bg, view, t0); e == nil {
			t.Fatal("miss through the view")
		}
	}
	if m.Stats().Promoted != 1 {
		t.Fatalf("not promoted: %+v", m.Stats())
	}
	copy(buf, "G|http|api.example|/items/2") // the caller reuses its buffer
	if e, _ := m.Get(bg, key, t0); e == nil {
		t.Fatal("the entry is lost under its own key once the buffer changed")
	}
	if e, _ := m.Get(bg, "G|http|api.example|/items/2", t0); e != nil {
		t.Fatal("found under the bytes the buffer now holds")
	}
}

// AppendFunc appends the bytes Func returns, after what dst holds.
func TestKeyAppendFuncIsFunc(t *testing.T) {
	o := KeyOptions{Headers: DefaultKeyedHeaders()}
	r := httptest.NewRequest("GET", "http://api.example/items/1?b=2&a=1", nil)
	r.Header.Set("Accept", "application/json")
	got := o.AppendFunc()([]byte("prefix"), r)
	equal(t, "prefix"+o.Func()(r), string(got))
}
