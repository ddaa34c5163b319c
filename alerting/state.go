package alerting

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/kakeibo-slo/kakeibo/slo"
)

// AlertState is the stored state of one alert of one objective (an alert
// pair, budget exhaustion, stale data), or of one incident: all the alerts
// of an objective and severity that fire together (Group).
type AlertState struct {
	Key      string       `json:"key"`
	Severity slo.Severity `json:"severity"`
	Firing   bool         `json:"firing"`
	Since    time.Time    `json:"since"`
	Incident string       `json:"incident"`
	// LastNotified is when the incident was last announced (firing or repeat).
	LastNotified time.Time `json:"last_notified"`
	// Suppressed: a ticket held back because a page of the same objective
	// is open, or closed less than the ticket's short window ago.
	Suppressed bool `json:"suppressed,omitempty"`
	// Targets are where the incident's messages go.
	Targets []Target `json:"targets,omitempty"`
	// Route is the Slack channel of states stored before Targets existed.
	Route string `json:"route,omitempty"`
	// Last is the newest snapshot, used when the objective disappears.
	Last *Snapshot `json:"last"`

	// Group marks an incident state; Pairs are its firing alerts, ClosedAt
	// when it last resolved (a re-fire within the cooldown reopens it).
	Group    bool      `json:"group,omitempty"`
	Pairs    []string  `json:"pairs,omitempty"`
	ClosedAt time.Time `json:"closed_at,omitempty"`
	// Fired are all the alerts that fired in the incident, for its resolve.
	Fired []string `json:"fired,omitempty"`

	// Muted: a silence (SilencedBy) held back a message of the incident;
	// Unannounced: its firing message, so nobody has heard of it;
	// MutedReopen: its reopen. See Mute.
	Muted       bool   `json:"muted,omitempty"`
	Unannounced bool   `json:"unannounced,omitempty"`
	MutedReopen bool   `json:"muted_reopen,omitempty"`
	SilencedBy  string `json:"silenced_by,omitempty"`
}

// Routing says where notifications of a service go.
type Routing func(service string) slo.Notify

// condition is one alert's verdict in an evaluation.
type condition struct {
	key      string
	name     string
	severity slo.Severity
	firing   bool
	snap     *Snapshot
	// short is the pair's short window: a ticket is held back that long
	// after a page of the same burn resolved.
	short time.Duration
	// stale marks the "no data since" condition, the only one decided
	// from stale data.
	stale bool
}

// group names an incident's kind: its severity, or stale data.
type group string

const (
	groupPage   group = "page"
	groupTicket group = "ticket"
	groupStale  group = "stale-data"
)

func groupOf(c condition) group {
	switch {
	case c.stale:
		return groupStale
	case c.severity == slo.Page:
		return groupPage
	}
	return groupTicket
}

// closedKeep is how long a closed incident's state is kept: long enough
// for a cooldown and for holding back tickets after a page.
const closedKeep = 24 * time.Hour

// Step is the alert state machine. From the stored states and one
// evaluation's results at now, it returns the next states and the
// notifications to send; it is pure, so a restart decides from stored state
// exactly as a running process would.
//
// Each alert (pair, budget exhaustion, stale data) has a state that says
// whether it fires, for Alertmanager and the API. Notifications are per
// incident: all the alerts of one objective and severity that fire
// together form one incident, announced by one message that is updated in
// place as alerts join, leave and resolve:
//
//   - no incident → some alert fires: one firing message;
//   - more or fewer alerts fire: an update of that message;
//   - still firing: a repeat every policy.Repeat[severity], in its thread;
//   - nothing fires any more: a resolve (the message updated, and a reply);
//   - a re-fire within the cooldown after a resolve reopens the incident;
//   - a ticket is held back while a page of the same objective is open or
//     resolved less than the ticket's short window ago (the same burn);
//   - no data (or a source error) holds every state as it is; stale data
//     holds all but the stale-data ticket;
//   - incidents of objectives that are gone (spec removed) resolve.
func Step(states map[string]AlertState, results []slo.Result, routes Routing, now time.Time) (map[string]AlertState, []Notification) {
	next := make(map[string]AlertState, len(states))
	var out []Notification
	seen := map[string]bool{}

	for _, r := range results {
		o := r.Objective
		conds := conditions(r)
		groups := map[group][]condition{}
		for _, c := range conds {
			seen[c.key] = true
			groups[groupOf(c)] = append(groups[groupOf(c)], c)
		}
		for _, g := range []group{groupPage, groupTicket, groupStale} {
			seen[groupKey(o, g)] = true
		}
		hold := func(keys ...string) {
			for _, k := range keys {
				if s, ok := states[k]; ok {
					next[k] = s
				}
			}
		}
		if r.Status == slo.StatusNoData || r.Err != nil {
			for _, c := range conds {
				hold(c.key)
			}
			hold(groupKey(o, groupPage), groupKey(o, groupTicket), groupKey(o, groupStale))
			continue
		}
		notify := routes(o.Service)
		for _, c := range conds {
			if notify.Location != nil {
				c.snap.TimeZone = notify.Location.String()
			}
			c.snap.Language = notify.Language
		}
		stale := r.Status == slo.StatusStale
		// The alerts themselves.
		for _, c := range conds {
			if stale && !c.stale {
				hold(c.key) // stale data neither fires nor resolves a burn-rate alert
				continue
			}
			if !c.firing {
				continue // inactive: no stored state
			}
			s := states[c.key]
			if !s.Firing {
				s = AlertState{Key: c.key, Severity: c.severity, Firing: true, Since: now}
			}
			s.Last = c.snap
			next[c.key] = s
		}
		// The incidents, pages first: tickets look at them.
		for _, g := range []group{groupPage, groupTicket, groupStale} {
			if stale && g != groupStale {
				hold(groupKey(o, g))
				continue
			}
			route := notify.Ticket
			if g == groupPage {
				route = notify.Page
			}
			s, notes := stepIncident(o, g, states[groupKey(o, g)], groups[g], next[groupKey(o, groupPage)], Targets(route, severityOf(g)), now)
			out = append(out, notes...)
			if s.Group && (s.Firing || now.Sub(s.ClosedAt) < closedKeep) {
				next[groupKey(o, g)] = s
			}
		}
	}
	// Objectives that are gone: resolve what was open.
	keys := make([]string, 0, len(states))
	for k := range states {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		s := states[k]
		if seen[k] || !s.Group || !s.Firing || s.Suppressed {
			continue
		}
		out = append(out, notifications(s, KindResolved, closing(s.Last, s, now), now)...)
	}
	return next, out
}

func severityOf(g group) slo.Severity {
	if g == groupPage {
		return slo.Page
	}
	return slo.Ticket
}

func groupKey(o *slo.Objective, g group) string { return o.ID() + "#" + string(g) }

// stepIncident moves one incident of an objective; page is the objective's
// page incident as already decided in this step.
func stepIncident(o *slo.Objective, g group, prev AlertState, conds []condition, page AlertState, targets []Target, now time.Time) (AlertState, []Notification) {
	s, out := stepIncidentPairs(o, g, prev, conds, page, targets, now)
	switch {
	case !s.Firing:
	case !prev.Firing && len(out) > 0 && out[0].Kind == KindFiring:
		s.Fired = slices.Clone(s.Pairs) // a new incident
	default:
		for _, p := range s.Pairs {
			if !slices.Contains(s.Fired, p) {
				s.Fired = append(s.Fired, p)
			}
		}
	}
	return s, out
}

func stepIncidentPairs(o *slo.Objective, g group, prev AlertState, conds []condition, page AlertState, targets []Target, now time.Time) (AlertState, []Notification) {
	var firing []string
	var lead *condition
	for i, c := range conds {
		if c.firing {
			firing = append(firing, c.name)
			if lead == nil {
				lead = &conds[i]
			}
		}
	}
	s := prev
	s.Key, s.Group, s.Severity = groupKey(o, g), true, severityOf(g)
	if lead == nil && len(conds) > 0 {
		lead = &conds[0]
	}
	var snap *Snapshot
	if lead != nil {
		snap = withPairs(lead.snap, firing, prev.Since)
		s.Last = snap
	}
	held := g == groupTicket && ticketHeld(page, conds, now)

	repeat := o.Alerting.Repeat[s.Severity]
	switch {
	case len(firing) > 0 && !prev.Firing:
		reopen := prev.Incident != "" && !prev.ClosedAt.IsZero() && now.Sub(prev.ClosedAt) < o.Alerting.Cooldown && !prev.Suppressed
		s.Firing, s.Pairs, s.Targets = true, firing, targets
		switch {
		case held:
			s = AlertState{Key: s.Key, Group: true, Severity: s.Severity, Firing: true, Since: now, Pairs: firing,
				Suppressed: true, Targets: targets, Last: snap, Incident: fmt.Sprintf("%s@%d", s.Key, now.Unix())}
			return s, nil
		case reopen:
			s.LastNotified, s.ClosedAt = now, time.Time{}
			snap.Since = s.Since
			return s, notifications(s, KindReopened, snap, now)
		}
		s.Since, s.LastNotified, s.Suppressed, s.ClosedAt = now, now, false, time.Time{}
		s.Incident = fmt.Sprintf("%s@%d", s.Key, now.Unix())
		snap.Since = now
		return s, notifications(s, KindFiring, snap, now)
	case len(firing) > 0 && s.Suppressed:
		s.Pairs = firing
		if held {
			return s, nil
		}
		// The page is over and its burn is past: the ticket is news now.
		s.Suppressed, s.Since, s.LastNotified = false, now, now
		s.Incident = fmt.Sprintf("%s@%d", s.Key, now.Unix())
		snap.Since = now
		return s, notifications(s, KindFiring, snap, now)
	case len(firing) > 0:
		changed := !slices.Equal(firing, prev.Pairs)
		s.Pairs = firing
		switch {
		case changed:
			return s, notifications(s, KindUpdate, snap, now)
		case g != groupStale && repeat > 0 && now.Sub(s.LastNotified) >= repeat:
			s.LastNotified = now
			return s, notifications(s, KindRepeat, snap, now)
		}
		return s, nil
	case prev.Firing:
		s.Firing, s.ClosedAt = false, now
		if prev.Suppressed {
			s.Suppressed, s.Incident = false, ""
			return s, nil
		}
		return s, notifications(s, KindResolved, closing(snap, prev, now), now)
	}
	return s, nil
}

// ticketHeld says whether a ticket is held back by the objective's page:
// open, or closed less than each firing ticket's short window ago.
func ticketHeld(page AlertState, conds []condition, now time.Time) bool {
	if page.Firing && !page.Suppressed {
		return true
	}
	if page.ClosedAt.IsZero() {
		return false
	}
	for _, c := range conds {
		if c.firing && now.Sub(page.ClosedAt) >= c.short {
			return false
		}
	}
	return true
}

// withPairs is a copy of snap naming the incident's firing alerts.
func withPairs(snap *Snapshot, firing []string, since time.Time) *Snapshot {
	c := *snap
	c.Firing = firing
	if len(firing) > 0 {
		c.Alert = strings.Join(firing, ", ")
	}
	c.Since = since
	return &c
}

// closing is the snapshot of a resolve: the alerts that fired, and when.
func closing(snap *Snapshot, prev AlertState, now time.Time) *Snapshot {
	var c Snapshot
	if snap != nil {
		c = *snap
	}
	c.Firing = prev.Fired
	if len(c.Firing) == 0 {
		c.Firing = prev.Pairs
	}
	if len(c.Firing) > 0 {
		c.Alert = strings.Join(c.Firing, ", ")
	}
	c.Since, c.ResolvedAt = prev.Since, now
	return &c
}

// notifications are one message per target of the incident; an incident
// without a target still yields one (with no target) so the dispatcher can
// hand it to the ops route or say it went nowhere.
func notifications(s AlertState, kind Kind, snap *Snapshot, now time.Time) []Notification {
	targets := s.Targets
	if len(targets) == 0 && s.Route != "" {
		targets = []Target{{Channel: s.Route}}
	}
	if len(targets) == 0 {
		targets = []Target{{}}
	}
	out := make([]Notification, 0, len(targets))
	for _, t := range targets {
		out = append(out, Notification{Key: s.Key, Incident: s.Incident, Kind: kind, Target: t, Alert: snap, Created: now, UID: NewUID()})
	}
	return out
}

// Targets lists the destinations of a route; Slack mentions apply to pages.
func Targets(r slo.Route, sev slo.Severity) []Target {
	var out []Target
	if r.Slack != "" {
		t := Target{Via: ViaSlack, Channel: r.Slack}
		if sev == slo.Page {
			t.Mention = r.Mention
		}
		out = append(out, t)
	}
	if r.PagerDuty != nil {
		out = append(out, Target{Via: ViaPagerDuty, KeyEnv: r.PagerDuty.RoutingKeyEnv})
	}
	if r.Webhook != nil {
		out = append(out, Target{Via: ViaWebhook, KeyEnv: r.Webhook.URLEnv, SecretEnv: r.Webhook.SecretEnv})
	}
	return out
}

// conditions lists an objective's alert verdicts, in policy order: one per
// alert pair, budget exhaustion when the policy has it (severity ticket: a
// spent budget needs work, not a wake-up call; the burn-rate pages cover
// that), and stale data.
func conditions(r slo.Result) []condition {
	o := r.Objective
	rep := slo.NewReportSLO(r)
	base := func(alert string, sev slo.Severity) *Snapshot {
		return &Snapshot{
			Service: o.Service, SLO: o.Name, Alert: alert, Severity: sev, Labels: o.Labels,
			Window: o.Window.String(), Objective: o.Target, SLI: rep.SLI,
			BudgetRemaining: rep.ErrorBudget.Remaining, BudgetSeconds: rep.ErrorBudget.RemainingSeconds,
			TTESeconds: rep.ErrorBudget.TimeToExhaustionSeconds,
			Dashboard:  o.Links.Dashboard, Runbook: o.Links.Runbook, At: r.At,
			AlertLabels: o.Alerting.Labels[sev], Annotations: o.Alerting.Annotations[sev],
		}
	}
	var out []condition
	var longestTicketShort time.Duration
	for _, a := range r.Alerts {
		snap := base(a.Name, a.Severity)
		snap.Long, snap.Short = slo.FormatDuration(a.Long), slo.FormatDuration(a.Short)
		snap.Threshold = a.Threshold
		snap.LongBurn, snap.ShortBurn = r.Windows[a.Long].BurnRate, r.Windows[a.Short].BurnRate
		out = append(out, condition{key: o.ID() + "/" + a.Name, name: a.Name, severity: a.Severity, firing: a.Firing, snap: snap, short: a.Short})
		if a.Severity == slo.Ticket {
			longestTicketShort = max(longestTicketShort, a.Short)
		}
	}
	if o.Alerting.BudgetExhausted {
		out = append(out, condition{key: o.ID() + "/" + AlertBudgetExhausted, name: AlertBudgetExhausted, severity: slo.Ticket,
			firing: r.BudgetExhausted, snap: base(AlertBudgetExhausted, slo.Ticket), short: max(longestTicketShort, 6*time.Hour)})
	}
	out = append(out, condition{key: o.ID() + "/" + AlertStale, name: AlertStale, severity: slo.Ticket, stale: true,
		firing: r.Status == slo.StatusStale, snap: base(AlertStale, slo.Ticket)})
	return out
}
