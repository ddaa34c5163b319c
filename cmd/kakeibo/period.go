package main

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/kakeibo-slo/kakeibo/alerting"
	"github.com/kakeibo-slo/kakeibo/server"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/kakeibo-slo/kakeibo/slo"
	"github.com/kakeibo-slo/kakeibo/sources/alb"
)

// runPeriodReport reports each SLO over a calendar month: whether it met
// its objective over the month, the share of the month's budget spent, and
// the spans that spent it, biggest first.
func runPeriodReport(ctx context.Context, env *cmdEnv, f *evalFlags, period, format string) int {
	from, err := time.Parse("2006-01", period)
	if err != nil {
		fmt.Fprintf(env.stderr, "kakeibo report: --period %q: want a month as YYYY-MM\n", period)
		return exitUsage
	}
	to := from.AddDate(0, 1, 0)
	sofar := false
	if now := time.Now().UTC().Truncate(time.Minute); to.After(now) {
		to, sofar = now, true
	}
	f.at, f.from = to.Format(time.RFC3339), from
	ev, code := f.evaluate(ctx, env, "report")
	if code != exitOK {
		return code
	}
	var reps []slo.PeriodReport
	prevSpent := map[string]*float64{}
	for _, r := range ev.results {
		o := r.Objective
		switch {
		case o.SLI.ALB == nil:
			reps = append(reps, slo.PeriodReport{Service: o.Service, SLO: o.Name, From: from, To: to, Objective: o.Target,
				Note: "past periods are reported from kakeibo's minute counts: ALB SLOs only for now"})
			continue
		case o.Budgeting.Method == slo.Timeslices:
			reps = append(reps, slo.PeriodReport{Service: o.Service, SLO: o.Name, From: from, To: to, Objective: o.Target,
				Note: "a timeslice SLO: its budget is in slices, not events; see kakeibo report --at"})
			continue
		case ev.store == nil:
			reps = append(reps, slo.PeriodReport{Service: o.Service, SLO: o.Name, From: from, To: to, Objective: o.Target, Note: "no --alb-logs given"})
			continue
		}
		var ms []slo.MinuteCount
		err := ev.store.Range(o.ID(), from.Unix()/60, to.Unix()/60, func(m int64, c alb.Count) {
			ms = append(ms, slo.MinuteCount{At: time.Unix(m*60, 0).UTC(), Good: float64(c.Good), Total: float64(c.Total)})
		})
		if err != nil {
			fmt.Fprintf(env.stderr, "kakeibo report: %s: %v\n", o.ID(), err)
			return exitFail
		}
		rep := slo.NewPeriodReport(o, from, to, ms, 5)
		reps = append(reps, rep)
		// The month before, when the logs reach back that far: the trend.
		var prev []slo.MinuteCount
		pfrom := from.AddDate(0, -1, 0)
		if err := ev.store.Range(o.ID(), pfrom.Unix()/60, from.Unix()/60, func(m int64, c alb.Count) {
			prev = append(prev, slo.MinuteCount{At: time.Unix(m*60, 0).UTC(), Good: float64(c.Good), Total: float64(c.Total)})
		}); err == nil && len(prev) > 0 {
			p := slo.NewPeriodReport(o, pfrom, from, prev, 0)
			prevSpent[o.ID()] = p.BudgetSpent
		}
	}
	switch format {
	case "html":
		zone := zones(ev.set)
		var months []*alerting.MonthReport
		byService := map[string]*alerting.MonthReport{}
		var loc *time.Location
		for _, p := range reps {
			m := byService[p.Service]
			if m == nil {
				m = &alerting.MonthReport{Service: p.Service, Month: period}
				byService[p.Service], months = m, append(months, m)
				if loc == nil {
					loc = zone[p.Service]
				}
			}
			l := alerting.MonthLine{SLO: p.SLO, Objective: p.Objective, Met: p.Met, SLI: p.SLI, Spent: p.BudgetSpent, Note: p.Note,
				PrevSpent: prevSpent[p.Service+"/"+p.SLO]}
			if sofar {
				l.Note = strings.TrimPrefix(l.Note+"; so far", "; ")
			}
			if len(p.Spenders) > 0 {
				sp := p.Spenders[0]
				z := zone[p.Service]
				if z == nil {
					z = time.UTC
				}
				l.Top = fmt.Sprintf("%s–%s, %s bad events, %s of the budget", sp.From.In(z).Format("Jan 2 15:04"), sp.To.In(z).Format("15:04 MST"),
					slo.TrimFloat(sp.Bad, 0), slo.TrimFloat(sp.Share*100, 1)+"%")
			}
			m.SLOs = append(m.SLOs, l)
		}
		if err := server.WriteMonthHTML(env.stdout, months, loc); err != nil {
			fmt.Fprintf(env.stderr, "kakeibo report: %v\n", err)
			return exitFail
		}
	case "json":
		enc := json.NewEncoder(env.stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(struct {
			Period string             `json:"period"`
			SoFar  bool               `json:"so_far,omitempty"`
			SLOs   []slo.PeriodReport `json:"slos"`
		}{period, sofar, reps})
	default:
		writePeriod(env.stdout, period, sofar, reps, format == "markdown", zones(ev.set))
	}
	if ev.read.incomplete() {
		fmt.Fprintf(env.stderr, "kakeibo report: incomplete: %d log object(s) in range could not be read (exit status %d)\n", len(ev.read.Failed), exitIncomplete)
		return exitIncomplete
	}
	return exitOK
}

// zones maps a service to the zone its people read times in.
func zones(set *slo.Set) map[string]*time.Location {
	out := map[string]*time.Location{}
	for _, s := range set.Services {
		if s.Notify.Location != nil {
			out[s.Name] = s.Notify.Location
		}
	}
	return out
}

func writePeriod(w io.Writer, period string, sofar bool, reps []slo.PeriodReport, markdown bool, zone map[string]*time.Location) {
	title := "SLOs over " + period
	if sofar {
		title += " (so far)"
	}
	pct := func(f *float64, digits int) string {
		if f == nil {
			return "-"
		}
		return slo.TrimFloat(*f*100, digits) + "%"
	}
	met := func(p slo.PeriodReport) string {
		switch {
		case p.Met == nil:
			return "-"
		case *p.Met:
			return "met"
		}
		return "missed"
	}
	if markdown {
		fmt.Fprintf(w, "## %s\n\n| SLO | objective | SLI | met | budget spent | note |\n|---|---|---|---|---|---|\n", title)
		for _, p := range reps {
			fmt.Fprintf(w, "| %s/%s | %s | %s | %s | %s | %s |\n", p.Service, p.SLO, slo.TrimFloat(p.Objective*100, 3)+"%", pct(p.SLI, 3), met(p), pct(p.BudgetSpent, 1), p.Note)
		}
	} else {
		fmt.Fprintln(w, title)
		fmt.Fprintln(w)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "SLO\tOBJECTIVE\tSLI\tMET\tBUDGET SPENT\tNOTE")
		for _, p := range reps {
			fmt.Fprintf(tw, "%s/%s\t%s\t%s\t%s\t%s\t%s\n", p.Service, p.SLO, slo.TrimFloat(p.Objective*100, 3)+"%", pct(p.SLI, 3), met(p), pct(p.BudgetSpent, 1), p.Note)
		}
		_ = tw.Flush()
	}
	for _, p := range reps {
		if len(p.Spenders) == 0 {
			continue
		}
		loc := zone[p.Service]
		if loc == nil {
			loc = time.UTC
		}
		if markdown {
			fmt.Fprintf(w, "\n### %s/%s: what spent the budget\n\n", p.Service, p.SLO)
		} else {
			fmt.Fprintf(w, "\n%s/%s: what spent the budget\n", p.Service, p.SLO)
		}
		for _, s := range p.Spenders {
			prefix := "  "
			if markdown {
				prefix = "- "
			}
			events := "bad events"
			if s.Bad == 1 {
				events = "bad event"
			}
			fmt.Fprintf(w, "%s%s–%s: %s %s, %s of the period's budget\n", prefix,
				s.From.In(loc).Format("2006-01-02 15:04"), s.To.In(loc).Format("15:04 MST"), slo.TrimFloat(s.Bad, 0), events, strings.TrimSpace(pct(&s.Share, 1)))
		}
	}
}
