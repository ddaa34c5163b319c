package slo

import (
	"fmt"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/robfig/cron/v3"
)

// compiler turns decoded spec shapes into the domain model, collecting every
// problem with the position of the value that caused it.
type compiler struct {
	d *decoder
	// shared holds what SLOs of one load can share instead of each having
	// a copy; nil shares nothing.
	shared *compileCache
}

// compileCache is what the SLOs of one load share: compiled regular
// expressions (a path prefix, an excluded user agent), default alert
// windows and label sets. At 100,000 SLOs, copies of these were most of their memory. The
// shared values are read-only, like the rest of the compiled model.
type compileCache struct {
	regexps map[string]*regexp.Regexp
	windows map[[2]time.Duration][]AlertWindow
	labels  map[string]map[string]string
}

func newCompileCache() *compileCache {
	return &compileCache{regexps: map[string]*regexp.Regexp{}, windows: map[[2]time.Duration][]AlertWindow{}, labels: map[string]map[string]string{}}
}

func (c *compiler) errorAt(p Pos, format string, args ...any) {
	c.d.errs = append(c.d.errs, &Error{Pos: p, Msg: fmt.Sprintf(format, args...)})
}

func (c *compiler) warnAt(p Pos, format string, args ...any) {
	c.d.errs = append(c.d.errs, &Error{Pos: p, Msg: fmt.Sprintf(format, args...), Warning: true})
}

// failed says whether the value behind ptr was present but could not be
// decoded: its problem is reported already.
func (c *compiler) failed(ptr any) bool { return c.d.failed[ptr] }

// at returns the position of the value behind ptr, or of fallback when the
// value was not written (a missing key is reported at its parent mapping).
func (c *compiler) at(ptr, fallback any) Pos {
	if p, ok := c.d.at[ptr]; ok {
		return p
	}
	return c.d.at[fallback]
}

var (
	nameRE         = regexp.MustCompile(`^[a-z0-9]([a-z0-9_-]{0,61}[a-z0-9])?$`)
	labelNameRE    = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
	loadBalancerRE = regexp.MustCompile(`^app/[A-Za-z0-9-]{1,32}/[0-9a-f]{16}$`)
	hostRE         = regexp.MustCompile(`^(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$`)
	slackChannelRE = regexp.MustCompile(`^(#[a-z0-9][a-z0-9._-]{0,79}|[CGD][A-Z0-9]{8,})$`)
)

// ReservedLabels are the label names kakeibo sets itself on metrics and
// alerts: specs may not set them.
func ReservedLabels() []string { return slices.Clone(reservedLabels) }

// reservedLabels are set by kakeibo itself on metrics and alerts.
var reservedLabels = []string{"service", "slo", "window", "alert", "alertname", "severity", "objective", "status", "source", "budgeting", "le", "quantile"}

var requestTypes = []string{"http", "https", "h2", "grpcs", "ws", "wss"}

const nameRule = "lowercase letters, digits, '-' and '_', starting and ending with a letter or digit, at most 63 characters"

func checkName(s string) error {
	if s == "" {
		return fmt.Errorf("is required")
	}
	if !nameRE.MatchString(s) {
		return fmt.Errorf("%q is not a valid name: use %s", s, nameRule)
	}
	return nil
}

func (c *compiler) service(s *specService) *Service {
	svc, ctx := c.serviceHeader(s)
	if len(s.SLOs) == 0 {
		c.errorAt(c.at(&s.SLOs, s), "%s: slos: at least one SLO is required", ctx)
	}
	for i := range s.SLOs {
		if o := c.objective(svc, &s.SLOs[i]); o != nil {
			svc.SLOs = append(svc.SLOs, o)
		}
	}
	c.serviceTail(ctx, svc, s)
	return svc
}

// serviceHeader compiles what a service says besides its SLOs; ctx names
// it in messages.
func (c *compiler) serviceHeader(s *specService) (svc *Service, ctx string) {
	svc = &Service{
		Name:        s.Service,
		Description: s.Description,
		Pos:         c.at(&s.Service, s),
	}
	if err := checkName(s.Service); err != nil {
		c.errorAt(svc.Pos, "service: %v", err)
	}
	ctx = fmt.Sprintf("service %q", s.Service)
	svc.Labels = c.labels(ctx, s.Labels, nil)
	svc.Links = c.links(ctx, &s.Links, Links{})
	svc.Notify = c.notify(ctx, &s.Notify, s)
	if p := s.Policy; p != nil {
		svc.Policy = &Policy{AppliesTo: []string{"deploy"}}
		if p.FreezeBelow != nil {
			if v := *p.FreezeBelow; v < 0 || v >= 100 {
				c.errorAt(c.at(&p.FreezeBelow, p), "%s: policy.freeze_below: %s: want the percentage of the error budget left under which actions freeze, in [0, 100) (0: once the budget is exhausted)", ctx, formatFloat(v))
			} else {
				svc.Policy.FreezeBelow = v / 100
			}
		}
		if len(p.AppliesTo) > 0 {
			svc.Policy.AppliesTo = nil
			for i, a := range p.AppliesTo {
				if err := checkName(a); err != nil {
					c.errorAt(c.at(&p.AppliesTo[i], p), "%s: policy.applies_to[%d]: %v", ctx, i, err)
					continue
				}
				svc.Policy.AppliesTo = append(svc.Policy.AppliesTo, a)
			}
		}
	}
	return svc, ctx
}

// serviceTail compiles what refers to the service's compiled SLOs.
func (c *compiler) serviceTail(ctx string, svc *Service, s *specService) {
	c.corrections(ctx, svc, s.Corrections)
}

// corrections checks the service's corrections and hands each to the SLOs
// it names (every SLO when it names none).
func (c *compiler) corrections(ctx string, svc *Service, cs []specCorrection) {
	for i := range cs {
		sc := &cs[i]
		where := fmt.Sprintf("%s: corrections[%d]", ctx, i)
		pos := c.at(sc, nil)
		corr := Correction{CountAs: sc.CountAs, Reason: strings.TrimSpace(sc.Reason), Author: strings.TrimSpace(sc.Author)}
		ok := true
		for _, f := range []struct {
			name string
			v    string
			dst  *time.Time
		}{{"from", sc.From, &corr.From}, {"to", sc.To, &corr.To}} {
			t, err := time.Parse(time.RFC3339, f.v)
			if err != nil {
				c.errorAt(pos, "%s.%s: %q: want an RFC 3339 time such as 2026-10-01T14:00:00Z", where, f.name, f.v)
				ok = false
				continue
			}
			*f.dst = t.UTC()
		}
		if ok && !corr.To.After(corr.From) {
			c.errorAt(pos, "%s: to is not after from", where)
			ok = false
		}
		switch corr.CountAs {
		case "":
			corr.CountAs = CorrectionExcluded
		case CorrectionExcluded, CorrectionGood:
		default:
			c.errorAt(pos, "%s.count_as: %q: want excluded (left out of good and total) or good", where, sc.CountAs)
			ok = false
		}
		if corr.Reason == "" || corr.Author == "" {
			c.errorAt(pos, "%s: reason and author are required: a correction changes the numbers, so it says why and who", where)
			ok = false
		}
		var targets []*Objective
		for _, name := range sc.SLOs {
			found := false
			for _, o := range svc.SLOs {
				if o.Name == name {
					targets, found = append(targets, o), true
				}
			}
			if !found {
				c.errorAt(pos, "%s.slos: %q is not an SLO of the service", where, name)
				ok = false
			}
		}
		if len(sc.SLOs) == 0 {
			targets = svc.SLOs
		}
		if !ok {
			continue
		}
		for _, o := range targets {
			if o.SLI.ALB == nil || o.Budgeting.Method == Timeslices {
				c.warnAt(pos, "%s: %s: corrections apply to ALB SLOs with event budgets; this SLO's numbers are not corrected", where, o.Name)
				continue
			}
			overlaps := false
			for _, other := range o.Corrections {
				if corr.From.Before(other.To) && other.From.Before(corr.To) {
					c.errorAt(pos, "%s: overlaps another correction of %s (%s–%s): a minute is corrected once; merge them", where, o.Name,
						other.From.Format(time.RFC3339), other.To.Format(time.RFC3339))
					overlaps = true
				}
			}
			if !overlaps {
				o.Corrections = append(o.Corrections, corr)
			}
		}
	}
}

func (c *compiler) labels(ctx string, ls specLabels, base map[string]string) map[string]string {
	if len(ls) == 0 && base != nil {
		return base // read-only, so an SLO without labels of its own shares its service's
	}
	out := maps.Clone(base)
	if out == nil {
		out = map[string]string{}
	}
	for _, l := range ls {
		switch {
		case !labelNameRE.MatchString(l.Name) || strings.HasPrefix(l.Name, "__"):
			c.errorAt(l.Pos, "%s: labels: %q is not a valid Prometheus label name", ctx, l.Name)
		case slices.Contains(reservedLabels, l.Name):
			c.errorAt(l.Pos, "%s: labels: %q is set by kakeibo; reserved names are %s", ctx, l.Name, strings.Join(reservedLabels, ", "))
		default:
			out[l.Name] = l.Value
		}
	}
	return c.internLabels(out)
}

// internLabels returns the set of labels the load has seen equal to ls, or
// ls: teams' label sets repeat across their SLOs.
func (c *compiler) internLabels(ls map[string]string) map[string]string {
	if c.shared == nil {
		return ls
	}
	keys := slices.Sorted(maps.Keys(ls))
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k)
		b.WriteByte(0)
		b.WriteString(ls[k])
		b.WriteByte(0)
	}
	if seen, ok := c.shared.labels[b.String()]; ok {
		return seen
	}
	c.shared.labels[b.String()] = ls
	return ls
}

func (c *compiler) links(ctx string, l *specLinks, base Links) Links {
	check := func(key string, v *string) string {
		if *v == "" {
			return ""
		}
		u, err := url.Parse(*v)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			c.errorAt(c.at(v, l), "%s: links.%s: %q is not an http(s) URL", ctx, key, *v)
			return ""
		}
		// Slack links are <url|text>: these characters would end the link
		// and let spec text post mentions or foreign links.
		if i := strings.IndexFunc(*v, func(r rune) bool { return r == '|' || r == '<' || r == '>' || unicode.IsSpace(r) }); i >= 0 {
			c.errorAt(c.at(v, l), "%s: links.%s: %q contains %q: percent-encode it (%%7C for |, %%3C for <, %%3E for >, %%20 for a space)", ctx, key, *v, (*v)[i:i+1])
			return ""
		}
		if u.User != nil {
			c.errorAt(c.at(v, l), "%s: links.%s: a link must not carry a user or password", ctx, key)
			return ""
		}
		return *v
	}
	out := Links{Dashboard: check("dashboard", &l.Dashboard), Runbook: check("runbook", &l.Runbook)}
	if out.Dashboard == "" {
		out.Dashboard = base.Dashboard
	}
	if out.Runbook == "" {
		out.Runbook = base.Runbook
	}
	return out
}

func (c *compiler) slackChannel(ctx, key string, v *string, parent any) string {
	if *v == "" {
		c.errorAt(c.at(v, parent), "%s: %s: a Slack channel is required", ctx, key)
		return ""
	}
	if !slackChannelRE.MatchString(*v) {
		c.errorAt(c.at(v, parent), "%s: %s: %q is not a Slack channel: use #name (lowercase) or a channel ID such as C0123456789", ctx, key, *v)
	}
	return *v
}

// envNameRE is a portable environment variable name.
var envNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// mentionRE is a Slack mention kakeibo can render: @here, @channel, a
// user-group ID (S…) or a user ID (U…, W…).
var mentionRE = regexp.MustCompile(`^(@here|@channel|[SUW][A-Z0-9]{6,})$`)

func (c *compiler) route(ctx, key string, r *specRoute) Route {
	var out Route
	if r.Slack != "" || (r.PagerDuty == nil && r.Webhook == nil) {
		out.Slack = c.slackChannel(ctx, key+".slack", &r.Slack, r)
	}
	for i := range r.Mention {
		m := &r.Mention[i]
		if !mentionRE.MatchString(*m) {
			c.errorAt(c.at(m, r), "%s: %s.mention: %q is not a mention kakeibo can post: use @here, @channel, a user-group ID (S0123ABCD) or a user ID (U0123ABCD)", ctx, key, *m)
			continue
		}
		out.Mention = append(out.Mention, *m)
	}
	if len(r.Mention) > 0 && r.Slack == "" {
		c.errorAt(c.at(&r.Mention, r), "%s: %s.mention: mentions need a slack channel in the same route", ctx, key)
	}
	env := func(field string, v *string, parent any, required bool) string {
		switch {
		case *v == "" && required:
			c.errorAt(c.at(v, parent), "%s: %s.%s: the name of an environment variable is required", ctx, key, field)
		case *v != "" && !envNameRE.MatchString(*v):
			c.errorAt(c.at(v, parent), "%s: %s.%s: %q is not an environment variable name (the secret itself never goes in a spec)", ctx, key, field, *v)
		}
		return *v
	}
	if p := r.PagerDuty; p != nil {
		out.PagerDuty = &PagerDutyRoute{RoutingKeyEnv: env("pagerduty.routing_key_env", &p.RoutingKeyEnv, p, true)}
	}
	if w := r.Webhook; w != nil {
		out.Webhook = &WebhookRoute{URLEnv: env("webhook.url_env", &w.URLEnv, w, true), SecretEnv: env("webhook.secret_env", &w.SecretEnv, w, false)}
	}
	return out
}

// reminder compiles a scheduled post (a reminder digest or a monthly
// report) at key.
func (c *compiler) reminder(ctx, key string, r *specReminder) Reminder {
	rem := Reminder{
		Slack:    c.slackChannel(ctx, key+".slack", &r.Slack, r),
		Schedule: r.Schedule,
		Location: c.location(ctx, key+".timezone", &r.Timezone, r),
		Language: r.Language,
	}
	switch sched, err := cronParser.Parse(r.Schedule); {
	case r.Schedule == "":
		c.errorAt(c.at(&r.Schedule, r), "%s: %s.schedule: a cron schedule is required, e.g. \"0 11 * * MON-FRI\"", ctx, key)
	case strings.HasPrefix(r.Schedule, "CRON_TZ=") || strings.HasPrefix(r.Schedule, "TZ="):
		c.errorAt(c.at(&r.Schedule, r), "%s: %s.schedule: set the zone with %s.timezone, not in the schedule", ctx, key, key)
	case err != nil:
		c.errorAt(c.at(&r.Schedule, r), "%s: %s.schedule: bad cron schedule %q: %v", ctx, key, r.Schedule, err)
	case strings.HasPrefix(r.Schedule, "@every"):
		if d, err := time.ParseDuration(strings.TrimSpace(strings.TrimPrefix(r.Schedule, "@every"))); err != nil || d < time.Hour {
			c.errorAt(c.at(&r.Schedule, r), "%s: %s.schedule: %q: a reminder runs at most hourly", ctx, key, r.Schedule)
		}
	default:
		// A schedule that never comes (31 February) is a mistake.
		from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		if next := sched.Next(from); next.IsZero() || next.Sub(from) > 4*366*24*time.Hour {
			c.errorAt(c.at(&r.Schedule, r), "%s: %s.schedule: %q never runs", ctx, key, r.Schedule)
		}
	}
	switch r.Language {
	case "":
		rem.Language = "en"
	case "en", "ja":
	default:
		c.errorAt(c.at(&r.Language, r), "%s: %s.language: %q is not supported: use en or ja", ctx, key, r.Language)
	}
	return rem
}

func (c *compiler) notify(ctx string, n *specNotify, parent any) Notify {
	var out Notify
	if n.Page != nil {
		out.Page = c.route(ctx, "notify.page", n.Page)
	}
	if n.Ticket != nil {
		out.Ticket = c.route(ctx, "notify.ticket", n.Ticket)
	}
	for i := range n.Reminders {
		out.Reminders = append(out.Reminders, c.reminder(ctx, fmt.Sprintf("notify.reminders[%d]", i), &n.Reminders[i]))
	}
	for i := range n.Reports {
		out.Reports = append(out.Reports, c.reminder(ctx, fmt.Sprintf("notify.reports[%d]", i), &n.Reports[i]))
	}
	out.Location, out.Language = time.UTC, "en"
	if len(out.Reminders) > 0 {
		out.Location, out.Language = out.Reminders[0].Location, out.Reminders[0].Language
	}
	if n.Timezone != "" {
		out.Location = c.location(ctx, "notify.timezone", &n.Timezone, n)
	}
	switch n.Language {
	case "":
	case "en", "ja":
		out.Language = n.Language
	default:
		c.errorAt(c.at(&n.Language, n), "%s: notify.language: %q is not supported: use en or ja", ctx, n.Language)
	}
	return out
}

// cronParser reads the five standard fields or a descriptor such as @daily;
// the time zone is a separate key, so CRON_TZ= prefixes are not needed.
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// ParseSchedule parses a reminder's cron schedule (as validated at load).
func ParseSchedule(s string) (cron.Schedule, error) { return cronParser.Parse(s) }

func (c *compiler) location(ctx, key string, v *string, parent any) *time.Location {
	if *v == "" {
		return time.UTC
	}
	loc, err := time.LoadLocation(*v)
	if err != nil || *v == "Local" {
		c.errorAt(c.at(v, parent), "%s: %s: unknown time zone %q: use an IANA name such as Asia/Tokyo or UTC", ctx, key, *v)
		return time.UTC
	}
	return loc
}

func (c *compiler) objective(svc *Service, s *specObjective) *Objective {
	o := &Objective{
		Service:     svc.Name,
		Name:        s.Name,
		Description: s.Description,
		Pos:         c.at(&s.Name, s),
	}
	ctx := fmt.Sprintf("slo %q", s.Name)
	if err := checkName(s.Name); err != nil {
		c.errorAt(o.Pos, "slo: name: %v", err)
		ctx = fmt.Sprintf("service %q slo", svc.Name)
	}
	o.Labels = c.labels(ctx, s.Labels, svc.Labels)
	if s.StaleAfter != 0 {
		o.StaleAfter = time.Duration(s.StaleAfter)
		if o.StaleAfter < time.Minute {
			c.errorAt(c.at(&s.StaleAfter, s), "%s: stale_after must be at least 1m, got %s", ctx, FormatDuration(o.StaleAfter))
		}
	}
	o.Links = c.links(ctx, &s.Links, svc.Links)

	switch {
	case c.failed(&s.Objective):
	case s.Objective == nil:
		c.errorAt(c.at(&s.Objective, s), "%s: objective: is required (a percentage such as 99.9)", ctx)
	case !(*s.Objective > 0 && *s.Objective < 100):
		c.errorAt(c.at(&s.Objective, s), "%s: objective must be in (0, 100), got %s", ctx, formatFloat(*s.Objective))
	case *s.Objective < 1:
		c.errorAt(c.at(&s.Objective, s), "%s: objective %s is a percent: %s%% of events would be enough; for a ratio of %s write %s", ctx,
			formatFloat(*s.Objective), formatFloat(*s.Objective), formatFloat(*s.Objective), formatFloat(*s.Objective*100))
	case *s.Objective > MaxObjectivePercent:
		// Beyond this the error budget is below a millionth: it rounds to
		// nothing (a budget of 0s, rules dividing by 0) and no log can show it.
		c.errorAt(c.at(&s.Objective, s), "%s: objective %s leaves no error budget to measure: use at most %s", ctx, strconv.FormatFloat(*s.Objective, 'g', -1, 64), formatFloat(MaxObjectivePercent))
	default:
		o.Target = percentToRatio(*s.Objective)
	}

	loc := c.location(ctx, "timezone", &s.Timezone, s)
	if c.failed(&s.Window) {
	} else if s.Window == "" {
		c.errorAt(c.at(&s.Window, s), "%s: window: is required (e.g. 30d, 4w, month or week)", ctx)
	} else if w, err := parseWindow(s.Window, loc); err != nil {
		c.errorAt(c.at(&s.Window, s), "%s: window: bad window %q: %v", ctx, s.Window, err)
	} else {
		o.Window = w
		if !w.IsCalendar() && s.Timezone != "" {
			c.warnAt(c.at(&s.Timezone, s), "%s: timezone: has no effect on a rolling window", ctx)
		}
		if !w.IsCalendar() && (w.Length < time.Hour || w.Length > 366*24*time.Hour) {
			c.errorAt(c.at(&s.Window, s), "%s: window: %s is out of range: use between 1h and 366d", ctx, s.Window)
		}
	}

	o.Budgeting = c.budgeting(ctx, s)
	c.sli(ctx, o, s)
	o.Alerting = c.alerting(ctx, o, s)
	if o.SLI.Raw() {
		// A raw ratio has no event counts to compare with a minimum.
		const why = "a raw error_ratio SLI has no event counts to hold a minimum: leave it out, or write good/bad and total queries"
		if s.Alerting.MinEvents != nil && *s.Alerting.MinEvents > 0 {
			c.errorAt(c.at(s.Alerting.MinEvents, &s.Alerting), "%s: alerting.min_events: %s", ctx, why)
		}
		if o.Budgeting.SliceMinEvents > 0 {
			c.errorAt(c.at(s.Budgeting, s), "%s: budgeting.timeslices.min_events: %s", ctx, why)
		}
	}
	return o
}

func (c *compiler) budgeting(ctx string, s *specObjective) Budgeting {
	b := s.Budgeting
	if b == nil {
		return Budgeting{Method: Occurrences}
	}
	switch {
	case b.Occurrences != nil && b.Timeslices != nil:
		c.errorAt(c.at(&b.Timeslices, b), "%s: budgeting: set either occurrences or timeslices, not both", ctx)
	case b.Timeslices != nil:
		ts := b.Timeslices
		out := Budgeting{Method: Timeslices, Slice: time.Duration(ts.Slice), SliceTarget: 1}
		slice := time.Duration(ts.Slice)
		switch {
		case c.failed(&ts.Slice):
		case slice == 0:
			c.errorAt(c.at(&ts.Slice, ts), "%s: budgeting.timeslices.slice: is required (e.g. 1m)", ctx)
		case slice < time.Minute || slice%time.Minute != 0 || slice > 24*time.Hour:
			c.errorAt(c.at(&ts.Slice, ts), "%s: budgeting.timeslices.slice: %s must be whole minutes between 1m and 1d", ctx, ts.Slice)
		case (24*time.Hour)%slice != 0:
			c.errorAt(c.at(&ts.Slice, ts), "%s: budgeting.timeslices.slice: %s must divide a day evenly", ctx, ts.Slice)
		}
		switch {
		case c.failed(&ts.GoodAbove):
		case ts.GoodAbove == nil:
			c.errorAt(c.at(&ts.GoodAbove, ts), "%s: budgeting.timeslices.good_above: is required (the percentage a slice must reach, e.g. 99)", ctx)
		case !(*ts.GoodAbove > 0 && *ts.GoodAbove <= 100):
			c.errorAt(c.at(&ts.GoodAbove, ts), "%s: budgeting.timeslices.good_above must be in (0, 100], got %s", ctx, formatFloat(*ts.GoodAbove))
		case *ts.GoodAbove <= 1:
			c.errorAt(c.at(&ts.GoodAbove, ts), "%s: budgeting.timeslices.good_above %s is a percent: a slice would be good with %s%% of its events good; for a ratio of %s write %s", ctx,
				formatFloat(*ts.GoodAbove), formatFloat(*ts.GoodAbove), formatFloat(*ts.GoodAbove), formatFloat(*ts.GoodAbove*100))
		default:
			out.SliceTarget = percentToRatio(*ts.GoodAbove)
		}
		if ts.MinEvents != nil {
			if *ts.MinEvents < 0 {
				c.errorAt(c.at(&ts.MinEvents, ts), "%s: budgeting.timeslices.min_events must not be negative, got %d", ctx, *ts.MinEvents)
			}
			out.SliceMinEvents = float64(*ts.MinEvents)
		}
		return out
	case b.Occurrences == nil:
		c.errorAt(c.at(b, s), "%s: budgeting: set occurrences or timeslices", ctx)
	}
	return Budgeting{Method: Occurrences}
}

func (c *compiler) sli(ctx string, o *Objective, s *specObjective) {
	sli := &s.SLI
	switch {
	case sli.ALB != nil && sli.Prometheus != nil:
		c.errorAt(c.at(&sli.Prometheus, sli), "%s: sli: set either alb or prometheus, not both", ctx)
	case sli.ALB != nil:
		o.SLI.ALB = c.alb(ctx, sli.ALB)
	case sli.Prometheus != nil:
		o.SLI.Prometheus = c.prometheus(ctx, sli.Prometheus)
		if sli.Prometheus.By != nil && sli.Prometheus.ErrorRatio == "" {
			c.grouping(ctx, o, sli.Prometheus)
		}
	default:
		c.errorAt(c.at(sli, s), "%s: sli: is required: an alb or a prometheus block", ctx)
	}
}

func (c *compiler) alb(ctx string, a *specALB) *ALBSLI {
	out := &ALBSLI{LoadBalancer: a.LoadBalancer, Latency: time.Duration(0)}
	switch {
	case a.LoadBalancer == "":
		c.errorAt(c.at(&a.LoadBalancer, a), "%s: sli.alb.load_balancer: is required (the elb field of the logs, e.g. app/my-alb/50dc6c495c0c9188)", ctx)
	case !loadBalancerRE.MatchString(a.LoadBalancer):
		c.errorAt(c.at(&a.LoadBalancer, a), "%s: sli.alb.load_balancer: %q is not an ALB name as logged: want app/NAME/ID with a 16-digit hex ID", ctx, a.LoadBalancer)
	}
	for i := range a.Hosts {
		h := &a.Hosts[i]
		if !hostRE.MatchString(*h) {
			c.errorAt(c.at(h, a), "%s: sli.alb.hosts[%d]: %q is not a host name: write it lowercase, without scheme, port or path (a leading *. matches subdomains)", ctx, i, *h)
			continue
		}
		out.Hosts = append(out.Hosts, *h)
	}
	out.Paths = c.regexps(ctx, "sli.alb.paths", a.Paths, a)
	out.ExcludePaths = c.regexps(ctx, "sli.alb.exclude_paths", a.ExcludePaths, a)
	out.ExcludeUserAgents = c.regexps(ctx, "sli.alb.exclude_user_agents", a.ExcludeUserAgents, a)
	for i := range a.RequestTypes {
		t := &a.RequestTypes[i]
		if !slices.Contains(requestTypes, *t) {
			c.errorAt(c.at(t, a), "%s: sli.alb.request_types[%d]: unknown type %q: use %s", ctx, i, *t, strings.Join(requestTypes, ", "))
			continue
		}
		out.RequestTypes = append(out.RequestTypes, *t)
	}
	for i := range a.Methods {
		m := &a.Methods[i]
		if !methodRE.MatchString(*m) {
			c.errorAt(c.at(m, a), "%s: sli.alb.methods[%d]: %q is not an HTTP method: write it uppercase, e.g. GET", ctx, i, *m)
			continue
		}
		out.Methods = append(out.Methods, *m)
	}
	if tg := a.TargetGroup; tg != "" {
		if !targetGroupRE.MatchString(tg) {
			c.errorAt(c.at(&a.TargetGroup, a), "%s: sli.alb.target_group: %q is neither a target group name nor an ARN (arn:aws:elasticloadbalancing:REGION:ACCOUNT:targetgroup/NAME/ID)", ctx, tg)
		}
		out.TargetGroup = tg
	}
	out.BadStatus = c.statusRanges(ctx, "sli.alb.bad_status", a.BadStatus, a)
	out.ExcludeStatus = c.statusRanges(ctx, "sli.alb.exclude_status", a.ExcludeStatus, a)
	if len(out.BadStatus) == 0 {
		out.BadStatus = []StatusRange{{500, 599}}
	}
	if a.Latency != nil && (len(a.BadStatus) > 0) {
		c.errorAt(c.at(&a.BadStatus, a), "%s: sli.alb.bad_status: applies to availability SLIs; a latency SLI's good events are the fast ones", ctx)
	}
	if a.Latency != nil {
		switch a.Latency.Measure {
		case "", "target":
		case "total":
			out.LatencyTotal = true
		default:
			c.errorAt(c.at(&a.Latency.Measure, a.Latency), "%s: sli.alb.latency.measure: %q: use target (target_processing_time) or total (request + target + response processing time)", ctx, a.Latency.Measure)
		}
		switch a.Latency.ClientClosed {
		case "", "slow":
		case "exclude":
			out.LatencyClientClosedExcluded = true
		default:
			c.errorAt(c.at(&a.Latency.ClientClosed, a.Latency), "%s: sli.alb.latency.client_closed: %q: use slow (a 460, a client that gave up waiting, is a slow request; the default) or exclude (leave 460s out)", ctx, a.Latency.ClientClosed)
		}
		th := time.Duration(a.Latency.Threshold)
		switch {
		case c.failed(&a.Latency.Threshold):
		case th <= 0:
			c.errorAt(c.at(&a.Latency.Threshold, a.Latency), "%s: sli.alb.latency.threshold: is required and must be positive (e.g. 300ms)", ctx)
		case th%time.Millisecond != 0:
			c.errorAt(c.at(&a.Latency.Threshold, a.Latency), "%s: sli.alb.latency.threshold: ALB logs times in milliseconds; %s is finer", ctx, a.Latency.Threshold)
		}
		out.Latency = th
		if len(out.RequestTypes) > 0 && !slices.ContainsFunc(out.RequestTypes, func(t string) bool { return t != "ws" && t != "wss" }) {
			c.errorAt(c.at(&a.RequestTypes, a), "%s: sli.alb.request_types: a latency SLI never counts ws/wss entries, so it would have no events", ctx)
		}
	}
	return out
}

var (
	methodRE      = regexp.MustCompile(`^[A-Z]{3,10}$`)
	targetGroupRE = regexp.MustCompile(`^([A-Za-z0-9-]{1,32}|arn:aws[a-z-]*:elasticloadbalancing:[a-z0-9-]+:\d{12}:targetgroup/[A-Za-z0-9-]{1,32}/[0-9a-f]{16})$`)
	statusRE      = regexp.MustCompile(`^([1-5])(xx|\d\d)$`)
)

// statusRanges reads status rules: a class ("5xx", "4xx") or a code ("429").
func (c *compiler) statusRanges(ctx, key string, rules []string, parent any) []StatusRange {
	var out []StatusRange
	for i := range rules {
		r := &rules[i]
		m := statusRE.FindStringSubmatch(strings.ToLower(*r))
		if m == nil {
			c.errorAt(c.at(r, parent), "%s: %s[%d]: %q is not a status: use a class such as 5xx or a code such as 429", ctx, key, i, *r)
			continue
		}
		class := int(m[1][0]-'0') * 100
		if m[2] == "xx" {
			out = append(out, StatusRange{class, class + 99})
			continue
		}
		code := class + int(m[2][0]-'0')*10 + int(m[2][1]-'0')
		out = append(out, StatusRange{code, code})
	}
	return out
}

func (c *compiler) regexps(ctx, key string, exprs []string, parent any) []*regexp.Regexp {
	var out []*regexp.Regexp
	for i := range exprs {
		re, err := c.compileRegexp(exprs[i])
		if err != nil {
			c.errorAt(c.at(&exprs[i], parent), "%s: %s[%d]: bad regular expression %q: %v", ctx, key, i, exprs[i], unwrapRegexpError(err))
			continue
		}
		out = append(out, re)
	}
	return out
}

// compileRegexp compiles expr once per load (a *regexp.Regexp is safe to
// share between goroutines).
func (c *compiler) compileRegexp(expr string) (*regexp.Regexp, error) {
	if c.shared == nil {
		return regexp.Compile(expr)
	}
	if re, ok := c.shared.regexps[expr]; ok {
		return re, nil
	}
	re, err := regexp.Compile(expr)
	if err == nil {
		c.shared.regexps[expr] = re
	}
	return re, err
}

func unwrapRegexpError(err error) string {
	return strings.TrimPrefix(err.Error(), "error parsing regexp: ")
}

func (c *compiler) prometheus(ctx string, p *specPrometheus) *PrometheusSLI {
	if p.Histogram != nil {
		if p.Good != "" || p.Bad != "" || p.Total != "" {
			c.errorAt(c.at(&p.Histogram, p), "%s: sli.prometheus.histogram: set either histogram or good/bad/total queries, not both", ctx)
			return &PrometheusSLI{}
		}
		return c.histogram(ctx, p.Histogram)
	}
	if p.ErrorRatio != "" {
		return c.errorRatio(ctx, p)
	}
	out := &PrometheusSLI{Good: p.Good, Bad: p.Bad, Total: p.Total}
	switch {
	case p.Good != "" && p.Bad != "":
		c.errorAt(c.at(&p.Bad, p), "%s: sli.prometheus: set either good or bad, not both", ctx)
	case p.Good == "" && p.Bad == "":
		c.errorAt(c.at(p, p), "%s: sli.prometheus: a good or a bad query is required", ctx)
	}
	if p.Total == "" {
		c.errorAt(c.at(&p.Total, p), "%s: sli.prometheus.total: is required", ctx)
	}
	for _, q := range []struct {
		key string
		v   *string
	}{{"good", &p.Good}, {"bad", &p.Bad}, {"total", &p.Total}} {
		if *q.v == "" {
			continue
		}
		if err := CheckQueryTemplate(*q.v); err != nil {
			c.errorAt(c.at(q.v, p), "%s: sli.prometheus.%s: %v", ctx, q.key, err)
		}
	}
	return out
}

// errorRatio compiles a raw SLI: one query for the bad share of events.
func (c *compiler) errorRatio(ctx string, p *specPrometheus) *PrometheusSLI {
	if p.Good != "" || p.Bad != "" || p.Total != "" {
		c.errorAt(c.at(&p.ErrorRatio, p), "%s: sli.prometheus.error_ratio: set either error_ratio or good/bad and total queries, not both", ctx)
		return &PrometheusSLI{}
	}
	if p.By != nil {
		c.errorAt(c.at(&p.By, p), "%s: sli.prometheus.by: a raw error_ratio cannot be grouped (a ratio cannot be summed by route): write good/bad and total queries", ctx)
		return &PrometheusSLI{}
	}
	if err := CheckQueryTemplate(p.ErrorRatio); err != nil {
		c.errorAt(c.at(&p.ErrorRatio, p), "%s: sli.prometheus.error_ratio: %v", ctx, err)
		return &PrometheusSLI{}
	}
	bad, total := RatioCounts(p.ErrorRatio)
	return &PrometheusSLI{ErrorRatio: p.ErrorRatio, Bad: bad, Total: total}
}

// grouping checks sli.prometheus.by: label names that no kakeibo label
// and no label of the SLO uses, each once, on occurrence budgeting, and
// queries that keep the labels to sum by.
func (c *compiler) grouping(ctx string, o *Objective, p *specPrometheus) {
	at := c.at(&p.By, p)
	key := ctx + ": sli.prometheus.by"
	reserved := append(slices.Clone(reservedLabels), "period_mod3")
	switch {
	case len(p.By) == 0:
		c.errorAt(at, "%s: list the labels to group by, e.g. [route], or leave it out", key)
		return
	case o.Budgeting.Method == Timeslices:
		c.errorAt(at, "%s: grouped SLOs are evaluated by kakeibo rules, which do not budget timeslices; use occurrences, or one SLO per group", key)
		return
	}
	for i, l := range p.By {
		var problem string
		switch {
		case !labelNameRE.MatchString(l) || strings.HasPrefix(l, "__"):
			problem = fmt.Sprintf("%q is not a label name to group by", l)
		case slices.Contains(reserved, l):
			problem = fmt.Sprintf("%q is set by kakeibo; reserved names are %s", l, strings.Join(reserved, ", "))
		case slices.Contains(p.By[:i], l):
			problem = fmt.Sprintf("%q is listed twice", l)
		case o.Labels[l] != "":
			problem = fmt.Sprintf("%q is also a label of the SLO (labels: %s=%s): its alerts would carry it twice", l, l, o.Labels[l])
		}
		if problem != "" {
			c.errorAt(at, "%s: %s", key, problem)
			return
		}
	}
	if c.failed(&p.By) || o.SLI.Prometheus == nil {
		return
	}
	ps := o.SLI.Prometheus
	for _, q := range []struct{ key, tmpl string }{{"good", ps.Good}, {"bad", ps.Bad}, {"total", ps.Total}} {
		if q.tmpl == "" {
			continue
		}
		if _, err := GroupQuery(q.tmpl, p.By); err != nil {
			c.errorAt(at, "%s: the %s query cannot be summed by %s: %v", key, q.key, strings.Join(p.By, ", "), err)
		}
	}
	ps.By = slices.Clone(p.By)
}

var metricNameRE = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)

// histogram turns a latency SLI over a classic Prometheus histogram into
// queries: good = observations in the bucket le="threshold in seconds",
// total = the _count series.
func (c *compiler) histogram(ctx string, h *specHistogram) *PrometheusSLI {
	key := ctx + ": sli.prometheus.histogram"
	metric := strings.TrimSuffix(strings.TrimSuffix(h.Metric, "_bucket"), "_count")
	ok := true
	if !metricNameRE.MatchString(metric) {
		c.errorAt(c.at(&h.Metric, h), "%s.metric: %q is not a metric name", key, h.Metric)
		ok = false
	}
	th := time.Duration(h.Threshold)
	if !c.failed(&h.Threshold) && th <= 0 {
		c.errorAt(c.at(&h.Threshold, h), "%s.threshold: is required and must be positive (e.g. 300ms)", key)
		ok = false
	}
	sel := strings.TrimSpace(h.Selector)
	if sel != "" && !(strings.HasPrefix(sel, "{") && strings.HasSuffix(sel, "}")) {
		c.errorAt(c.at(&h.Selector, h), "%s.selector: %q must be label matchers in braces, e.g. {job=\"checkout\"}", key, h.Selector)
		ok = false
	}
	if !ok || c.failed(&h.Threshold) {
		return &PrometheusSLI{}
	}
	matchers := strings.TrimSuffix(strings.TrimPrefix(sel, "{"), "}")
	le := strconv.FormatFloat(th.Seconds(), 'g', -1, 64)
	join := func(extra string) string {
		if strings.TrimSpace(matchers) == "" {
			return "{" + extra + "}"
		}
		if extra == "" {
			return "{" + matchers + "}"
		}
		return "{" + matchers + "," + extra + "}"
	}
	out := &PrometheusSLI{
		Good:  fmt.Sprintf(`sum(increase(%s_bucket%s[{{.window}}]))`, metric, join(`le="`+le+`"`)),
		Total: fmt.Sprintf(`sum(increase(%s_count%s[{{.window}}]))`, metric, join("")),
	}
	for _, q := range []string{out.Good, out.Total} {
		if err := CheckQueryTemplate(q); err != nil {
			c.errorAt(c.at(&h.Selector, h), "%s.selector: %v", key, err)
			return &PrometheusSLI{}
		}
	}
	return out
}

// fieldReplacer expands {{.service}}, {{.slo}}, {{.objective}} and
// {{.window}} (with or without inner spaces); anything else, such as
// Prometheus' own {{ $labels.route }} in rules, is left as written.
func fieldReplacer(fields map[string]string) *strings.Replacer {
	var pairs []string
	for k, v := range fields {
		pairs = append(pairs, "{{."+k+"}}", v, "{{ ."+k+" }}", v)
	}
	return strings.NewReplacer(pairs...)
}

// alertMetadata checks alert labels and annotations and expands the
// annotations' {{.service}}, {{.slo}}, {{.objective}} and {{.window}}.
func (c *compiler) alertMetadata(ctx string, o *Objective, a *specAlerting, pol *AlertPolicy) {
	fields := map[string]string{"service": o.Service, "slo": o.Name, "objective": formatPercent(o.Target) + "%", "window": o.Window.String()}
	for _, sev := range []Severity{Page, Ticket} {
		sw := a.Page
		if sev == Ticket {
			sw = a.Ticket
		}
		for _, layer := range []struct {
			where               string
			labels, annotations map[string]string
			at                  any
		}{{"alerting", a.Labels, a.Annotations, a}, {"alerting." + string(sev), sw.Labels, sw.Annotations, a}} {
			for k, v := range layer.labels {
				switch {
				case !labelNameRE.MatchString(k):
					c.errorAt(c.at(layer.at, nil), "%s: %s.labels: %q is not a label name", ctx, layer.where, k)
					continue
				case slices.Contains(reservedLabels, k) || o.Labels[k] != "":
					c.errorAt(c.at(layer.at, nil), "%s: %s.labels: %q is set by kakeibo or by the SLO's labels; alert labels add new names", ctx, layer.where, k)
					continue
				}
				if pol.Labels == nil {
					pol.Labels = map[Severity]map[string]string{}
				}
				if pol.Labels[sev] == nil {
					pol.Labels[sev] = map[string]string{}
				}
				pol.Labels[sev][k] = v
			}
			for k, v := range layer.annotations {
				if !labelNameRE.MatchString(k) {
					c.errorAt(c.at(layer.at, nil), "%s: %s.annotations: %q is not an annotation name", ctx, layer.where, k)
					continue
				}
				v = fieldReplacer(fields).Replace(v)
				if pol.Annotations == nil {
					pol.Annotations = map[Severity]map[string]string{}
				}
				if pol.Annotations[sev] == nil {
					pol.Annotations[sev] = map[string]string{}
				}
				pol.Annotations[sev][k] = v
			}
		}
	}
}

func (c *compiler) alerting(ctx string, o *Objective, s *specObjective) AlertPolicy {
	a := &s.Alerting
	pol := AlertPolicy{BudgetExhausted: !a.BudgetExhausted.Disable, Repeat: DefaultRepeat, Cooldown: DefaultCooldown}
	if a.Cooldown != nil {
		pol.Cooldown = time.Duration(*a.Cooldown)
		if pol.Cooldown > 24*time.Hour {
			c.errorAt(c.at(a.Cooldown, a), "%s: alerting.cooldown must be at most 1d, got %s", ctx, FormatDuration(pol.Cooldown))
		}
	}
	if a.MinEvents != nil {
		if *a.MinEvents < 0 {
			c.errorAt(c.at(&a.MinEvents, a), "%s: alerting.min_events must not be negative, got %d", ctx, *a.MinEvents)
		}
		pol.MinEvents = float64(*a.MinEvents)
	}
	if a.Repeat != nil {
		pol.Repeat = maps.Clone(DefaultRepeat)
		if a.Repeat.Page != 0 {
			pol.Repeat[Page] = time.Duration(a.Repeat.Page)
		}
		if a.Repeat.Ticket != 0 {
			pol.Repeat[Ticket] = time.Duration(a.Repeat.Ticket)
		}
	}

	c.alertMetadata(ctx, o, a, &pol)

	windows, defaults := c.defaultWindows(o.Window.Nominal(), o.SLI.MinWindow()), true
	if !a.Windows.Default && a.Windows.set {
		defaults = false
		windows = nil
		names := map[string]bool{}
		for i := range a.Windows.List {
			w := c.alertWindow(ctx, i, &a.Windows.List[i])
			if w.Name == "" {
				continue
			}
			c.checkPairFitsPeriod(ctx, i, &a.Windows.List[i], w, o.Window)
			if names[w.Name] {
				c.errorAt(c.at(&a.Windows.List[i], a), "%s: alerting.windows[%d]: duplicate window name %q", ctx, i, w.Name)
				continue
			}
			names[w.Name] = true
			windows = append(windows, w)
		}
	}
	for _, w := range windows {
		if (w.Severity == Page && a.Page.Disable) || (w.Severity == Ticket && a.Ticket.Disable) {
			continue
		}
		if w.BudgetPercent > 100 && o.Window.Nominal() >= time.Hour {
			c.errorAt(c.at(&a.Windows, s), "%s: alert %s needs %s%% of the error budget spent in %s: it could fire only after the whole %s budget is gone; the window is too short for burn-rate alerts (use a window of a day or more, or alerting.windows whose budget_percent is at most 100)",
				ctx, w.Name, formatFloat(roundSignificant(w.BudgetPercent, 3)), FormatDuration(w.Long), o.Window)
			continue
		}
		pol.Windows = append(pol.Windows, w)
		if o.Target > 0 && o.Window != (Window{}) {
			maxBurn := 1 / o.ErrorBudget()
			if th := w.Threshold(o.Window.Nominal()); th >= maxBurn {
				c.warnAt(c.at(&a.Windows, s), "%s: alert %s can never fire: its threshold %s is at or above the highest possible burn rate %s (a total outage at %s%%)",
					ctx, w.Name, formatFloat(th), formatFloat(maxBurn), formatPercent(o.Target))
			}
		}
	}
	if defaults && len(windows) > 0 && len(pol.Windows) == len(windows) {
		pol.Windows = windows // all of the defaults: share them (read-only, capacity clipped)
	}
	return pol
}

// defaultWindows is DefaultAlertWindowsFor, shared by the SLOs of a load
// that have the same period and shortest window.
func (c *compiler) defaultWindows(period, minWindow time.Duration) []AlertWindow {
	if c.shared == nil {
		return DefaultAlertWindowsFor(period, minWindow)
	}
	key := [2]time.Duration{period, minWindow}
	w, ok := c.shared.windows[key]
	if !ok {
		w = slices.Clip(DefaultAlertWindowsFor(period, minWindow))
		c.shared.windows[key] = w
	}
	return w
}

// checkPairFitsPeriod rejects a custom pair that cannot work for the
// objective's period: a long window longer than the period, a short window
// under the 1-minute evaluation step, or a threshold below burn 1, which
// fires while the SLO is on track. (Burn 1 itself is the Workbook's slowest
// ticket: a pair fires above its threshold, so it means "on pace to
// overspend".)
func (c *compiler) checkPairFitsPeriod(ctx string, i int, s *specAlertWindow, w AlertWindow, win Window) {
	key := fmt.Sprintf("%s: alerting.windows[%d]", ctx, i)
	period := win.Nominal()
	if period <= 0 || w.Long <= 0 || w.Short <= 0 {
		return
	}
	switch {
	case w.Long > period:
		c.errorAt(c.at(&s.Long, s), "%s.long: %s is longer than the %s period: use at most %s (the defaults scale with the period: windows: default)", key, FormatDuration(w.Long), win, FormatDuration(period))
	case w.Short < time.Minute:
		c.errorAt(c.at(&s.Short, s), "%s.short: %s is shorter than the 1m evaluation step: use at least 1m", key, FormatDuration(w.Short))
	case w.BudgetPercent > 0 && roundSignificant(w.Threshold(period), 9) < 1:
		c.errorAt(c.at(&s.BudgetPercent, s), "%s.budget_percent: %s%% of the budget in %s is a burn rate of %s, below 1: it fires while the SLO is on track; use at least %s%% (burn rate = budget_percent/100 × period / long)",
			key, formatFloat(w.BudgetPercent), FormatDuration(w.Long), formatFloat(roundSignificant(w.Threshold(period), 4)), formatFloat(roundSignificant(100*float64(w.Long)/float64(period), 4)))
	}
}

func (c *compiler) alertWindow(ctx string, i int, s *specAlertWindow) AlertWindow {
	key := fmt.Sprintf("%s: alerting.windows[%d]", ctx, i)
	w := AlertWindow{Severity: Severity(s.Severity), Long: time.Duration(s.Long), Short: time.Duration(s.Short)}
	ok := true
	if w.Severity != Page && w.Severity != Ticket {
		c.errorAt(c.at(&s.Severity, s), "%s.severity: want page or ticket, got %q", key, s.Severity)
		ok = false
	}
	switch {
	case c.failed(&s.Long):
		ok = false
	case w.Long <= 0:
		c.errorAt(c.at(&s.Long, s), "%s.long: is required (e.g. 1h)", key)
		ok = false
	}
	switch {
	case c.failed(&s.Short):
		ok = false
	case w.Short <= 0:
		c.errorAt(c.at(&s.Short, s), "%s.short: is required (e.g. 5m)", key)
		ok = false
	case w.Long > 0 && w.Short >= w.Long:
		c.errorAt(c.at(&s.Short, s), "%s.short: %s must be shorter than long (%s)", key, s.Short, s.Long)
		ok = false
	}
	switch {
	case c.failed(&s.BudgetPercent):
		ok = false
	case s.BudgetPercent == nil:
		c.errorAt(c.at(&s.BudgetPercent, s), "%s.budget_percent: is required (the share of the error budget the long window may spend, e.g. 2)", key)
		ok = false
	case !(*s.BudgetPercent > 0 && *s.BudgetPercent <= 100):
		c.errorAt(c.at(&s.BudgetPercent, s), "%s.budget_percent must be in (0, 100], got %s", key, formatFloat(*s.BudgetPercent))
		ok = false
	default:
		w.BudgetPercent = *s.BudgetPercent
	}
	if !ok {
		return AlertWindow{}
	}
	w.Name = s.Name
	if w.Name == "" {
		w.Name = fmt.Sprintf("%s-%s", w.Severity, s.Long)
	} else if err := checkName(w.Name); err != nil {
		c.errorAt(c.at(&s.Name, s), "%s.name: %v", key, err)
		return AlertWindow{}
	}
	return w
}

// percentToRatio turns 99.9 into 0.999 without float noise (99.9/100 is
// 0.9990000000000001), so reports and metrics show what the spec says.
// MaxObjectivePercent is the highest objective kakeibo accepts: an error
// budget of a millionth of the events.
const MaxObjectivePercent = 99.9999

func percentToRatio(p float64) float64 {
	r, _ := strconv.ParseFloat(strconv.FormatFloat(p/100, 'g', 12, 64), 64)
	return r
}

func formatFloat(f float64) string {
	return strconv.FormatFloat(f, 'g', 10, 64)
}

// formatPercent prints a ratio as a percentage without float noise: 0.9995 → 99.95.
func formatPercent(ratio float64) string {
	return strconv.FormatFloat(ratio*100, 'g', 10, 64)
}
