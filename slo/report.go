package slo

import (
	"math"
	"time"
)

// Report is the JSON shape of an evaluation (`kakeibo report --format json`
// and GET /api/v1/slos). Numbers that do not exist (an SLI without events, a
// budget that is never spent) are null, never NaN.
type Report struct {
	At   time.Time   `json:"at"`
	SLOs []ReportSLO `json:"slos"`
}

// ReportSLO is one objective in a Report.
type ReportSLO struct {
	Service     string            `json:"service"`
	SLO         string            `json:"slo"`
	Description string            `json:"description,omitempty"`
	Objective   float64           `json:"objective"`
	Window      string            `json:"window"`
	Budgeting   string            `json:"budgeting"`
	Source      string            `json:"source"`
	Labels      map[string]string `json:"labels,omitempty"`
	Dashboard   string            `json:"dashboard,omitempty"`
	Runbook     string            `json:"runbook,omitempty"`
	// At is when this SLO's windows end (ALB-backed SLOs end at the
	// ingestion watermark of their load balancer).
	At     time.Time `json:"at"`
	Status Status    `json:"status"`
	Error  string    `json:"error,omitempty"`
	Good   float64   `json:"good"`
	Total  float64   `json:"total"`
	SLI    *float64  `json:"sli"`
	// Slices counts good and bad timeslices (timeslice budgeting only).
	Slices          *ReportSlices           `json:"slices,omitempty"`
	ErrorBudget     ReportBudget            `json:"error_budget"`
	Windows         map[string]ReportWindow `json:"windows"`
	Alerts          []ReportAlert           `json:"alerts"`
	BudgetExhausted bool                    `json:"budget_exhausted"`
	// DataAgeSeconds is how old the newest data was when evaluated (null
	// when not known, as in a one-shot report at a given time).
	DataAgeSeconds *float64 `json:"data_age_seconds,omitempty"`
	// Corrections are those of the SLO's period so far: their minutes are
	// left out of the numbers above (or counted good).
	Corrections []ReportCorrection `json:"corrections,omitempty"`
}

// ReportCorrection is a correction applied to a report's numbers.
type ReportCorrection struct {
	From    time.Time `json:"from"`
	To      time.Time `json:"to"`
	CountAs string    `json:"count_as"`
	Reason  string    `json:"reason"`
	Author  string    `json:"author"`
}

// ReportSlices counts timeslices.
type ReportSlices struct {
	Good int `json:"good"`
	Bad  int `json:"bad"`
}

// ReportBudget is the error budget of the period.
type ReportBudget struct {
	// Remaining is the share left: 1 is untouched, below 0 overspent.
	Remaining *float64 `json:"remaining"`
	// RemainingSeconds is Remaining as seconds of full outage.
	RemainingSeconds float64 `json:"remaining_seconds"`
	// TimeToExhaustionSeconds is how long the budget lasts at the current
	// burn; null when it is not being spent.
	TimeToExhaustionSeconds *float64 `json:"time_to_exhaustion_seconds"`
}

// ReportWindow is the burn over one alert window.
type ReportWindow struct {
	Good     float64  `json:"good"`
	Total    float64  `json:"total"`
	BurnRate *float64 `json:"burn_rate"`
}

// ReportAlert is one alert pair's condition.
type ReportAlert struct {
	Name      string  `json:"name"`
	Severity  string  `json:"severity"`
	Long      string  `json:"long"`
	Short     string  `json:"short"`
	Threshold float64 `json:"threshold"`
	Firing    bool    `json:"firing"`
}

// NewReportSLO turns a Result into its report shape.
func NewReportSLO(r Result) ReportSLO {
	o := r.Objective
	out := ReportSLO{
		Service: o.Service, SLO: o.Name, Description: o.Description,
		Objective: o.Target, Window: o.Window.String(), Budgeting: o.Budgeting.Method.String(),
		Source: o.SLI.Kind(), Labels: o.Labels, Dashboard: o.Links.Dashboard, Runbook: o.Links.Runbook,
		At: r.At.UTC(), Status: r.Status, Good: r.Counts.Good, Total: r.Counts.Total,
		Windows: map[string]ReportWindow{}, Alerts: []ReportAlert{}, BudgetExhausted: r.BudgetExhausted,
	}
	if start, _ := o.Window.Bounds(r.At); !r.At.IsZero() {
		for _, c := range o.Corrections {
			if c.From.Before(r.At) && c.To.After(start) {
				out.Corrections = append(out.Corrections, ReportCorrection{From: c.From, To: c.To, CountAs: c.CountAs, Reason: c.Reason, Author: c.Author})
			}
		}
	}
	if r.Err != nil {
		out.Error = r.Err.Error()
	}
	if r.HasData {
		out.SLI = ptr(round(r.SLI))
		out.ErrorBudget.Remaining = ptr(round(r.BudgetRemaining))
		out.ErrorBudget.RemainingSeconds = r.BudgetRemainingTime.Seconds()
		if r.Exhausts {
			out.ErrorBudget.TimeToExhaustionSeconds = ptr(r.TimeToExhaustion.Seconds())
		}
	}
	if o.Budgeting.Method == Timeslices {
		out.Slices = &ReportSlices{Good: r.GoodSlices, Bad: r.BadSlices}
	}
	for d, w := range r.Windows {
		rw := ReportWindow{Good: w.Good, Total: w.Total}
		if w.HasData && r.Err == nil {
			rw.BurnRate = ptr(round(w.BurnRate))
		}
		out.Windows[FormatDuration(d)] = rw
	}
	for _, a := range r.Alerts {
		out.Alerts = append(out.Alerts, ReportAlert{
			Name: a.Name, Severity: string(a.Severity), Long: FormatDuration(a.Long), Short: FormatDuration(a.Short),
			Threshold: round(a.Threshold), Firing: a.Firing,
		})
	}
	return out
}

func ptr(f float64) *float64 { return &f }

// round keeps 9 significant decimals: enough for any SLO, free of float noise.
func round(f float64) float64 {
	if f == 0 || math.IsInf(f, 0) || math.IsNaN(f) {
		return f
	}
	p := math.Pow(10, 9-math.Ceil(math.Log10(math.Abs(f))))
	return math.Round(f*p) / p
}
