package main

import (
	"cmp"
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/kakeibo-slo/kakeibo/rules"
	"github.com/kakeibo-slo/kakeibo/slo"
	"github.com/kakeibo-slo/kakeibo/slo/convert"
)

func runRules(ctx context.Context, env *cmdEnv, args []string) int {
	if len(args) > 0 && args[0] == "backfill" {
		return runRulesBackfill(ctx, env, args[1:])
	}
	var specs, out, format string
	var exact, albCounters bool
	var interval, albOffset time.Duration
	f := newFlagSet("rules", "--specs DIR [-o FILE]",
		"Generate a Prometheus rule file for the Prometheus-backed SLOs: recording rules\n"+
			"for the same slo_* series kakeibo serve exports (events, SLI and burn rate per\n"+
			"window, budget remaining, objective, info) and the multi-window multi-burn-rate\n"+
			"and budget-exhausted alerts. Load it into Prometheus, Thanos or Mimir rulers.\n"+
			"Grouped SLOs (sli.prometheus.by) get every series and alert per group.\n"+
			"ALB-backed SLOs are skipped with a note on stderr, unless --alb-counters: then\n"+
			"their rules read the kakeibo_alb_events_total counters that kakeibo serve\n"+
			"--remote-write-url writes (summed over shards, --alb-offset back). Timeslice\n"+
			"SLOs are skipped with a note.")
	f.stringVar(&specs, "specs", "KAKEIBO_SPECS", "", "spec file or `directory` (required)")
	f.stringVar(&out, "o", "KAKEIBO_RULES_OUT", "", "write to this `file` instead of stdout")
	f.boolVar(&exact, "exact", "KAKEIBO_RULES_EXACT", false, "measure the period with increase() over the raw series (exact to the event, but reads every sample of the period each evaluation) instead of summing the recorded 5-minute counts")
	f.durationVar(&interval, "interval", "KAKEIBO_RULES_INTERVAL", time.Minute, "evaluation `interval` of the alert groups (the period groups run at 2.5 times it, at most every 2m30s)")
	f.boolVar(&albCounters, "alb-counters", "KAKEIBO_RULES_ALB_COUNTERS", false, "write the rules of ALB-backed SLOs too, over the kakeibo_alb_events_total counters serve --remote-write-url writes")
	f.durationVar(&albOffset, "alb-offset", "KAKEIBO_RULES_ALB_OFFSET", slo.DefaultALBOffset, "how far the ALB counters' rules look back (`offset`): ALB delivers logs every 5 minutes, and a minute is written once every node's logs cover it; 0 for none")
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
		if file, notes, err = rules.Generate(set.Objectives(), rules.Options{Exact: exact, Interval: interval, ALBCounters: albCounters, ALBOffset: cmp.Or(albOffset, -1)}); err == nil {
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
