package alerting

import (
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/kakeibo-slo/kakeibo/slo"
)

// Engine decides notifications from evaluations and stores them with the
// state that caused them.
type Engine struct {
	// PageURL, when set, is where people see an SLO's page (the service's
	// external URL); messages link to it.
	PageURL string
	store   *Store
	routes  Routing
	jobs    []ReminderJob
	changed chan struct{}
	// services by name, for their error budget policies in digests.
	services map[string]*slo.Service
	// Overrides, when set, returns the error budget policy overrides in
	// force (digests then do not call an overridden service frozen).
	Overrides func() []slo.GateOverride
	// Months, when set, makes a service's monthly report (notify.reports)
	// for the calendar month before now; without it reports are not posted.
	Months func(service string, now time.Time, loc *time.Location) *MonthReport
}

// NewEngine returns an Engine over the loaded services.
func NewEngine(store *Store, services []*slo.Service) (*Engine, error) {
	e := &Engine{store: store, changed: make(chan struct{}, 1)}
	if err := e.SetServices(services); err != nil {
		return nil, err
	}
	return e, nil
}

// SetServices replaces the routing and reminders (after a spec reload).
func (e *Engine) SetServices(services []*slo.Service) error {
	byName := map[string]slo.Notify{}
	e.services = map[string]*slo.Service{}
	var jobs []ReminderJob
	for _, s := range services {
		byName[s.Name] = s.Notify
		e.services[s.Name] = s
		seen := map[string]bool{}
		for report, list := range [][]slo.Reminder{s.Notify.Reminders, s.Notify.Reports} {
			for i, r := range list {
				sched, err := slo.ParseSchedule(r.Schedule)
				if err != nil {
					return fmt.Errorf("service %s reminder %d: %w", s.Name, i, err)
				}
				key := ReminderKey(s.Name, r)
				if report == 1 {
					key = "report|" + key
				}
				if seen[key] {
					continue // the same reminder twice posts once
				}
				seen[key] = true
				jobs = append(jobs, ReminderJob{
					Key: key, Service: s.Name, Channel: r.Slack,
					Language: r.Language, Schedule: sched, Location: r.Location, Report: report == 1,
				})
			}
		}
	}
	e.routes = func(service string) slo.Notify { return byName[service] }
	e.jobs = jobs
	return nil
}

// Changed is signalled when notifications were enqueued.
func (e *Engine) Changed() <-chan struct{} { return e.changed }

// Observe applies one evaluation: alert transitions and due reminders. It
// WriteError is a failure to store alert states and notifications (a full
// or read-only disk): the evaluation changed nothing, and the next one
// decides again from the stored state.
type WriteError struct{ Err error }

func (e *WriteError) Error() string { return "store alert states: " + e.Err.Error() }
func (e *WriteError) Unwrap() error { return e.Err }

// returns the alert states it stored.
func (e *Engine) Observe(results []slo.Result, now time.Time) (map[string]AlertState, error) {
	states, err := e.store.States()
	if err != nil {
		return nil, err
	}
	next, out := Step(states, results, e.routes, now)
	silences, err := e.store.Silences()
	if err != nil {
		return nil, err
	}
	out = Mute(next, out, silences, now)
	if e.PageURL != "" {
		for i := range out {
			if a := out[i].Alert; a != nil {
				a.Page = SLOPage(e.PageURL, a.Service, a.SLO)
			}
		}
	}
	runs, err := e.store.ReminderRuns()
	if err != nil {
		return nil, err
	}
	due, updates := DueReminders(e.jobs, runs, now)
	for _, j := range due {
		if j.Report {
			if e.Months == nil {
				continue
			}
			m := e.Months(j.Service, now, j.Location)
			if m == nil {
				continue
			}
			loc := j.Location
			if loc == nil {
				loc = time.UTC
			}
			d := Digest{Channel: j.Channel, Language: j.Language, At: now, TimeZone: loc.String(), Month: m}
			out = append(out, Notification{Key: "report/" + j.Key, Kind: KindDigest, Target: Target{Via: ViaSlack, Channel: j.Channel}, Digest: &d, Created: now, UID: NewUID()})
			continue
		}
		var rs []slo.Result
		for _, r := range results {
			if r.Objective.Service == j.Service {
				rs = append(rs, r)
			}
		}
		d := BuildDigest(j.Channel, j.Language, rs, now, j.Location)
		var ovs []slo.GateOverride
		if e.Overrides != nil {
			ovs = e.Overrides()
		}
		GateDigest(&d, e.services[j.Service], rs, ovs, now)
		out = append(out, Notification{Key: "reminder/" + j.Key, Kind: KindDigest, Target: Target{Via: ViaSlack, Channel: j.Channel}, Digest: &d, Created: now, UID: NewUID()})
	}
	if err := e.store.Apply(Change{States: next, Notifications: out, Reminders: updates}); err != nil {
		return nil, &WriteError{Err: err}
	}
	if len(out) > 0 {
		select {
		case e.changed <- struct{}{}:
		default:
		}
	}
	return next, nil
}

// ReminderKey identifies a reminder by what it is (service, channel,
// schedule, time zone), not by its position in the list: reordering a
// spec's reminders keeps each one's schedule.
func ReminderKey(service string, r slo.Reminder) string {
	loc := "UTC"
	if r.Location != nil {
		loc = r.Location.String()
	}
	return fmt.Sprintf("%s|%s|%s|%s", service, r.Slack, r.Schedule, loc)
}

// ReminderJob is one notify.reminders entry of a service.
type ReminderJob struct {
	Key, Service, Channel, Language string
	Schedule                        cron.Schedule
	Location                        *time.Location
	// Report posts the previous month's report instead of a digest.
	Report bool
}

// DueReminders decides which reminders run at now, from when each last
// ran. A reminder never seen before starts counting from now (no digest at
// first start). A run missed by more than an hour (the service was down)
// is skipped rather than sent late. Schedules are evaluated on the wall
// clock of their time zone (see NextRun), so "0 11 * * MON-FRI" in
// Asia/Tokyo is 11:00 in Tokyo, and DST changes neither double nor drop a run.
func DueReminders(jobs []ReminderJob, runs map[string]time.Time, now time.Time) (due []ReminderJob, updates map[string]time.Time) {
	updates = map[string]time.Time{}
	sort.Slice(jobs, func(i, j int) bool { return jobs[i].Key < jobs[j].Key })
	for _, j := range jobs {
		last, ok := runs[j.Key]
		if !ok {
			updates[j.Key] = now
			continue
		}
		loc := j.Location
		if loc == nil {
			loc = time.UTC
		}
		var latest time.Time
		for t := NextRun(j.Schedule, last, loc); !t.After(now); t = NextRun(j.Schedule, t, loc) {
			latest = t
		}
		if latest.IsZero() {
			continue
		}
		updates[j.Key] = now
		if now.Sub(latest) <= time.Hour {
			due = append(due, j)
		}
	}
	return due, updates
}

// NextRun is the first run of a schedule after `after`, with the schedule
// read as wall-clock times in loc. A wall time that occurs twice (clocks go
// back) runs once; a wall time that does not exist (clocks go forward) runs
// once, at the first instant after the gap.
func NextRun(s cron.Schedule, after time.Time, loc *time.Location) time.Time {
	// The schedule steps over wall-clock time, which has no DST in UTC.
	wall := wallClock(after.In(loc))
	for range 1000 {
		next := s.Next(wall)
		if next.IsZero() {
			return time.Time{}
		}
		t := time.Date(next.Year(), next.Month(), next.Day(), next.Hour(), next.Minute(), 0, 0, loc)
		switch tw := wallClock(t.In(loc)); {
		case tw.Before(next):
			// In a gap, and Go chose the zone before it: the first instant
			// after the gap is where that zone ends.
			_, t = t.ZoneBounds()
		case tw.After(next):
			// In a gap, and Go chose the zone after it: where it begins.
			t, _ = t.ZoneBounds()
		default:
			// A wall time that occurs twice: take the first occurrence.
			for _, d := range []time.Duration{2 * time.Hour, time.Hour, 30 * time.Minute} {
				if e := t.Add(-d); wallClock(e.In(loc)).Equal(next) {
					t = e
					break
				}
			}
		}
		if t.After(after) {
			return t
		}
		// The wall time came round again in an overlap, or the gap's run
		// is already done: go on from it.
		wall = next
	}
	return time.Time{}
}

// wallClock is t's wall-clock reading as a UTC time.
func wallClock(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
}

// SLOPage is the URL of an SLO's page under a service's external URL.
func SLOPage(base, service, slo string) string {
	return strings.TrimSuffix(base, "/") + "/slos/" + url.PathEscape(service) + "/" + url.PathEscape(slo)
}
