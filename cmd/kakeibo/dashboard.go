package main

import (
	"context"
	"fmt"

	"github.com/kakeibo-slo/kakeibo/server"
)

func runDashboard(_ context.Context, env *cmdEnv, args []string) int {
	f := newFlagSet("dashboard", "",
		"Print the Grafana dashboard (JSON model) for the metrics kakeibo exports and\n"+
			"the generated rules record: SLI vs objective, budget left, burn rates per\n"+
			"window with thresholds, alerts. Variables: datasource, service, slo.\n"+
			"Also committed as deploy/grafana/kakeibo.json.")
	if err := f.parse(args, env); err != nil {
		return exitFor(err)
	}
	data, err := server.Dashboard()
	if err != nil {
		fmt.Fprintf(env.stderr, "kakeibo dashboard: %v\n", err)
		return exitFail
	}
	return writeOutput(env, "dashboard", "", append(data, '\n'))
}
