package httpfallback

import (
	"context"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/failsoft/failsoft/upstream"
)

// quietLog turns the engine's events into the few log lines an operator needs during an
// outage: each request is logged at Debug only (by its call site); at Warn and above it
// logs what changes, per route: a breaker opening, closing or half-opening; a route
// starting to answer with stale entries, defaults or errors; while that lasts, one summary
// line per LogInterval with the answers by outcome since the last one; and the route
// answering normally again (an interval without such answers).
//
// It starts no goroutine: a summary is written by the first event of the route after the
// interval has passed (by Config.Now), so a route that gets no more requests writes no
// more summaries.
type quietLog struct {
	log      *slog.Logger
	engine   string
	interval time.Duration
	now      func() time.Time

	routes routeMap[quietRoute]
}

// Degraded answers, as bits of quietRoute.seen.
const (
	seenStale = 1 << iota
	seenDefault
	seenError
)

// quietRoute is one route's state. degraded is read without the lock on every event, so
// that a healthy route costs one atomic load per answer.
type quietRoute struct {
	degraded atomic.Bool

	mu     sync.Mutex
	seen   int       // degraded answers given since the episode began
	since  time.Time // start of the current summary interval
	counts map[string]uint64
	bad    uint64 // degraded answers in the current interval
}

func newQuietLog(cfg Config) *quietLog {
	if cfg.Logger == nil {
		return nil
	}
	return &quietLog{log: cfg.Logger, engine: cfg.Name, interval: cfg.LogInterval, now: cfg.Now}
}

// outcomeOf names an answer event's outcome (Event.Outcome) and reports whether it is a
// degraded answer: a failure covered by a stale entry or a default, or an error.
func outcomeOf(ev *Event) (string, int) {
	switch ev.Kind {
	case EventStale:
		switch ev.Reason {
		case ReasonStaleWhileRevalidate, ReasonInFlight:
			// Normal operation: the entry is being refreshed, nothing failed (yet).
			return ev.Reason, 0
		}
		return ev.Outcome(), seenStale
	case EventDefault:
		return OutcomeDefault, seenDefault
	case EventError:
		return OutcomeError, seenError
	}
	return ev.Outcome(), 0
}

// note takes one event.
func (q *quietLog) note(ev *Event) {
	if ev.Kind == EventBreaker {
		q.breaker(ev)
		return
	}
	outcome, bad := outcomeOf(ev)
	if outcome == "" {
		return
	}
	qr := q.routes.lookup(ev.Route)
	if bad == 0 && (qr == nil || !qr.degraded.Load()) {
		return // a healthy answer of a healthy route: nothing to say
	}
	if qr == nil {
		qr = q.routes.get(ev.Route)
	}
	q.degraded(qr, ev.Route, ev.Reason, outcome, bad)
}

// degraded takes an answer of a degraded route, or a degraded answer (bad != 0).
func (q *quietLog) degraded(qr *quietRoute, route, reason, outcome string, bad int) {
	now := q.now()
	qr.mu.Lock()
	var lines []func()
	if !qr.degraded.Load() {
		qr.degraded.Store(true)
		qr.seen, qr.since, qr.bad = 0, now, 0
		qr.counts = make(map[string]uint64)
	} else if now.Sub(qr.since) >= q.interval {
		counts, bad := qr.counts, qr.bad
		since := qr.since
		qr.counts, qr.since, qr.bad = make(map[string]uint64), now, 0
		if bad == 0 {
			qr.degraded.Store(false)
			qr.seen = 0
			lines = append(lines, func() {
				q.write(slog.LevelWarn, "failsoft: route answering normally again", route, since, now, counts)
			})
		} else {
			lines = append(lines, func() {
				q.write(slog.LevelWarn, "failsoft: route degraded: answers since the last summary", route, since, now, counts)
			})
		}
	}
	if qr.degraded.Load() {
		qr.counts[outcome]++
		if bad != 0 {
			qr.bad++
			if qr.seen&bad == 0 {
				qr.seen |= bad
				level, msg := slog.LevelWarn, "failsoft: route started serving stale"
				switch bad {
				case seenDefault:
					msg = "failsoft: route started serving defaults"
				case seenError:
					level, msg = slog.LevelError, "failsoft: route started serving errors"
				}
				lines = append(lines, func() {
					q.log.LogAttrs(context.Background(), level, msg, slog.String("engine", q.engine),
						slog.String("route", route), slog.String("reason", reason))
				})
			}
		}
	}
	qr.mu.Unlock()
	for _, l := range lines {
		l()
	}
}

// write logs a summary of counts between since and now.
func (q *quietLog) write(level slog.Level, msg, route string, since, now time.Time, counts map[string]uint64) {
	names := make([]string, 0, len(counts))
	for k := range counts {
		names = append(names, k)
	}
	sort.Strings(names)
	attrs := make([]any, 0, len(names))
	for _, k := range names {
		attrs = append(attrs, slog.Uint64(k, counts[k]))
	}
	q.log.LogAttrs(context.Background(), level, msg, slog.String("engine", q.engine), slog.String("route", route),
		slog.Duration("interval", now.Sub(since)), slog.Group("answers", attrs...))
}

// breaker logs a circuit's change: opening (from closed) and closing at Warn; the probes of
// an open circuit (open to half-open and back, every sleep window while the outage lasts)
// at Info.
func (q *quietLog) breaker(ev *Event) {
	level := slog.LevelInfo
	if ev.To == upstream.Closed || ev.From == upstream.Closed {
		level = slog.LevelWarn
	}
	msg := "failsoft: breaker " + ev.To.String()
	q.log.LogAttrs(context.Background(), level, msg, slog.String("engine", q.engine), slog.String("route", ev.Route),
		slog.String("from", ev.From.String()), slog.String("to", ev.To.String()))
}
