package slo

import (
	"fmt"
	"time"

	"github.com/prometheus/common/model"
)

// CalendarUnit is the period of a calendar-aligned window.
type CalendarUnit string

const (
	Month CalendarUnit = "month"
	Week  CalendarUnit = "week"
)

// Window is the period an objective is measured over: rolling (the last
// Length up to now) or calendar-aligned (the current month or ISO week, in
// Location).
type Window struct {
	// Length of a rolling window; zero for calendar windows.
	Length time.Duration
	// Calendar is Month or Week for calendar windows, empty for rolling.
	Calendar CalendarUnit
	// Location is the time zone calendar periods start in (UTC by default).
	Location *time.Location
	// Anchor, when set, is when one calendar period started (OpenSLO's
	// calendar.startTime): weeks then start on its weekday and months on its
	// day of the month, at its wall-clock time. Zero: months start on the
	// 1st and weeks on Monday, at midnight.
	Anchor time.Time
}

// Rolling returns a rolling window of length d.
func Rolling(d time.Duration) Window { return Window{Length: d} }

// CalendarWindow returns a calendar-aligned window in loc.
func CalendarWindow(u CalendarUnit, loc *time.Location) Window {
	if loc == nil {
		loc = time.UTC
	}
	return Window{Calendar: u, Location: loc}
}

// IsCalendar says whether the window is calendar-aligned.
func (w Window) IsCalendar() bool { return w.Calendar != "" }

func (w Window) String() string {
	if w.IsCalendar() {
		return string(w.Calendar)
	}
	return FormatDuration(w.Length)
}

// FormatDuration prints a duration the way specs write windows: whole days
// as days (28d, not 4w), shorter ones as model.Duration does (1h30m, 5m).
func FormatDuration(d time.Duration) string {
	const day = 24 * time.Hour
	if d >= day && d%day == 0 {
		return fmt.Sprintf("%dd", d/day)
	}
	return model.Duration(d).String()
}

// Bounds returns the period that holds at, as [start, end). A rolling window
// ends at at; a calendar window ends where its month or week ends, so at is
// somewhere inside it. Calendar boundaries are midnight in the window's time
// zone, so a period that spans a DST change is an hour shorter or longer.
func (w Window) Bounds(at time.Time) (start, end time.Time) {
	if w.IsCalendar() && !w.Anchor.IsZero() {
		return w.anchoredBounds(at)
	}
	switch w.Calendar {
	case Month:
		t := at.In(w.loc())
		start = time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, w.loc())
		return start, start.AddDate(0, 1, 0)
	case Week:
		t := at.In(w.loc())
		daysSinceMonday := (int(t.Weekday()) + 6) % 7
		start = time.Date(t.Year(), t.Month(), t.Day()-daysSinceMonday, 0, 0, 0, 0, w.loc())
		return start, start.AddDate(0, 0, 7)
	}
	return at.Add(-w.Length), at
}

// anchoredBounds is Bounds for a window with an Anchor: the period
// boundaries are the anchor moved by whole weeks or months of wall-clock
// time in the window's zone (a month anchored on the 31st starts on the last
// day of shorter months).
func (w Window) anchoredBounds(at time.Time) (start, end time.Time) {
	a := w.Anchor.In(w.loc())
	nth := func(k int) time.Time {
		if w.Calendar == Week {
			return time.Date(a.Year(), a.Month(), a.Day()+7*k, a.Hour(), a.Minute(), a.Second(), 0, w.loc())
		}
		first := time.Date(a.Year(), a.Month()+time.Month(k), 1, 0, 0, 0, 0, w.loc())
		day := min(a.Day(), daysIn(first.Year(), first.Month()))
		return time.Date(first.Year(), first.Month(), day, a.Hour(), a.Minute(), a.Second(), 0, w.loc())
	}
	// A first guess from the average period length, then step to the period
	// that holds at (DST and month lengths move it by at most one).
	avg := 7 * 24 * time.Hour
	if w.Calendar == Month {
		avg = time.Duration(30.436875 * 24 * float64(time.Hour))
	}
	k := int(at.Sub(a) / avg)
	if at.Before(a) {
		k--
	}
	for nth(k).After(at) {
		k--
	}
	for !nth(k + 1).After(at) {
		k++
	}
	return nth(k), nth(k + 1)
}

func daysIn(y int, m time.Month) int {
	return time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// Period is the length of the period that holds at: the rolling length, or
// the length of the calendar month or week (28 to 31 days, DST included).
func (w Window) Period(at time.Time) time.Duration {
	start, end := w.Bounds(at)
	return end.Sub(start)
}

// Nominal is the period used to scale alert thresholds: the rolling length,
// 30 days for a month and 7 days for a week. Thresholds stay the same every
// month, so generated Prometheus rules and the built-in evaluator agree.
func (w Window) Nominal() time.Duration {
	switch w.Calendar {
	case Month:
		return 30 * 24 * time.Hour
	case Week:
		return 7 * 24 * time.Hour
	}
	return w.Length
}

// Elapsed is how much of the period holding at has passed: the rolling
// length, or the time since the calendar period started.
func (w Window) Elapsed(at time.Time) time.Duration {
	start, _ := w.Bounds(at)
	return at.Sub(start)
}

func (w Window) loc() *time.Location {
	if w.Location == nil {
		return time.UTC
	}
	return w.Location
}

// parseWindow reads `30d`, `4w`, `month` or `week`.
func parseWindow(s string, loc *time.Location) (Window, error) {
	switch s {
	case "month", "week":
		return CalendarWindow(CalendarUnit(s), loc), nil
	}
	d, err := model.ParseDuration(s)
	if err != nil {
		return Window{}, fmt.Errorf("want a rolling length such as 30d or 4w, or `month` or `week`")
	}
	return Rolling(time.Duration(d)), nil
}
