package httpfallback

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/failsoft/failsoft/upstream"
)

// Requests that waited on one failing fetch each hand Config.ErrorHandler a
// *upstream.StatusError of their own: a handler that edits its header or body (say, to
// strip internal fields before copying them out) neither races with the others (-race)
// nor shows them its edits.
func TestErrorHandlerOfCollapsedFailureOwnsTheStatusError(t *testing.T) {
	g := newGate()
	cfg := heldLeaderConfig(30 * time.Second)
	cfg.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
		se, ok := errors.AsType[*upstream.StatusError](err)
		if !ok {
			t.Errorf("err %v: no *upstream.StatusError", err)
			return
		}
		w.Header().Set("X-Edited-Before", se.Header.Get("X-Edited"))
		se.Header.Set("X-Edited", "yes")
		delete(se.Header, "X-Internal")
		se.Body[0] = '!'
		w.WriteHeader(se.StatusCode)
	}
	hs := newEngHarness(t, cfg, func(w http.ResponseWriter, r *http.Request) {
		g.Hold(1)
		w.Header().Set("X-Internal", "secret")
		w.WriteHeader(http.StatusBadGateway)
		_, _ = w.Write([]byte("down"))
	})
	leader := goGet(hs, "/fail")
	g.WaitHeld(t)
	waiters := []<-chan engResp{goGet(hs, "/fail"), goGet(hs, "/fail"), goGet(hs, "/fail")}
	waitWaiting(t, hs, 3)
	g.Open()
	for _, ch := range append(waiters, leader) {
		r := <-ch
		assert.Equal(t, http.StatusBadGateway, r.status)
		assert.Empty(t, r.header.Get("X-Edited-Before"), "another request's ErrorHandler edited this one's header")
	}
	assert.EqualValues(t, 1, hs.calls.Load())
}
