package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/kakeibo-slo/kakeibo/slo"
)

func runValidate(_ context.Context, env *cmdEnv, args []string) int {
	var format string
	var verbose, strict bool
	f := newFlagSet("validate", "[flags] PATH...",
		"Validate SLO specs (files or directory trees of *.yaml / *.yml, kakeibo specs\n"+
			"and OpenSLO v1). Every problem in every file is reported as path:line:col.\n"+
			"Exit status: 0 valid, 1 invalid specs (or warnings with --strict), 2 usage error.")
	f.stringVar(&format, "format", "KAKEIBO_FORMAT", "text", "output `format`: text, github (workflow annotations) or json")
	f.boolVar(&verbose, "v", "KAKEIBO_VERBOSE", false, "print what each SLO means: objective, period, budget as time, alert thresholds")
	f.boolVar(&strict, "strict", "KAKEIBO_STRICT", false, "treat warnings as errors (for CI)")
	if err := f.parse(args, env); err != nil {
		return exitFor(err)
	}
	paths := f.args()
	if len(paths) == 0 {
		if p := env.getenv("KAKEIBO_SPECS"); p != "" {
			paths = []string{p}
		}
	}
	if len(paths) == 0 {
		fmt.Fprintln(env.stderr, "kakeibo validate: give at least one spec file or directory (or set KAKEIBO_SPECS)")
		return exitUsage
	}
	if format != "text" && format != "github" && format != "json" {
		fmt.Fprintf(env.stderr, "kakeibo validate: --format %q: want text, github or json\n", format)
		return exitUsage
	}

	set, err := slo.Load(paths...)
	var specErrs slo.Errors
	if err != nil && !errors.As(err, &specErrs) {
		fmt.Fprintf(env.stderr, "kakeibo validate: %v\n", err)
		return exitUsage
	}
	if chans := webhookChannels(env, set); len(chans) > 0 {
		set.Warnings = append(set.Warnings, &slo.Error{Warning: true, Pos: slo.Pos{File: paths[0]}, Msg: fmt.Sprintf(
			"SLACK_WEBHOOK_URL without SLACK_BOT_TOKEN: every message goes to the webhook's one channel, not to the %d channels the specs name (%s); use a bot token to honour routes",
			len(chans), strings.Join(chans, ", "))})
	}
	problems := append(append(slo.Errors{}, specErrs...), set.Warnings...)

	switch format {
	case "github":
		writeGitHub(env.stdout, problems)
	case "json":
		writeValidateJSON(env.stdout, set, problems)
	default:
		for _, p := range problems {
			fmt.Fprintln(env.stdout, p.Error())
		}
		if verbose && len(specErrs) == 0 {
			explain(env.stdout, set)
		}
	}
	if len(specErrs) > 0 {
		fmt.Fprintf(env.stderr, "kakeibo validate: %s in %s\n", plural(len(specErrs), "error"), plural(filesOf(specErrs), "file"))
		return exitFail
	}
	if strict && len(set.Warnings) > 0 {
		fmt.Fprintf(env.stderr, "kakeibo validate: %s (--strict makes them errors)\n", plural(len(set.Warnings), "warning"))
		return exitFail
	}
	if format == "text" {
		fmt.Fprintf(env.stderr, "kakeibo validate: ok: %s, %s\n", plural(len(set.Services), "service"), plural(len(set.Objectives()), "SLO"))
	}
	return exitOK
}

// writeGitHub prints workflow commands that GitHub Actions turns into
// annotations on the lines of a pull request.
func writeGitHub(w io.Writer, problems slo.Errors) {
	for _, p := range problems {
		level := "error"
		if p.Warning {
			level = "warning"
		}
		props := "file=" + ghProperty(p.File)
		if p.Line > 0 {
			props += fmt.Sprintf(",line=%d", p.Line)
		}
		if p.Col > 0 {
			props += fmt.Sprintf(",col=%d", p.Col)
		}
		fmt.Fprintf(w, "::%s %s::%s\n", level, props, ghData(p.Msg))
	}
}

func ghData(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

func ghProperty(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C").Replace(s)
}

type jsonProblem struct {
	File     string `json:"file"`
	Line     int    `json:"line"`
	Col      int    `json:"col"`
	Severity string `json:"severity"`
	Message  string `json:"message"`
}

type jsonAlert struct {
	Name          string  `json:"name"`
	Severity      string  `json:"severity"`
	Long          string  `json:"long"`
	Short         string  `json:"short"`
	BudgetPercent float64 `json:"budget_percent"`
	Threshold     float64 `json:"threshold"`
}

type jsonObjective struct {
	Service       string      `json:"service"`
	SLO           string      `json:"slo"`
	Objective     float64     `json:"objective"`
	Window        string      `json:"window"`
	Budgeting     string      `json:"budgeting"`
	Source        string      `json:"source"`
	BudgetSeconds float64     `json:"error_budget_seconds"`
	Alerts        []jsonAlert `json:"alerts"`
}

func writeValidateJSON(w io.Writer, set *slo.Set, problems slo.Errors) {
	out := struct {
		Valid    bool            `json:"valid"`
		Problems []jsonProblem   `json:"problems"`
		SLOs     []jsonObjective `json:"slos"`
	}{Valid: true, Problems: []jsonProblem{}, SLOs: []jsonObjective{}}
	for _, p := range problems {
		sev := "error"
		if p.Warning {
			sev = "warning"
		} else {
			out.Valid = false
		}
		out.Problems = append(out.Problems, jsonProblem{File: p.File, Line: p.Line, Col: p.Col, Severity: sev, Message: p.Msg})
	}
	if out.Valid {
		for _, o := range set.Objectives() {
			period := o.Window.Nominal()
			jo := jsonObjective{
				Service: o.Service, SLO: o.Name, Objective: o.Target, Window: o.Window.String(),
				Budgeting: o.Budgeting.Method.String(), Source: o.SLI.Kind(),
				BudgetSeconds: slo.BudgetTime(1, o.Target, period).Seconds(),
				Alerts:        []jsonAlert{},
			}
			for _, a := range o.Alerting.Windows {
				jo.Alerts = append(jo.Alerts, jsonAlert{
					Name: a.Name, Severity: string(a.Severity), Long: shortDuration(a.Long), Short: shortDuration(a.Short),
					BudgetPercent: a.BudgetPercent, Threshold: roundTo(a.Threshold(period), 6),
				})
			}
			out.SLOs = append(out.SLOs, jo)
		}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		fmt.Fprintf(os.Stderr, "kakeibo validate: write the JSON report: %v\n", err)
	}
}

// explain prints what each SLO means, for a reviewer of a pull request.
func explain(w io.Writer, set *slo.Set) {
	for _, svc := range set.Services {
		for _, o := range svc.SLOs {
			fmt.Fprintf(w, "\n%s  (%s)\n", o.ID(), o.Pos)
			fmt.Fprintf(w, "  objective  %s%% over %s\n", percent(o.Target), describeWindow(o.Window))
			if len(o.Labels) > 0 {
				var kv []string
				for _, k := range slices.Sorted(maps.Keys(o.Labels)) {
					kv = append(kv, fmt.Sprintf("%s=%q", k, o.Labels[k]))
				}
				fmt.Fprintf(w, "  labels     %s\n", strings.Join(kv, " "))
			}
			fmt.Fprintf(w, "  budget     %s%% of %s: %s\n", percent(1-o.Target), budgetUnit(o), describeBudget(o))
			fmt.Fprintf(w, "  source     %s\n", describeSource(o))
			if len(o.Alerting.Windows) == 0 {
				fmt.Fprintln(w, "  alerts     no burn-rate alerts")
			} else {
				fmt.Fprintln(w, "  alerts     fire when the burn rate exceeds the threshold over both windows:")
				tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
				for _, a := range o.Alerting.Windows {
					fmt.Fprintf(tw, "    %s\t%s\tburn > %s\tover %s and %s\t(%s%% of the budget in %s)\n",
						a.Name, a.Severity, trimFloat(a.Threshold(o.Window.Nominal()), 4), shortDuration(a.Long), shortDuration(a.Short),
						trimFloat(a.BudgetPercent, 4), shortDuration(a.Long))
				}
				tw.Flush()
			}
			if o.Alerting.MinEvents > 0 {
				fmt.Fprintf(w, "             only when the long window holds at least %s events\n", trimFloat(o.Alerting.MinEvents, 0))
			}
			if o.Alerting.BudgetExhausted {
				fmt.Fprintln(w, "             and when the budget is spent (budget exhausted)")
			}
		}
	}
}

func budgetUnit(o *slo.Objective) string {
	if o.Budgeting.Method == slo.Timeslices {
		return shortDuration(o.Budgeting.Slice) + " slices"
	}
	return "requests"
}

func describeWindow(w slo.Window) string {
	if w.IsCalendar() && !w.Anchor.IsZero() {
		a := w.Anchor.In(w.Location)
		if w.Calendar == slo.Week {
			return fmt.Sprintf("each week from %s %s (%s)", a.Weekday(), a.Format("15:04"), w.Location)
		}
		return fmt.Sprintf("each month from day %d %s (%s)", a.Day(), a.Format("15:04"), w.Location)
	}
	if w.IsCalendar() {
		return fmt.Sprintf("each calendar %s (%s)", w.Calendar, w.Location)
	}
	return "a rolling " + shortDuration(w.Length)
}

func describeBudget(o *slo.Objective) string {
	if o.Window.Calendar == slo.Month {
		short := slo.BudgetTime(1, o.Target, 28*24*time.Hour)
		long := slo.BudgetTime(1, o.Target, 31*24*time.Hour)
		return fmt.Sprintf("%s (28 days) to %s (31 days) of full outage a month", humanDuration(short), humanDuration(long))
	}
	return fmt.Sprintf("%s of full outage per %s", humanDuration(slo.BudgetTime(1, o.Target, o.Window.Nominal())), shortDuration(o.Window.Nominal()))
}

func describeSource(o *slo.Objective) string {
	var s string
	switch {
	case o.SLI.ALB != nil && o.SLI.ALB.Latency > 0:
		s = fmt.Sprintf("ALB %s, latency: good when target_processing_time <= %s", o.SLI.ALB.LoadBalancer, o.SLI.ALB.Latency)
	case o.SLI.ALB != nil:
		s = fmt.Sprintf("ALB %s, availability: bad when elb_status_code is 5xx", o.SLI.ALB.LoadBalancer)
	default:
		p := o.SLI.Prometheus
		if p.Good != "" {
			s = fmt.Sprintf("Prometheus, good: %s\n             total: %s", p.Good, p.Total)
		} else {
			s = fmt.Sprintf("Prometheus, bad: %s\n             total: %s", p.Bad, p.Total)
		}
		if len(p.By) > 0 {
			s += fmt.Sprintf("\n             one SLO per %s, each with its own budget and alerts (kakeibo rules; serve and report skip it)", strings.Join(p.By, ", "))
		}
	}
	if o.Budgeting.Method == slo.Timeslices {
		s += fmt.Sprintf("\n             a %s slice is good when at least %s%% of its events are good", shortDuration(o.Budgeting.Slice), percent(o.Budgeting.SliceTarget))
		if o.Budgeting.SliceMinEvents > 0 {
			s += fmt.Sprintf("; slices with fewer than %s events do not count", strconv.FormatFloat(o.Budgeting.SliceMinEvents, 'f', -1, 64))
		}
	}
	return s
}
