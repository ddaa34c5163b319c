package server

import (
	"encoding/json"
)

// Dashboard returns the Grafana dashboard (JSON model) for the series the
// service exports, which the generated rules record too: one dashboard for
// both ways of running kakeibo. Variables: datasource, service, slo.
func Dashboard() ([]byte, error) {
	sel := `service=~"$service",slo=~"$slo"`
	// The period window of each SLO is the one slo_info names.
	period := func(metric string) string {
		return metric + `{` + sel + `} and on (service, slo, window) slo_info{` + sel + `}`
	}
	ds := map[string]any{"type": "prometheus", "uid": "${datasource}"}
	target := func(expr, legend string, instant bool) map[string]any {
		t := map[string]any{"datasource": ds, "expr": expr, "legendFormat": legend, "refId": "A"}
		if instant {
			t["instant"], t["format"] = true, "table"
		}
		return t
	}
	id := 0
	panel := func(title, typ string, x, y, w, h int, unit string, targets ...map[string]any) map[string]any {
		id++
		for i, t := range targets {
			t["refId"] = string(rune('A' + i))
		}
		return map[string]any{
			"id": id, "title": title, "type": typ, "datasource": ds, "targets": targets,
			"gridPos":     map[string]int{"x": x, "y": y, "w": w, "h": h},
			"fieldConfig": map[string]any{"defaults": map[string]any{"unit": unit}, "overrides": []any{}},
		}
	}
	burn := panel("Burn rate by window", "timeseries", 0, 16, 12, 8, "x",
		target(`slo_burn_rate{`+sel+`}`, "{{service}}/{{slo}} {{window}}", false))
	burn["fieldConfig"] = map[string]any{"defaults": map[string]any{
		"unit": "x",
		"thresholds": map[string]any{"mode": "absolute", "steps": []map[string]any{
			{"color": "green", "value": nil}, {"color": "yellow", "value": 1}, {"color": "red", "value": 14.4}}},
		"custom": map[string]any{"thresholdsStyle": map[string]any{"mode": "line+area"}},
	}, "overrides": []any{}}

	panels := []map[string]any{
		panel("SLOs: budget left", "table", 0, 0, 24, 8, "percentunit",
			target(`slo_error_budget_remaining_ratio{`+sel+`}`, "", true),
		),
		panel("SLI vs objective (period)", "timeseries", 0, 8, 12, 8, "percentunit",
			target(period("slo_sli_ratio"), "{{service}}/{{slo}} SLI", false),
			target(`slo_objective_ratio{`+sel+`}`, "{{service}}/{{slo}} objective", false)),
		panel("Error budget remaining", "timeseries", 12, 8, 12, 8, "percentunit",
			target(`slo_error_budget_remaining_ratio{`+sel+`}`, "{{service}}/{{slo}}", false)),
		burn,
		panel("Alerts firing", "state-timeline", 12, 16, 12, 8, "none",
			target(`slo_alert_firing{`+sel+`} == 1`, "{{service}}/{{slo}} {{alert}}", false)),
		panel("Budget left as full outage", "timeseries", 0, 24, 12, 8, "s",
			target(`slo_error_budget_remaining_seconds{`+sel+`}`, "{{service}}/{{slo}}", false)),
		panel("Time to exhaustion at the current burn", "timeseries", 12, 24, 12, 8, "s",
			target(`slo_time_to_exhaustion_seconds{`+sel+`} < 1e12`, "{{service}}/{{slo}}", false)),
		panel("Events per window", "timeseries", 0, 32, 12, 8, "short",
			target(`slo_total_events{`+sel+`,window="1h"}`, "{{service}}/{{slo}} total (1h)", false),
			target(`slo_total_events{`+sel+`,window="1h"} - slo_good_events{`+sel+`,window="1h"}`, "{{service}}/{{slo}} bad (1h)", false)),
		panel("kakeibo: ingest lag and notifications", "timeseries", 12, 32, 12, 8, "s",
			target(`kakeibo_ingest_lag_seconds`, "lag {{load_balancer}}", false),
			target(`sum by (result, reason) (rate(kakeibo_notifications_total[5m]))`, "notifications {{result}} {{reason}}", false)),
	}
	variable := func(name, query string) map[string]any {
		return map[string]any{
			"name": name, "label": name, "type": "query", "datasource": ds,
			"query":      map[string]any{"query": query, "refId": name},
			"definition": query, "includeAll": true, "multi": true, "allValue": ".*",
			"current": map[string]any{"text": "All", "value": "$__all"}, "refresh": 2, "sort": 1,
		}
	}
	d := map[string]any{
		"title": "kakeibo SLOs", "uid": "kakeibo-slos", "schemaVersion": 39, "version": 1,
		"tags": []string{"slo", "kakeibo"}, "timezone": "browser", "refresh": "1m",
		"time": map[string]string{"from": "now-7d", "to": "now"},
		"templating": map[string]any{"list": []any{
			map[string]any{"name": "datasource", "label": "Prometheus", "type": "datasource", "query": "prometheus"},
			variable("service", `label_values(slo_info, service)`),
			variable("slo", `label_values(slo_info{service=~"$service"}, slo)`),
		}},
		"panels": panels,
	}
	return json.MarshalIndent(d, "", "  ")
}
