package slo

import (
	"fmt"
	"slices"
	"time"
)

// GateDecision says whether an action (a deploy) of a service may go ahead
// under its error budget policy.
type GateDecision struct {
	Service string `json:"service"`
	Action  string `json:"action"`
	// Open is true when the action may go ahead: no policy covers it, no
	// SLO is below the policy's line, or an override is in force.
	Open bool `json:"open"`
	// Frozen lists why the policy stops the action (each SLO below the
	// line), also while an override lets it through.
	Frozen []string `json:"frozen,omitempty"`
	// Notes say what was not judged (no policy, SLOs without data).
	Notes    []string       `json:"notes,omitempty"`
	Override *GateOverride  `json:"override,omitempty"`
	At       time.Time      `json:"at"`
	Policy   *PolicySummary `json:"policy,omitempty"`
}

// PolicySummary is the policy a decision applied.
type PolicySummary struct {
	FreezeBelowPercent float64  `json:"freeze_below_percent"`
	AppliesTo          []string `json:"applies_to"`
}

// GateOverride lets frozen actions of a service go ahead until Until: it
// says who decided it, and why.
type GateOverride struct {
	Service   string    `json:"service"`
	Action    string    `json:"action"`
	CreatedBy string    `json:"created_by"`
	Reason    string    `json:"reason"`
	Until     time.Time `json:"until"`
	CreatedAt time.Time `json:"created_at"`
}

// Active says whether the override is in force at now.
func (o GateOverride) Active(now time.Time) bool { return now.Before(o.Until) }

// Gate decides whether action may go ahead for svc from the newest
// report of its SLOs (rep: every SLO, others are skipped) and the
// overrides in force. It is pure: the service's API, kakeibo gate reading
// logs directly and tests decide alike.
func Gate(svc *Service, rep []ReportSLO, action string, overrides []GateOverride, now time.Time) GateDecision {
	d := GateDecision{Service: svc.Name, Action: action, Open: true, At: now}
	p := svc.Policy
	if p == nil {
		d.Notes = append(d.Notes, "the service has no error budget policy (policy: in its spec): nothing freezes")
		return d
	}
	d.Policy = &PolicySummary{FreezeBelowPercent: p.FreezeBelow * 100, AppliesTo: p.AppliesTo}
	if !slices.Contains(p.AppliesTo, action) {
		d.Notes = append(d.Notes, fmt.Sprintf("the policy does not apply to %q (it applies to %v)", action, p.AppliesTo))
		return d
	}
	for _, r := range rep {
		if r.Service != svc.Name {
			continue
		}
		left := r.ErrorBudget.Remaining
		switch {
		case left == nil:
			d.Notes = append(d.Notes, fmt.Sprintf("%s/%s: no budget figure (%s): not judged", r.Service, r.SLO, r.Status))
		case p.FreezeBelow == 0 && *left <= 0:
			d.Frozen = append(d.Frozen, fmt.Sprintf("%s/%s: error budget exhausted (%s× the budget spent over %s)", r.Service, r.SLO, TrimFloat(1-*left, 1), r.Window))
		case p.FreezeBelow > 0 && *left < p.FreezeBelow:
			d.Frozen = append(d.Frozen, fmt.Sprintf("%s/%s: %s%% of the error budget left over %s, below the policy's %s%%", r.Service, r.SLO, TrimFloat(*left*100, 1), r.Window, TrimFloat(p.FreezeBelow*100, 1)))
		}
	}
	if len(d.Frozen) == 0 {
		return d
	}
	d.Open = false
	for _, o := range overrides {
		if o.Service == svc.Name && (o.Action == "" || o.Action == action) && o.Active(now) {
			d.Open, d.Override = true, &o
			break
		}
	}
	return d
}
