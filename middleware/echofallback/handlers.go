package echofallback

import (
	"sync/atomic"
	"unsafe"

	"github.com/labstack/echo/v4"
)

// Echo applies the middleware of Echo.Use and of a route to the route's handler on every
// request (echo.applyMiddleware): MiddlewareFunc is called with the same next again and
// again, and a closure built around it each time costs an allocation per request (about a
// tenth of a fresh hit's time on Echo). handlers remembers the handler built around a
// next, by next's identity, in a slot of a small table picked from it. The identity is
// the address of next's closure: a func value is a pointer to its closure (its code and
// captured variables, never changed once built), so two func values with the same
// pointer are the same closure, and the handler built around one serves the other. A
// remembered handler holds its next, which stays alive and, Go's heap never moving what
// it holds, keeps its address: an identity found in the table is never another closure's.
//
// A slot is claimed once, by the first next that comes to it, and never changes: a
// lookup only reads, so requests on several cores share the table's cache lines without
// writing them. A next whose slot another holds is built around on every request, as
// without the table. So is a next that is new on every request (a middleware mounted
// after this one wraps the route's handler per request): such closures claim the free
// slots they come to, each kept (with what it holds) for the Middleware's life, at most
// handlerSlots of them.
type handlers struct {
	slots [handlerSlots]atomic.Pointer[built]
}

// handlerSlots is the size of the table.
const handlerSlots = 64

// built is the handler built around next, whose identity is id.
type built struct {
	id   uintptr
	next echo.HandlerFunc // keeps the closure at id alive (h holds it too)
	h    echo.HandlerFunc
}

// funcID is f's identity, the address of its closure (0 for nil), and its slot.
func funcID(f echo.HandlerFunc) (id uintptr, slot int) {
	id = uintptr(*(*unsafe.Pointer)(unsafe.Pointer(&f)))
	return id, int(uint64(id) * 0x9E3779B97F4A7C15 >> 58) // the top 6 bits: 64 slots
}

// lookup returns the handler remembered for the next whose identity is id, else nil.
func (t *handlers) lookup(id uintptr, slot int) echo.HandlerFunc {
	if b := t.slots[slot].Load(); b != nil && b.id == id {
		return b.h
	}
	return nil
}

// remember keeps h, built around next (identity id), when its slot is free.
func (t *handlers) remember(id uintptr, slot int, next, h echo.HandlerFunc) {
	if id != 0 && t.slots[slot].Load() == nil {
		t.slots[slot].CompareAndSwap(nil, &built{id: id, next: next, h: h})
	}
}
