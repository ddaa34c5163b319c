package main

import (
	"context"
	"fmt"
	"os"

	"github.com/kakeibo-slo/kakeibo/rules"
)

func runRules(_ context.Context, env *cmdEnv, args []string) int {
	var specs, out string
	f := newFlagSet("rules", "--specs DIR [-o FILE]",
		"Generate a Prometheus rule file for the Prometheus-backed SLOs: recording rules\n"+
			"for the same slo_* series kakeibo serve exports (events, SLI and burn rate per\n"+
			"window, budget remaining, objective, info) and the multi-window multi-burn-rate\n"+
			"and budget-exhausted alerts. Load it into Prometheus, Thanos or Mimir rulers.\n"+
			"ALB-backed and timeslice SLOs are skipped with a note on stderr.")
	f.stringVar(&specs, "specs", "KAKEIBO_SPECS", "", "spec file or `directory` (required)")
	f.stringVar(&out, "o", "KAKEIBO_RULES_OUT", "", "write to this `file` instead of stdout")
	if err := f.parse(args, env); err != nil {
		return exitFor(err)
	}
	if specs == "" {
		fmt.Fprintln(env.stderr, "kakeibo rules: --specs is required (or set KAKEIBO_SPECS)")
		return exitUsage
	}
	set, code := loadSpecs(env, "rules", specs)
	if code != exitOK {
		return code
	}
	file, notes, err := rules.Generate(set.Objectives())
	if err != nil {
		fmt.Fprintf(env.stderr, "kakeibo rules: %v\n", err)
		return exitFail
	}
	for _, n := range notes {
		fmt.Fprintf(env.stderr, "kakeibo rules: %s\n", n)
	}
	data, err := rules.Marshal(file)
	if err != nil {
		fmt.Fprintf(env.stderr, "kakeibo rules: %v\n", err)
		return exitFail
	}
	if out == "" {
		_, _ = env.stdout.Write(data)
		return exitOK
	}
	if err := os.WriteFile(out, data, 0o644); err != nil {
		fmt.Fprintf(env.stderr, "kakeibo rules: %v\n", err)
		return exitFail
	}
	return exitOK
}
