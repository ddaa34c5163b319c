package rules

import (
	"fmt"
	"strings"
	"time"

	"github.com/kakeibo-slo/kakeibo/slo"
)

// calendarIndex is what PromQL needs to know of a calendar window: the
// index of the period holding a time mod 3 (two periods of one residue are
// at least 59 days apart for months, 14 for weeks, farther than the range
// summed), the length in seconds of the period holding a time, and the
// longest period. Times are PromQL scalar expressions in seconds, such as
// time().
type calendarIndex struct {
	index, seconds func(t string) string
	// elapsed is the wall-clock seconds since the period holding t began,
	// a scalar (a daylight saving change within it counts as the wall
	// clock does: an hour off in a month, which the coverage's 0.9
	// threshold absorbs).
	elapsed func(t string) string
	longest time.Duration
	// until is when the zone's table of UTC offsets ends (zero: the zone
	// keeps one offset); rules must be generated again before then.
	until time.Time
}

// zoneYears is how far ahead the rules know a zone's UTC offset changes.
const zoneYears = 5

// newCalendarIndex says how to compute a calendar window's periods in
// PromQL, whose calendar functions know only UTC: the zone's wall clock is
// UTC plus its offset, and the offset of a zone with daylight saving time
// is a table of its changes from the start of this year for zoneYears.
// Months anchored after the 28th cannot be computed (their start moves
// with the length of the month); why says so.
func newCalendarIndex(w slo.Window, now time.Time) (c *calendarIndex, why string) {
	loc := w.Location
	if loc == nil {
		loc = time.UTC
	}
	// Whole years, so the rules change once a year, not at every change.
	from := time.Date(now.Year(), 1, 1, 0, 0, 0, 0, time.UTC)
	until := from.AddDate(zoneYears, 0, 0)
	z := offsetsOf(loc, from, until)
	c = &calendarIndex{}
	if len(z.steps) > 0 {
		c.until = until
	}
	switch w.Calendar {
	case slo.Week:
		// Weeks start on Monday midnight of the wall clock (1970-01-05 was a
		// Monday), or at the anchor's weekday and wall time. Any week start
		// before every sample will do (only residues count): one in the
		// three weeks before the epoch.
		start := int64(4 * 86400)
		if !w.Anchor.IsZero() {
			start = z.wallAt(w.Anchor.Unix())
		}
		start = (start%604800+604800)%604800 - 3*604800
		number := func(t string) string {
			return fmt.Sprintf("floor(vector(%s) / 604800)", shifted(z.local(t), -start))
		}
		c.index = func(t string) string { return number(t) + " % 3" }
		c.seconds = func(t string) string { return z.lengthExpr(t, "604800", w) }
		c.elapsed = func(t string) string { return fmt.Sprintf("((%s) %% 604800)", shifted(z.local(t), -start)) }
		c.longest = 7 * 24 * time.Hour
		return c, ""
	case slo.Month:
		// A month anchored on day d at h:m:s starts where the wall clock
		// moved back by d-1 days and h:m:s reads the 1st, midnight.
		var shift int64
		if !w.Anchor.IsZero() {
			a := w.Anchor.In(loc)
			if a.Day() > 28 {
				return nil, fmt.Sprintf("months start on day %d, which shorter months do not have", a.Day())
			}
			shift = int64(a.Day()-1)*86400 + int64(a.Hour()*3600+a.Minute()*60+a.Second())
		}
		local := func(t string) string { return fmt.Sprintf("vector(%s)", shifted(z.local(t), -shift)) }
		number := func(t string) string {
			return fmt.Sprintf("(year(%s) * 12 + month(%s))", local(t), local(t))
		}
		c.index = func(t string) string { return number(t) + " % 3" }
		c.seconds = func(t string) string {
			return z.lengthExpr(t, fmt.Sprintf("days_in_month(%s) * 86400", local(t)), w)
		}
		c.elapsed = func(t string) string {
			return fmt.Sprintf("scalar((day_of_month(%s) - 1) * 86400 + hour(%s) * 3600 + minute(%s) * 60) + (%s) %% 60",
				local(t), local(t), local(t), shifted(z.local(t), -shift))
		}
		c.longest = 31 * 24 * time.Hour
		return c, ""
	}
	return nil, fmt.Sprintf("unknown calendar unit %q", w.Calendar)
}

func shifted(t string, s int64) string {
	switch {
	case s > 0:
		return fmt.Sprintf("%s + %d", t, s)
	case s < 0:
		return fmt.Sprintf("%s - %d", t, -s)
	}
	return t
}

// zoneOffsets is a zone's UTC offset over a span of time: base, plus the
// delta of every step at or before t.
type zoneOffsets struct {
	base  int64
	steps []offsetStep
}

type offsetStep struct {
	at    int64 // Unix seconds
	delta int64 // seconds the offset changes by
}

// offsetsOf finds loc's offset changes between from and to: daily, as
// daylight saving time lasts months, then to the second.
func offsetsOf(loc *time.Location, from, to time.Time) zoneOffsets {
	offset := func(t time.Time) int64 { _, o := t.In(loc).Zone(); return int64(o) }
	z := zoneOffsets{base: offset(from)}
	prev := from
	for t := from.Add(24 * time.Hour); !t.After(to); t = t.Add(24 * time.Hour) {
		if offset(t) != offset(prev) {
			lo, hi := prev.Unix(), t.Unix() // offset changes in (lo, hi]
			for hi-lo > 1 {
				mid := lo + (hi-lo)/2
				if offset(time.Unix(mid, 0)) == offset(prev) {
					lo = mid
				} else {
					hi = mid
				}
			}
			z.steps = append(z.steps, offsetStep{at: hi, delta: offset(t) - offset(prev)})
		}
		prev = t
	}
	return z
}

// wallAt is the wall clock at a Unix time, as local computes it.
func (z zoneOffsets) wallAt(at int64) int64 {
	w := at + z.base
	for _, s := range z.steps {
		if at >= s.at {
			w += s.delta
		}
	}
	return w
}

// local is the wall clock at t as a PromQL scalar: t plus the offset.
func (z zoneOffsets) local(t string) string {
	if len(z.steps) == 0 {
		return shifted(t, z.base)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "(%s", shifted(t, z.base))
	for _, s := range z.steps {
		fmt.Fprintf(&b, " + (%s >= bool %d) * %d", t, s.at, s.delta)
	}
	b.WriteString(")")
	return b.String()
}

// lengthExpr is the real length in seconds of the period holding t (a
// scalar): its wall-clock length less every offset change within it; the
// periods holding the changes are the evaluator's (slo.Window.Bounds).
func (z zoneOffsets) lengthExpr(t, wallLength string, w slo.Window) string {
	if strings.Contains(wallLength, "(") { // a vector
		wallLength = "scalar(" + wallLength + ")"
	}
	var b strings.Builder
	b.WriteString(wallLength)
	for _, s := range z.steps {
		start, end := w.Bounds(time.Unix(s.at, 0))
		fmt.Fprintf(&b, " - (%s >= bool %d) * (%s < bool %d) * %d", t, start.Unix(), t, end.Unix(), s.delta)
	}
	return b.String()
}
