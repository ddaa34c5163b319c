package slo

import (
	"encoding/json"
	"reflect"
	"strings"

	"github.com/prometheus/common/model"
)

// JSONSchema returns a JSON Schema (draft-07) of kakeibo's spec format, made
// from the same Go types the loader decodes, for editors: with
// yaml-language-server, a first line
//
//	# yaml-language-server: $schema=kakeibo.schema.json
//
// completes keys and flags mistakes as people type. The loader stays the
// authority (positions, cross-field rules); the schema knows the shape,
// the enums and the descriptions.
func JSONSchema() ([]byte, error) {
	root := schemaOf(reflect.TypeOf(specService{}), "")
	root["$schema"] = "http://json-schema.org/draft-07/schema#"
	root["$id"] = "https://github.com/kakeibo-slo/kakeibo/kakeibo.schema.json"
	root["title"] = "kakeibo SLO spec"
	root["required"] = []string{"service", "slos"}
	return json.MarshalIndent(root, "", "  ")
}

var durationSchema = map[string]any{"type": "string", "pattern": `^([0-9]+(y|w|d|h|m|s|ms))+$`, "description": "a duration such as 5m, 1h or 30d"}

// schemaDocs describes keys by path (dots between keys, [] for list items).
var schemaDocs = map[string]string{
	"service":                                  "The service's name: lowercase letters, digits, '-' and '_'. One spec per service.",
	"description":                              "What the service is, for people.",
	"labels":                                   "Copied onto every metric and alert of the service's SLOs.",
	"links.dashboard":                          "Linked from alerts, digests and the status page.",
	"links.runbook":                            "Linked from alerts, digests and the status page.",
	"corrections":                              "Time ranges taken out of the service's ALB SLIs (planned work, a known bad source), reviewed like any spec change.",
	"corrections[].from":                       "Start, RFC 3339.",
	"corrections[].to":                         "End (exclusive), RFC 3339.",
	"corrections[].slos":                       "The SLOs corrected (default: every SLO of the service).",
	"corrections[].count_as":                   "excluded (left out of good and total, the default) or good (bad events counted good).",
	"corrections[].reason":                     "Why (required).",
	"corrections[].author":                     "Who decided it (required).",
	"policy":                                   "The error budget policy: kakeibo gate SERVICE says whether the actions it names may go ahead.",
	"policy.freeze_below":                      "Percentage of the error budget left under which the actions freeze; 0 (the default): once any SLO's budget is exhausted.",
	"policy.applies_to":                        "The actions the policy stops (default [deploy]); kakeibo gate --action names one.",
	"notify.page":                              "Where page alerts go.",
	"notify.ticket":                            "Where ticket alerts go.",
	"notify.reminders":                         "Scheduled Slack digests of every SLO of the service.",
	"notify.reminders[].schedule":              "Cron (minute hour day month weekday) in the reminder's time zone.",
	"notify.reports":                           "Scheduled Slack posts of the previous calendar month's report: each SLO met or not, budget spent, top spenders, the trend.",
	"notify.reports[].schedule":                "Cron in the report's time zone, e.g. \"0 9 2 * *\" (09:00 on the 2nd of each month).",
	"notify.timezone":                          "Zone of times in alert messages; default the first reminder's.",
	"slos":                                     "The service's SLOs.",
	"slos[].name":                              "The SLO's name, unique in the service.",
	"slos[].objective":                         "Percent of good events (or slices), e.g. 99.9. Not a ratio.",
	"slos[].window":                            "A rolling length (30d, 4w) or a calendar `month` / `week` in `timezone`.",
	"slos[].timezone":                          "IANA zone calendar windows start in (default UTC).",
	"slos[].stale_after":                       "How old the newest data may be before the SLO is stale (default 20m).",
	"slos[].budgeting.timeslices":              "Budget in slices: a slice is good when good_above percent of its events are good.",
	"slos[].budgeting.timeslices.good_above":   "Percent a slice must reach to be good, e.g. 99. Not a ratio.",
	"slos[].budgeting.timeslices.min_events":   "A slice with fewer events is neither good nor bad.",
	"slos[].sli.alb":                           "Requests from AWS ALB access logs; bad = elb_status_code 5xx unless bad_status says otherwise.",
	"slos[].sli.alb.load_balancer":             "As logged: app/NAME/ID.",
	"slos[].sli.prometheus":                    "PromQL counting events over {{.window}}: good or bad, and total; or a histogram; or a raw error_ratio.",
	"slos[].sli.prometheus.error_ratio":        "A raw SLI: PromQL for the ratio of bad events over {{.window}} (Sloth's error_ratio_query), instead of good/bad and total. No event counts: no min_events, no grouping.",
	"slos[].sli.prometheus.by":                 "Labels to group by: one SLO per value (per route, say), each with its own budget and alerts, in kakeibo rules, serve and report (each group found in Prometheus is evaluated as name{label=\"value\"}).",
	"slos[].alerting.windows":                  "`default` (the SRE Workbook's pairs, scaled to the period) or a list of pairs.",
	"slos[].alerting.windows[].budget_percent": "The share of the budget the long window may spend; threshold = budget% × period / long.",
	"slos[].alerting.min_events":               "No burn alert while the long window has fewer events.",
}

var severities = []string{"page", "ticket"}

func schemaOf(t reflect.Type, path string) map[string]any {
	s := schemaType(t, path)
	if doc := schemaDocs[path]; doc != "" {
		s["description"] = doc
	}
	for k, v := range schemaRules()[path] {
		s[k] = v
	}
	return s
}

// schemaRules are the structural rules validate enforces, by path, made
// from the same patterns and limits the loader checks with: required
// keys, ranges, patterns and the either/or choices. What the schema cannot
// say (PromQL that parses, a window's length range, a time zone that
// exists, cross-field rules such as short < long, route warnings) stays
// with validate; TestSchemaAgreesWithValidate lists those limits.
func schemaRules() map[string]map[string]any {
	req := func(keys ...string) map[string]any { return map[string]any{"required": keys} }
	none := func(keys ...string) map[string]any {
		var any_ []any
		for _, k := range keys {
			any_ = append(any_, req(k))
		}
		return map[string]any{"not": map[string]any{"anyOf": any_}}
	}
	with := func(a, b map[string]any) map[string]any {
		out := clone(a)
		for k, v := range b {
			out[k] = v
		}
		return out
	}
	return map[string]map[string]any{
		"service":       {"pattern": nameRE.String()},
		"slos":          {"minItems": 1},
		"slos[]":        req("name", "objective", "window", "sli"),
		"slos[].name":   {"pattern": nameRE.String()},
		"slos[].window": {"pattern": `^(month|week|([0-9]+(y|w|d|h|m|s|ms))+)$`},
		"slos[].objective": {
			// Below 1 is a ratio written where a percent belongs.
			"minimum": 1, "maximum": MaxObjectivePercent,
		},
		"slos[].budgeting": {"oneOf": []any{
			with(req("occurrences"), none("timeslices")),
			with(req("timeslices"), none("occurrences")),
		}},
		"slos[].budgeting.timeslices":            req("slice", "good_above"),
		"slos[].budgeting.timeslices.good_above": {"exclusiveMinimum": 1, "maximum": 100},
		"slos[].sli": {"oneOf": []any{
			with(req("alb"), none("prometheus")),
			with(req("prometheus"), none("alb")),
		}},
		"slos[].sli.alb":                  req("load_balancer"),
		"slos[].sli.alb.load_balancer":    {"pattern": loadBalancerRE.String()},
		"slos[].sli.alb.hosts[]":          {"pattern": hostRE.String()},
		"slos[].sli.alb.methods[]":        {"pattern": methodRE.String()},
		"slos[].sli.alb.target_group":     {"pattern": targetGroupRE.String()},
		"slos[].sli.alb.bad_status[]":     statusRangeSchema,
		"slos[].sli.alb.exclude_status[]": statusRangeSchema,
		"slos[].sli.prometheus": {"oneOf": []any{
			with(req("error_ratio"), none("good", "bad", "total", "histogram", "by")),
			with(req("histogram"), none("good", "bad", "total", "error_ratio")),
			with(req("total"), with(map[string]any{"oneOf": []any{with(req("good"), none("bad")), with(req("bad"), none("good"))}}, none("histogram", "error_ratio"))),
		}},
		"slos[].sli.prometheus.by":                 {"minItems": 1, "uniqueItems": true},
		"slos[].sli.prometheus.by[]":               {"pattern": labelNameRE.String()},
		"slos[].sli.prometheus.histogram":          req("metric", "threshold"),
		"slos[].sli.prometheus.histogram.metric":   {"pattern": metricNameRE.String()},
		"slos[].alerting.windows[]":                req("severity", "long", "short", "budget_percent"),
		"slos[].alerting.windows[].budget_percent": {"exclusiveMinimum": 0, "maximum": 100},
		"corrections[]":                            req("from", "to", "reason", "author"),
		"corrections[].count_as":                   {"enum": []string{CorrectionExcluded, CorrectionGood}},
		"corrections[].from":                       {"format": "date-time"},
		"corrections[].to":                         {"format": "date-time"},
		"corrections[].reason":                     {"pattern": `\S`},
		"corrections[].author":                     {"pattern": `\S`},
		"policy.freeze_below":                      {"minimum": 0, "exclusiveMaximum": 100},
		"slos[].stale_after":                       {"pattern": `^([0-9]+(y|w|d|h|m))+$|^[0-9]*[1-9][0-9]*m?s$`},
	}
}

// statusRangeSchema is a status code or range: statusRE in either case
// (the loader lowercases), or a bare number (YAML 429).
var statusRangeSchema = map[string]any{"type": []string{"string", "integer"}, "pattern": `^[1-5]([xX][xX]|[0-9][0-9])$`, "minimum": 100, "maximum": 599}

func schemaType(t reflect.Type, path string) map[string]any {
	switch t {
	case reflect.TypeOf(model.Duration(0)):
		return clone(durationSchema)
	case reflect.TypeOf(specLabels{}):
		return map[string]any{"type": "object", "additionalProperties": map[string]any{"type": "string"},
			"propertyNames": map[string]any{"pattern": `^[a-zA-Z_][a-zA-Z0-9_]*$`}}
	case reflect.TypeOf(specWindows{}):
		return map[string]any{"oneOf": []any{
			map[string]any{"const": "default"},
			map[string]any{"type": "array", "items": schemaOf(reflect.TypeOf(specAlertWindow{}), path+"[]")},
		}}
	case reflect.TypeOf(struct{}{}):
		return map[string]any{"type": "object", "additionalProperties": false}
	}
	switch t.Kind() {
	case reflect.Pointer:
		return schemaType(t.Elem(), path)
	case reflect.String:
		s := map[string]any{"type": "string"}
		switch {
		case strings.HasSuffix(path, ".severity"):
			s["enum"] = severities
		case strings.HasSuffix(path, ".language"):
			s["enum"] = []string{"en", "ja"}
		}
		return s
	case reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.Int, reflect.Int64:
		return map[string]any{"type": "integer", "minimum": 0}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Slice:
		return map[string]any{"type": "array", "items": schemaOf(t.Elem(), path+"[]")}
	case reflect.Struct:
		props := map[string]any{}
		for i := range t.NumField() {
			f := t.Field(i)
			key, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if key == "" || key == "-" || !f.IsExported() {
				continue
			}
			props[key] = schemaOf(f.Type, strings.TrimPrefix(path+"."+key, "."))
		}
		return map[string]any{"type": "object", "properties": props, "additionalProperties": false}
	}
	return map[string]any{}
}

func clone(m map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		out[k] = v
	}
	return out
}
