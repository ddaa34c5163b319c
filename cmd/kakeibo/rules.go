package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/kakeibo-slo/kakeibo/rules"
	"github.com/kakeibo-slo/kakeibo/slo"
	"github.com/kakeibo-slo/kakeibo/slo/convert"
)

func runRules(_ context.Context, env *cmdEnv, args []string) int {
	var specs, out, format string
	var exact bool
	var interval time.Duration
	f := newFlagSet("rules", "--specs DIR [-o FILE]",
		"Generate a Prometheus rule file for the Prometheus-backed SLOs: recording rules\n"+
			"for the same slo_* series kakeibo serve exports (events, SLI and burn rate per\n"+
			"window, budget remaining, objective, info) and the multi-window multi-burn-rate\n"+
			"and budget-exhausted alerts. Load it into Prometheus, Thanos or Mimir rulers.\n"+
			"Grouped SLOs (sli.prometheus.by) get every series and alert per group.\n"+
			"ALB-backed and timeslice SLOs are skipped with a note on stderr.")
	f.stringVar(&specs, "specs", "KAKEIBO_SPECS", "", "spec file or `directory` (required)")
	f.stringVar(&out, "o", "KAKEIBO_RULES_OUT", "", "write to this `file` instead of stdout")
	f.boolVar(&exact, "exact", "KAKEIBO_RULES_EXACT", false, "measure the period with increase() over the raw series (exact to the event, but reads every sample of the period each evaluation) instead of summing the recorded 5-minute counts")
	f.durationVar(&interval, "interval", "KAKEIBO_RULES_INTERVAL", time.Minute, "evaluation `interval` of the alert groups (the period groups run at 2.5 times it, at most every 2m30s)")
	f.stringVar(&format, "format", "KAKEIBO_RULES_FORMAT", "prometheus", "output `format`: prometheus (a rule file) or sloth (Sloth prometheus/v1 specs)")
	if err := f.parse(args, env); err != nil {
		return exitFor(err)
	}
	if interval < 10*time.Second || interval > 5*time.Minute {
		fmt.Fprintf(env.stderr, "kakeibo rules: --interval %s: want 10s to 5m (the 5-minute window needs an evaluation in it)\n", interval)
		return exitUsage
	}
	if specs == "" {
		fmt.Fprintln(env.stderr, "kakeibo rules: --specs is required (or set KAKEIBO_SPECS)")
		return exitUsage
	}
	set, code := loadSpecs(env, "rules", specs)
	if code != exitOK {
		return code
	}
	// The loader's warnings concern the alerts these rules carry (a pair
	// that can never fire, alerts without a route): say them.
	for _, w := range set.Warnings {
		fmt.Fprintf(env.stderr, "kakeibo rules: %v\n", w)
	}
	var data []byte
	var notes []string
	var err error
	switch format {
	case "prometheus":
		var file *rules.File
		if file, notes, err = rules.Generate(set.Objectives(), rules.Options{Exact: exact, Interval: interval}); err == nil {
			data, err = rules.Marshal(file)
		}
	case "sloth":
		var periods []convert.SlothPeriod
		periods, notes, err = convert.ToSloth(set.Services, rules.Header)
		several := map[time.Duration]bool{}
		for _, p := range periods {
			several[p.Period] = true
		}
		if err == nil && len(periods) > 1 && out != "" {
			// One file per service (and period): sloth generate writes a
			// rule document per spec document, and promtool and
			// Prometheus read only the first document of a file.
			sayNotes(env, "rules", notes)
			ext := filepath.Ext(out)
			for _, p := range periods {
				name := strings.TrimSuffix(out, ext) + "-" + p.Service
				if len(several) > 1 {
					name += "-" + slo.FormatDuration(p.Period)
				}
				name += ext
				if code := writeOutput(env, "rules", name, p.Data); code != exitOK {
					return code
				}
				fmt.Fprintf(env.stderr, "kakeibo rules: wrote %s (sloth generate --default-slo-period %s -i %s)\n", name, slo.FormatDuration(p.Period), name)
			}
			return exitOK
		}
		for i, p := range periods {
			if i > 0 {
				data = append(data, "---\n"...)
			}
			data = append(data, p.Data...)
		}
		if len(periods) > 1 {
			notes = append(notes, "several services (or periods): sloth generate writes one rule document per spec document and promtool reads only the first; -o FILE writes one file per service and period")
		}
	default:
		fmt.Fprintf(env.stderr, "kakeibo rules: --format %q: want prometheus or sloth\n", format)
		return exitUsage
	}
	return finishOutput(env, "rules", out, data, notes, err)
}
