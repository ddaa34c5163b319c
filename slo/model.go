package slo

import (
	"fmt"
	"math"
	"regexp"
	"time"
)

// Service is one team's service and its SLOs, as loaded from a spec.
type Service struct {
	Name        string
	Description string
	// Labels are copied onto every metric and alert of the service's SLOs.
	Labels map[string]string
	Links  Links
	Notify Notify
	// Policy, when set, is the service's error budget policy (see Gate).
	Policy *Policy
	SLOs   []*Objective
	// Pos is where the service is declared.
	Pos Pos
}

// Policy is an error budget policy: the actions (deploy, ...) that stop
// while an SLO of the service has less than FreezeBelow of its error
// budget left (0: once it is exhausted).
type Policy struct {
	FreezeBelow float64
	AppliesTo   []string
}

// Links point people at more detail.
type Links struct {
	Dashboard string
	Runbook   string
}

// Notify says where notifications of each severity go.
type Notify struct {
	Page      Route
	Ticket    Route
	Reminders []Reminder
	// Reports post the previous calendar month's report (each SLO met or
	// not, budget spent, top spenders, the trend) on their schedule.
	Reports []Reminder
	// Location is the time zone alert messages state times in: notify.timezone,
	// else the first reminder's, else UTC.
	Location *time.Location
	// Language of alert messages: notify.language, else the first
	// reminder's, else "en".
	Language string
}

// Route is where notifications of one severity go; an empty Route sends
// nothing. Several destinations may be set: each gets every notification.
type Route struct {
	// Slack is a channel (#name or ID).
	Slack string
	// Mention is who a Slack page notifies: "@here", "@channel", user-group
	// IDs (S…) or user IDs (U…, W…).
	Mention []string
	// PagerDuty sends Events API v2 triggers and resolves.
	PagerDuty *PagerDutyRoute
	// Webhook posts JSON to a URL, signed with HMAC-SHA256.
	Webhook *WebhookRoute
}

// IsZero reports a route with no destination.
func (r Route) IsZero() bool { return r.Slack == "" && r.PagerDuty == nil && r.Webhook == nil }

// PagerDutyRoute names the environment variable holding the routing key
// (integration key) of a PagerDuty service; the key itself is a secret and
// never appears in a spec.
type PagerDutyRoute struct {
	RoutingKeyEnv string
}

// WebhookRoute names the environment variables holding a webhook's URL and
// its HMAC secret (optional): URLs of chat webhooks are secrets themselves.
type WebhookRoute struct {
	URLEnv    string
	SecretEnv string
}

// Reminder is a scheduled digest of a service's SLOs posted to a channel.
type Reminder struct {
	Slack string
	// Schedule is a standard five-field cron expression (or @daily, ...),
	// evaluated in Location.
	Schedule string
	Location *time.Location
	// Language of the digest: "en" or "ja".
	Language string
}

// Objective is one SLO: a target for an SLI over a window. It is
// read-only once loaded: SLOs of one load share equal label sets, regular
// expressions and default alert windows (copy a map before changing it,
// as GroupInstance does).
type Objective struct {
	// Service is the name of the service the SLO belongs to.
	Service     string
	Name        string
	Description string
	// Target is the objective as a ratio in (0, 1), e.g. 0.9995.
	Target    float64
	Window    Window
	Budgeting Budgeting
	SLI       SLI
	Alerting  AlertPolicy
	// Labels are the service's labels with the SLO's own on top.
	Labels map[string]string
	// Links are the SLO's links, or the service's where the SLO has none.
	Links Links
	// StaleAfter is how old the newest data may be before the SLO is stale;
	// zero means the source's default (DefaultStaleAfter for ALB logs,
	// DefaultPrometheusStaleAfter for Prometheus).
	StaleAfter time.Duration
	// Corrections take time ranges out of the SLI (ALB SLOs).
	Corrections []Correction
	// Group is set on one group of a grouped SLO (see GroupInstance): its
	// labels' values, e.g. route="/checkout".
	Group map[string]string
	Pos   Pos
}

// Correction is a time range whose events an SLI leaves out (CountAs
// "excluded") or counts as good ("good"): planned maintenance, a known bad
// source. It says who decided it and why.
type Correction struct {
	From, To       time.Time
	CountAs        string
	Reason, Author string
}

// Correction actions.
const (
	CorrectionExcluded = "excluded"
	CorrectionGood     = "good"
)

// DefaultStaleAfter is how old ALB data may get before an SLO is stale.
// ALB writes a file per node every 5 minutes and delivers it within about
// 5 more; the watermark lies one interval behind the newest file, and a
// node that stops delivering is waited for two intervals before it is
// given up: up to about 21 minutes of age while logs are healthy, so 25
// minutes means log delivery has really stopped.
const DefaultStaleAfter = 25 * time.Minute

// DefaultPrometheusStaleAfter is how old the newest sample of a Prometheus
// SLO's total series may get: Prometheus itself treats a series as gone
// after 5 minutes without a sample (its lookback), longer than any usual
// scrape and evaluation interval.
const DefaultPrometheusStaleAfter = 5 * time.Minute

// ID is "service/slo", unique across loaded specs.
func (o *Objective) ID() string { return o.Service + "/" + o.Name }

// ErrorBudget is the fraction of events allowed to be bad: 1 - Target.
func (o *Objective) ErrorBudget() float64 { return 1 - o.Target }

// BudgetingMethod says how events become the SLI.
type BudgetingMethod int

const (
	// Occurrences: SLI = good events / total events.
	Occurrences BudgetingMethod = iota
	// Timeslices: the window is cut into slices; a slice is good when its
	// own ratio meets SliceTarget; SLI = good slices / slices with events.
	Timeslices
)

func (m BudgetingMethod) String() string {
	if m == Timeslices {
		return "timeslices"
	}
	return "occurrences"
}

// Budgeting is how an objective counts its budget.
type Budgeting struct {
	Method BudgetingMethod
	// Slice is the length of a timeslice (Timeslices only).
	Slice time.Duration
	// SliceTarget is the ratio a slice must reach to be good, in (0, 1].
	SliceTarget float64
	// SliceMinEvents is the fewest events a slice needs to count: a slice
	// with fewer is neither good nor bad (one error among a handful of
	// requests at 3 a.m. is not a bad minute).
	SliceMinEvents float64
}

// SLI is where good and total events come from; exactly one field is set.
type SLI struct {
	ALB        *ALBSLI
	Prometheus *PrometheusSLI
}

// Kind names the source of the SLI: "alb" or "prometheus".
func (s SLI) Kind() string {
	if s.ALB != nil {
		return "alb"
	}
	return "prometheus"
}

// PrometheusMinWindow is the shortest default alert window on Prometheus:
// a rate over it spans several scrapes even at a 1-minute interval.
const PrometheusMinWindow = 5 * time.Minute

// MinWindow is the shortest window the SLI's source measures well, the floor
// for default alert windows: 1m for ALB logs (minute buckets),
// PrometheusMinWindow for Prometheus.
func (s SLI) MinWindow() time.Duration {
	if s.ALB != nil {
		return time.Minute
	}
	return PrometheusMinWindow
}

// ALBSLI selects requests from an Application Load Balancer's access logs.
type ALBSLI struct {
	// LoadBalancer is the `elb` field, e.g. app/mart-api/50dc6c495c0c9188.
	LoadBalancer string
	// Hosts limits the SLI to these request hosts (exact, case-insensitive;
	// a leading "*." matches any subdomain). Empty means every host.
	Hosts []string
	// Paths, when not empty, includes only requests whose path matches one.
	Paths []*regexp.Regexp
	// ExcludePaths drops requests whose path matches any.
	ExcludePaths []*regexp.Regexp
	// ExcludeUserAgents drops requests whose user agent matches any.
	ExcludeUserAgents []*regexp.Regexp
	// RequestTypes limits the SLI to these entry types (http, https, h2,
	// grpcs, ws, wss). Empty means all; latency SLIs never count ws/wss.
	RequestTypes []string
	// Methods, when not empty, limits the SLI to these request methods.
	Methods []string
	// TargetGroup, when set, limits the SLI to one target group, by name
	// or by ARN (the target_group_arn field).
	TargetGroup string
	// BadStatus are the elb_status_code ranges that make an availability
	// entry bad (default 5xx); ExcludeStatus ranges are out of scope.
	BadStatus, ExcludeStatus []StatusRange
	// Latency, when set, makes this a latency SLI: good when the measured
	// time is <= Latency. Otherwise it is an availability SLI.
	Latency time.Duration
	// LatencyTotal measures request + target + response processing time
	// instead of target_processing_time alone.
	LatencyTotal bool
	// LatencyClientClosedExcluded leaves 460s (the client closed the
	// connection before the response) out of latency scope; by default they
	// are slow: the client waited and gave up, usually on the slowest
	// requests.
	LatencyClientClosedExcluded bool
}

// StatusRange is an inclusive range of HTTP status codes: 5xx is
// {500, 599}, 429 is {429, 429}.
type StatusRange struct{ From, To int }

// Contains says whether a status is in the range.
func (r StatusRange) Contains(code int) bool { return code >= r.From && code <= r.To }

// PrometheusSLI reads events from PromQL queries. Each query is a
// text/template with {{.window}} standing for the range (e.g. 5m) and yields
// the count of events over that range. Exactly one of Good and Bad is set.
type PrometheusSLI struct {
	// ErrorRatio, when set, is a raw SLI: a query for the ratio of bad
	// events over {{.window}} (Sloth's error_ratio_query). It has no event
	// counts: Bad and Total are derived from it so that every consumer
	// reads it as one event per window whose bad share is the ratio
	// (see RatioCounts).
	ErrorRatio string
	Good       string
	Bad        string
	Total      string
	// By, when set, makes the SLO one SLO per combination of these labels'
	// values (per route, say): kakeibo rules records every series and
	// alert per group; serve and report evaluate each group found in
	// Prometheus as an SLO of its own (Objective.GroupInstance).
	By []string
}

// Raw says whether the SLI is a raw error ratio (sli.prometheus.error_ratio).
func (s SLI) Raw() bool { return s.Prometheus != nil && s.Prometheus.ErrorRatio != "" }

// RatioCounts derives the bad and total query templates of a raw error
// ratio: bad is the ratio, total is 1, both only where the ratio is a
// number (no traffic makes it NaN, which is no data rather than all bad).
func RatioCounts(errorRatio string) (bad, total string) {
	r := "(" + errorRatio + ") >= 0"
	return "(" + r + ")", "(" + r + ") * 0 + 1"
}

// Grouped says whether the SLO is one SLO per group of series (sli.prometheus.by).
func (s SLI) Grouped() bool { return s.Prometheus != nil && len(s.Prometheus.By) > 0 }

// Severity of an alert.
type Severity string

const (
	Page   Severity = "page"
	Ticket Severity = "ticket"
)

// AlertPolicy is the multi-window multi-burn-rate policy of an objective.
type AlertPolicy struct {
	// Windows are the burn-rate alert pairs, default the SRE Workbook's four.
	Windows []AlertWindow
	// MinEvents is the fewest events the long window must hold for a burn
	// alert to fire; it keeps low-traffic hours from paging on one error.
	MinEvents float64
	// BudgetExhausted turns on the alert for a spent error budget.
	BudgetExhausted bool
	// Repeat is how often a still-firing alert is notified again, by severity.
	Repeat map[Severity]time.Duration
	// Cooldown is how long after a resolve a re-fire reopens the same
	// incident (one message, updated) instead of starting a new one.
	Cooldown time.Duration
	// Labels and Annotations are added to the alerts of each severity
	// (the SLO's, with the severity's own on top), in rules, Alertmanager
	// and notification payloads; annotations are expanded already.
	Labels, Annotations map[Severity]map[string]string
}

// DefaultCooldown is the default AlertPolicy.Cooldown.
const DefaultCooldown = 30 * time.Minute

// AlertWindow is one alert pair: it fires when the burn rate over both Long
// and Short exceeds the threshold that spends BudgetPercent of the error
// budget in Long.
type AlertWindow struct {
	// Name is e.g. "page-1h"; unique within the objective.
	Name          string
	Severity      Severity
	Long, Short   time.Duration
	BudgetPercent float64
}

// Threshold is the burn rate that spends BudgetPercent of the budget of a
// period in the long window: budget% × period / long (14.4 for 2% in 1h of 30d).
func (w AlertWindow) Threshold(period time.Duration) float64 {
	return w.BudgetPercent / 100 * float64(period) / float64(w.Long)
}

// DefaultAlertWindows are the SRE Workbook's four pairs (chapter 5, "Alerting
// on SLOs"), given as budget spent so they scale to any period.
func DefaultAlertWindows() []AlertWindow {
	return []AlertWindow{
		{Name: "page-1h", Severity: Page, Long: time.Hour, Short: 5 * time.Minute, BudgetPercent: 2},
		{Name: "page-6h", Severity: Page, Long: 6 * time.Hour, Short: 30 * time.Minute, BudgetPercent: 5},
		{Name: "ticket-1d", Severity: Ticket, Long: 24 * time.Hour, Short: 2 * time.Hour, BudgetPercent: 10},
		{Name: "ticket-3d", Severity: Ticket, Long: 72 * time.Hour, Short: 6 * time.Hour, BudgetPercent: 10},
	}
}

// DefaultAlertWindowsFor returns the default pairs for a period (its nominal
// length). Every period keeps the Workbook's burn rates, 14.4, 6, 3 and 1
// (2%, 5%, 10% and 10% of a 30-day budget in 1h, 6h, 1d and 3d), so no
// default pair fires while the SLO is on track. For 28 to 30 days the
// windows are the Workbook's; for any other period they scale with it (long
// and short in proportion to period / 30d, rounded to the minute; short at
// least minShort, long at least 5m and twice short): a 7-day SLO on ALB logs
// pages at 14.4× over 14m and 1m, not at 3.36× over 1h and 5m. minShort is
// the shortest window the source measures well: 1m for ALB logs (minute
// buckets), 5m for Prometheus (a rate needs several scrapes). A scaled pair
// is named after its long window; a pair that scales to the same windows as
// an earlier one of its severity is dropped.
func DefaultAlertWindowsFor(period, minShort time.Duration) []AlertWindow {
	base := DefaultAlertWindows()
	const ref = 30 * 24 * time.Hour
	if period <= 0 || period == ref {
		return base
	}
	keep := period >= 28*24*time.Hour && period <= ref
	scale := func(d time.Duration) time.Duration {
		return time.Duration(float64(d) * float64(period) / float64(ref)).Round(time.Minute)
	}
	var out []AlertWindow
	seen := map[string]bool{}
	for _, w := range base {
		burn := w.Threshold(ref)
		long, short, name := w.Long, w.Short, w.Name
		if !keep {
			short = max(scale(w.Short), minShort, time.Minute)
			long = max(scale(w.Long), 5*time.Minute, 2*short)
			name = string(w.Severity) + "-" + FormatDuration(long)
		}
		key := fmt.Sprintf("%s %d %d", w.Severity, long, short)
		if seen[key] {
			continue
		}
		seen[key] = true
		out = append(out, AlertWindow{
			Name: name, Severity: w.Severity, Long: long, Short: short,
			// The share of the budget the burn rate spends in the long window.
			BudgetPercent: roundSignificant(burn*float64(long)/float64(period)*100, 12),
		})
	}
	return out
}

// roundSignificant rounds x to n significant digits, so that thresholds
// computed back from a derived budget share print as 14.4, not 14.399999999999999.
func roundSignificant(x float64, n int) float64 {
	if x == 0 {
		return 0
	}
	f := math.Pow(10, float64(n)-math.Ceil(math.Log10(math.Abs(x))))
	return math.Round(x*f) / f
}

// DefaultRepeat is how often a firing alert is notified again by default.
var DefaultRepeat = map[Severity]time.Duration{Page: 4 * time.Hour, Ticket: 24 * time.Hour}
