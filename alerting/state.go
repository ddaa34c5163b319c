package alerting

import (
	"fmt"
	"sort"
	"time"

	"github.com/kakeibo-slo/kakeibo/slo"
)

// AlertState is the stored state of one alert of one objective.
type AlertState struct {
	Key      string       `json:"key"`
	Severity slo.Severity `json:"severity"`
	Firing   bool         `json:"firing"`
	Since    time.Time    `json:"since"`
	Incident string       `json:"incident"`
	// LastNotified is when the incident was last announced (firing or repeat).
	LastNotified time.Time `json:"last_notified"`
	// Suppressed: a ticket that fired while a page of the same objective
	// fired is not announced separately (nor resolved).
	Suppressed bool `json:"suppressed,omitempty"`
	// Targets are where the incident's messages go.
	Targets []Target `json:"targets,omitempty"`
	// Route is the Slack channel of states stored before Targets existed.
	Route string `json:"route,omitempty"`
	// Last is the newest snapshot, used when the objective disappears.
	Last *Snapshot `json:"last"`
}

// Routing says where notifications of a service go.
type Routing func(service string) slo.Notify

// condition is one alert's verdict in an evaluation.
type condition struct {
	key      string
	severity slo.Severity
	firing   bool
	snap     *Snapshot
	// stale marks the "no data since" condition, the only one decided
	// from stale data.
	stale bool
}

// Step is the alert state machine. From the stored states and one
// evaluation's results at now, it returns the next states and the
// notifications to send; it is pure, so a restart decides from stored state
// exactly as a running process would.
//
//   - inactive → firing: one firing notification;
//   - firing → firing: a repeat every policy.Repeat[severity];
//   - firing → inactive: one resolve, threaded under the firing message;
//   - a ticket that fires while a page of the same objective fires is not
//     announced (nor repeated, nor resolved) until the page resolves;
//   - no data (or a source error) holds every state as it is: a broken
//     source neither fires nor resolves;
//   - alerts of objectives that are gone (spec removed) resolve.
func Step(states map[string]AlertState, results []slo.Result, routes Routing, now time.Time) (map[string]AlertState, []Notification) {
	next := make(map[string]AlertState, len(states))
	var out []Notification
	seen := map[string]bool{}

	for _, r := range results {
		o := r.Objective
		conds := conditions(r)
		for _, c := range conds {
			seen[c.key] = true
		}
		if r.Status == slo.StatusNoData || r.Err != nil {
			for _, c := range conds {
				if s, ok := states[c.key]; ok {
					next[c.key] = s
				}
			}
			continue
		}
		stale := r.Status == slo.StatusStale
		pageFiring := false
		for _, c := range conds {
			if c.firing && c.severity == slo.Page && !stale {
				pageFiring = true
			}
		}
		notify := routes(o.Service)
		for _, c := range conds {
			if notify.Location != nil {
				c.snap.TimeZone = notify.Location.String()
			}
			if stale && !c.stale {
				// Stale data neither fires nor resolves a burn-rate alert.
				if s, ok := states[c.key]; ok {
					next[c.key] = s
				}
				continue
			}
			prev, had := states[c.key]
			s := prev
			route := notify.Ticket
			if c.severity == slo.Page {
				route = notify.Page
			}
			switch {
			case c.firing && !(had && prev.Firing):
				s = AlertState{Key: c.key, Severity: c.severity, Firing: true, Since: now,
					Incident: fmt.Sprintf("%s@%d", c.key, now.Unix()), Targets: Targets(route, c.severity), Last: c.snap}
				if c.severity == slo.Ticket && pageFiring {
					s.Suppressed = true
				} else {
					s.LastNotified = now
					out = append(out, notifications(s, KindFiring, c.snap, now)...)
				}
			case c.firing:
				s.Last = c.snap
				switch {
				case s.Suppressed && !pageFiring:
					// The page resolved while the ticket still fires: announce it now.
					s.Suppressed, s.LastNotified = false, now
					out = append(out, notifications(s, KindFiring, c.snap, now)...)
				case !c.stale && !s.Suppressed && !(c.severity == slo.Ticket && pageFiring) && now.Sub(s.LastNotified) >= o.Alerting.Repeat[c.severity] && o.Alerting.Repeat[c.severity] > 0:
					s.LastNotified = now
					out = append(out, notifications(s, KindRepeat, c.snap, now)...)
				}
			case had && prev.Firing:
				if !prev.Suppressed {
					out = append(out, notifications(prev, KindResolved, c.snap, now)...)
				}
				continue // inactive: no stored state
			default:
				continue
			}
			next[c.key] = s
		}
	}
	// Objectives that are gone: resolve what was firing.
	keys := make([]string, 0, len(states))
	for k := range states {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		s := states[k]
		if seen[k] {
			continue
		}
		if s.Firing && !s.Suppressed {
			out = append(out, notifications(s, KindResolved, s.Last, now)...)
		}
	}
	return next, out
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

// conditions lists an objective's alert verdicts: one per alert pair, and
// budget exhaustion when the policy has it (severity ticket: a spent
// budget needs work, not a wake-up call; the burn-rate pages cover that).
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
		}
	}
	var out []condition
	for _, a := range r.Alerts {
		snap := base(a.Name, a.Severity)
		snap.Long, snap.Short = slo.FormatDuration(a.Long), slo.FormatDuration(a.Short)
		snap.Threshold = a.Threshold
		snap.LongBurn, snap.ShortBurn = r.Windows[a.Long].BurnRate, r.Windows[a.Short].BurnRate
		out = append(out, condition{key: o.ID() + "/" + a.Name, severity: a.Severity, firing: a.Firing, snap: snap})
	}
	if o.Alerting.BudgetExhausted {
		out = append(out, condition{key: o.ID() + "/" + AlertBudgetExhausted, severity: slo.Ticket,
			firing: r.BudgetExhausted, snap: base(AlertBudgetExhausted, slo.Ticket)})
	}
	out = append(out, condition{key: o.ID() + "/" + AlertStale, severity: slo.Ticket, stale: true,
		firing: r.Status == slo.StatusStale, snap: base(AlertStale, slo.Ticket)})
	return out
}
