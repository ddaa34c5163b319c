package main

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/prometheus/common/model"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/term"

	"github.com/kakeibo-slo/kakeibo/slo"
)

func runReport(ctx context.Context, env *cmdEnv, args []string) int {
	var f evalFlags
	var format string
	fs := newFlagSet("report", "--specs DIR [--alb-logs DIR|s3://bucket/prefix] [--prometheus-url URL] [flags]",
		"Evaluate every SLO once and print SLIs, error budgets, burn rates and the alert\n"+
			"pairs that would fire. ALB logs are read into minute buckets (in memory, or in\n"+
			"--data-dir so that a later run reads only new objects). Without --at, the\n"+
			"windows of ALB-backed SLOs end at the ingestion watermark: the newest minute\n"+
			"whose log files are believed to have all arrived.")
	f.register(fs)
	fs.stringVar(&format, "format", "KAKEIBO_FORMAT", "table", "output `format`: table, json or markdown (with --period also html: a page per service for stakeholders)")
	var period string
	fs.stringVar(&period, "period", "", "", "report a calendar month instead (`YYYY-MM`, UTC): met or not, budget spent, and the spans that spent it (ALB SLOs)")
	if err := fs.parse(args, env); err != nil {
		return exitFor(err)
	}
	if period != "" {
		return runPeriodReport(ctx, env, &f, period, format)
	}
	switch format {
	case "table", "json", "markdown":
	default:
		fmt.Fprintf(env.stderr, "kakeibo report: --format %q: want table, json or markdown\n", format)
		return exitUsage
	}
	ev, code := f.evaluate(ctx, env, "report")
	if code != exitOK {
		return code
	}
	rep := ev.report()
	switch format {
	case "json":
		enc := json.NewEncoder(env.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(jsonReport{Report: rep, readCompleteness: completeness(ev.read)}); err != nil {
			fmt.Fprintf(env.stderr, "kakeibo report: write the JSON report: %v\n", err)
			return exitFail
		}
	case "markdown":
		writeMarkdown(env.stdout, rep)
	default:
		writeTable(env.stdout, rep)
	}
	if ev.read.incomplete() {
		// The numbers are printed (every object that could be read is
		// counted), but a pipeline must not take them for complete.
		fmt.Fprintf(env.stderr, "kakeibo report: incomplete: %d log object(s) in range could not be read (exit status %d)\n", len(ev.read.Failed), exitIncomplete)
		return exitIncomplete
	}
	return exitOK
}

// jsonReport is the report with how complete its ALB counts are.
type jsonReport struct {
	slo.Report
	readCompleteness
}

// readCompleteness is set when log objects in range could not be read.
type readCompleteness struct {
	Incomplete bool `json:"incomplete,omitempty"`
	// FailedObjects counts unread objects by reason (timeout, not_gzip, ...).
	FailedObjects map[string]int `json:"failed_objects,omitempty"`
	// MalformedLines counts skipped lines by reason.
	MalformedLines map[string]int64 `json:"malformed_lines,omitempty"`
	// OutsideLayout counts S3 log files outside AWS's key layout, skipped.
	OutsideLayout int64 `json:"outside_layout_objects,omitempty"`
}

func completeness(r readOutcome) readCompleteness {
	c := readCompleteness{Incomplete: r.incomplete(), OutsideLayout: r.OutsideLayout}
	for _, f := range r.Failed {
		if c.FailedObjects == nil {
			c.FailedObjects = map[string]int{}
		}
		c.FailedObjects[f.Reason]++
	}
	for reason, n := range r.Malformed {
		if n > 0 {
			if c.MalformedLines == nil {
				c.MalformedLines = map[string]int64{}
			}
			c.MalformedLines[reason] = n
		}
	}
	return c
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// statusMark is a one-glance symbol for a status.
func statusMark(s slo.Status) string {
	switch s {
	case slo.StatusOK:
		return "✓ ok"
	case slo.StatusAtRisk:
		return "! at risk"
	case slo.StatusViolated:
		return "✗ violated"
	}
	return "? no data"
}

// reportRow is one SLO as the table and markdown views show it.
type reportRow struct {
	slo, status, objective, window, sli, budget, burn, exhaustion, firing string
}

func rowOf(s slo.ReportSLO) reportRow {
	r := reportRow{
		slo: s.Service + "/" + s.SLO, status: statusMark(s.Status),
		objective: percent(s.Objective) + "%", window: s.Window,
		sli: "-", budget: "-", burn: "-", exhaustion: "-", firing: "",
	}
	if s.SLI != nil {
		r.sli = trimFloat(*s.SLI*100, 3) + "%"
	}
	if rem := s.ErrorBudget.Remaining; rem != nil && *rem < 0 {
		// Overspent: say by how much, not "-1140.4% (0s)".
		r.budget = fmt.Sprintf("overspent %s×", trimFloat(1-*rem, 2))
	} else if rem != nil {
		r.budget = fmt.Sprintf("%s%% (%s)", trimFloat(*s.ErrorBudget.Remaining*100, 1), humanDuration(time.Duration(s.ErrorBudget.RemainingSeconds*float64(time.Second)).Round(time.Second)))
	}
	var best float64
	bestW := ""
	shorter := func(a, b string) bool { // a tie goes to the shorter window, whatever the map order
		da, _ := model.ParseDuration(a)
		db, _ := model.ParseDuration(b)
		return da < db
	}
	for w, win := range s.Windows {
		if win.BurnRate != nil && (bestW == "" || *win.BurnRate > best || (*win.BurnRate == best && shorter(w, bestW))) {
			best, bestW = *win.BurnRate, w
		}
	}
	if bestW != "" {
		r.burn = fmt.Sprintf("%s× (%s)", trimFloat(best, 2), bestW)
	}
	if t := s.ErrorBudget.TimeToExhaustionSeconds; t != nil && *t == 0 {
		r.exhaustion = "spent"
	} else if t != nil {
		r.exhaustion = humanDuration(time.Duration(*t * float64(time.Second)).Round(time.Minute))
	} else if s.SLI != nil {
		r.exhaustion = "never"
	}
	var firing []string
	for _, a := range s.Alerts {
		if a.Firing {
			firing = append(firing, a.Name)
		}
	}
	if s.BudgetExhausted {
		firing = append(firing, "budget-exhausted")
	}
	r.firing = strings.Join(firing, ", ")
	if s.Error != "" && r.firing == "" {
		r.firing = s.Error
	}
	return r
}

var reportHeader = reportRow{"SLO", "STATUS", "OBJECTIVE", "WINDOW", "SLI", "BUDGET LEFT", "FASTEST BURN", "EXHAUSTED IN", "FIRING / NOTE"}

func (r reportRow) cells() []string {
	return []string{r.slo, r.status, r.objective, r.window, r.sli, r.budget, r.burn, r.exhaustion, r.firing}
}

func writeTable(w io.Writer, rep slo.Report) {
	fmt.Fprintf(w, "at %s\n\n", rep.At.Format(time.RFC3339))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(reportHeader.cells(), "\t"))
	for _, s := range rep.SLOs {
		fmt.Fprintln(tw, strings.Join(rowOf(s).cells(), "\t"))
	}
	tw.Flush()
}

func writeMarkdown(w io.Writer, rep slo.Report) {
	fmt.Fprintf(w, "SLO report at %s\n\n", rep.At.Format(time.RFC3339))
	fmt.Fprintf(w, "| %s |\n", strings.Join(reportHeader.cells(), " | "))
	fmt.Fprintf(w, "|%s\n", strings.Repeat("---|", len(reportHeader.cells())))
	for _, s := range rep.SLOs {
		cells := rowOf(s).cells()
		for i, c := range cells {
			cells[i] = strings.ReplaceAll(c, "|", `\|`)
		}
		fmt.Fprintf(w, "| %s |\n", strings.Join(cells, " | "))
	}
}
