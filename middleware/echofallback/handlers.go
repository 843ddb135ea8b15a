package echofallback

import (
	"sync/atomic"
	"unsafe"

	"github.com/labstack/echo/v4"
)

// Echo applies the middleware of Echo.Use and of a route to the route's handler on every
// request (echo.applyMiddleware): MiddlewareFunc is called with the same next again and
// again, and a closure built around it each time costs an allocation per request (about a
// tenth of a fresh hit's time on Echo). handlers remembers the handler built around each
// next it has seen twice in a row, by next's identity: a func value is a pointer to its
// closure (code and captured variables, never changed once built), so two func values
// with the same pointer are the same closure and the handler built around one serves the
// other. A remembered handler holds its next, which therefore stays alive and keeps its
// address: an identity found in the table is never another closure's.
//
// A next that is new on every request (a middleware mounted after this one wraps the
// route's handler per request) is never remembered: its closure is built as before, and
// seen (a bare address, which keeps nothing alive) only records it.
type handlers struct {
	slots [handlerSlots]atomic.Pointer[built]
	seen  [handlerSlots]atomic.Uintptr
}

// handlerSlots is the size of the table: routes whose handlers hash to one slot take
// turns (each then builds its closure per request, as without the table).
const handlerSlots = 64

// built is the handler built around next, whose identity is id.
type built struct {
	id   uintptr
	next echo.HandlerFunc // keeps the closure at id alive
	h    echo.HandlerFunc
}

// funcID is f's identity, the address of its closure (0 for nil), and its slot.
func funcID(f echo.HandlerFunc) (id uintptr, slot int) {
	id = uintptr(*(*unsafe.Pointer)(unsafe.Pointer(&f)))
	return id, int((id >> 4) % handlerSlots) // closures are 8-byte aligned, mostly 16 or more apart
}

// lookup returns the handler remembered for the next whose identity is id, else nil.
func (t *handlers) lookup(id uintptr, slot int) echo.HandlerFunc {
	if b := t.slots[slot].Load(); b != nil && b.id == id {
		return b.h
	}
	return nil
}

// remember records h, built around next (identity id), and keeps it once next has come
// twice in a row to its slot.
func (t *handlers) remember(id uintptr, slot int, next, h echo.HandlerFunc) {
	if id != 0 && t.seen[slot].Swap(id) == id {
		t.slots[slot].Store(&built{id: id, next: next, h: h})
	}
}
