package slo_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/kakeibo-slo/kakeibo/slo"
)

// TestJSONSchema: the schema compiles as draft-07, the bundled native specs
// conform to it, and the mistakes editors should flag do not: a misspelled
// key, an objective as text, an unknown severity, a duration without unit.
func TestJSONSchema(t *testing.T) {
	b, err := slo.JSONSchema()
	require.NoError(t, err)
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	require.NoError(t, err)
	c := jsonschema.NewCompiler()
	require.NoError(t, c.AddResource("kakeibo.schema.json", doc))
	sch, err := c.Compile("kakeibo.schema.json")
	require.NoError(t, err)

	asJSON := func(t *testing.T, y string) any {
		var v any
		require.NoError(t, yaml.Unmarshal([]byte(y), &v))
		j, err := json.Marshal(v)
		require.NoError(t, err)
		out, err := jsonschema.UnmarshalJSON(bytes.NewReader(j))
		require.NoError(t, err)
		return out
	}
	files, _ := filepath.Glob("../testdata/specs/*.yaml")
	checked := 0
	for _, f := range files {
		y, err := os.ReadFile(f)
		require.NoError(t, err)
		if strings.Contains(string(y), "apiVersion: openslo/") {
			continue
		}
		require.NoError(t, sch.Validate(asJSON(t, string(y))), f)
		checked++
	}
	require.Equal(t, 3, checked)

	base := "service: shop\nslos:\n  - name: availability\n    objective: 99.9\n    window: 30d\n    sli: {alb: {load_balancer: app/shop/50dc6c495c0c9188}}\n"
	require.NoError(t, sch.Validate(asJSON(t, base)))
	for name, bad := range map[string]string{
		"misspelled key":   strings.Replace(base, "objective:", "objectiv:", 1),
		"objective text":   strings.Replace(base, "99.9", `"99.9%"`, 1),
		"unknown severity": base + "    alerting: {windows: [{severity: critical, long: 1h, short: 5m, budget_percent: 2}]}\n",
		"duration no unit": base + "    stale_after: \"20\"\n",
		"windows word":     base + "    alerting: {windows: defaults}\n",
	} {
		require.Error(t, sch.Validate(asJSON(t, bad)), name)
	}
}

// TestSchemaAgreesWithValidate runs the JSON Schema and validate over a
// corpus of good and bad native specs: on every structural case (keys,
// types, required fields, ranges, patterns, either/or choices) both accept
// or both refuse. The limits are the checks a schema cannot express
// (PromQL, a window's length, time zones, cross-field rules): validate
// refuses them and the schema lets them pass, as documented.
func TestSchemaAgreesWithValidate(t *testing.T) {
	b, err := slo.JSONSchema()
	require.NoError(t, err)
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	require.NoError(t, err)
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	require.NoError(t, c.AddResource("kakeibo.schema.json", doc))
	sch, err := c.Compile("kakeibo.schema.json")
	require.NoError(t, err)
	schemaOK := func(y string) error {
		var v any
		if err := yaml.Unmarshal([]byte(y), &v); err != nil {
			return err
		}
		j, err := json.Marshal(v)
		if err != nil {
			return err
		}
		inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(j))
		if err != nil {
			return err
		}
		return sch.Validate(inst)
	}
	validateOK := func(y string) error {
		_, err := slo.LoadBytes("spec.yaml", []byte(y))
		return err
	}

	const head = "service: shop\nnotify: {page: {slack: \"#shop\"}, ticket: {slack: \"#shop\"}}\n"
	slo1 := func(fields string) string {
		return head + "slos:\n  - name: availability\n" + fields
	}
	const alb = "    sli: {alb: {load_balancer: app/shop/50dc6c495c0c9188}}\n"
	const base = "    objective: 99.9\n    window: 30d\n"
	const prom = "    sli:\n      prometheus:\n"
	const bad = "        bad: sum(increase(x{code=\"500\"}[{{.window}}]))\n"
	const good = "        good: sum(increase(x{code=\"200\"}[{{.window}}]))\n"
	const total = "        total: sum(increase(x[{{.window}}]))\n"
	const ratio = "        error_ratio: sum(rate(x{code=\"500\"}[{{.window}}])) / sum(rate(x[{{.window}}]))\n"
	const hist = "        histogram: {metric: http_request_duration_seconds, threshold: 300ms}\n"

	good_ := map[string]string{
		"alb":               slo1(base + alb),
		"good and total":    slo1(base + prom + good + total),
		"bad and total":     slo1(base + prom + bad + total),
		"error ratio":       slo1(base + prom + ratio),
		"histogram":         slo1(base + prom + hist),
		"grouped":           slo1(base + prom + bad + total + "        by: [route]\n"),
		"timeslices":        slo1(base + "    budgeting: {timeslices: {slice: 1m, good_above: 99}}\n" + alb),
		"occurrences":       slo1(base + "    budgeting: {occurrences: {}}\n" + alb),
		"calendar month":    slo1("    objective: 99.9\n    window: month\n    timezone: Asia/Tokyo\n" + alb),
		"alb filters":       slo1(base + "    sli: {alb: {load_balancer: app/shop/50dc6c495c0c9188, hosts: [shop.example.com, '*.example.com'], methods: [GET], bad_status: [5xx, 429], exclude_status: [4XX]}}\n"),
		"custom windows":    slo1(base + alb + "    alerting: {windows: [{severity: page, long: 1h, short: 5m, budget_percent: 2}]}\n"),
		"default windows":   slo1(base + alb + "    alerting: {windows: default}\n"),
		"correction":        head + "corrections: [{from: 2026-10-01T14:00:00Z, to: 2026-10-01T15:00:00Z, reason: db upgrade, author: ana}]\nslos:\n  - name: availability\n" + base + alb,
		"policy":            head + "policy: {freeze_below: 10}\nslos:\n  - name: availability\n" + base + alb,
		"objective at most": slo1("    objective: 99.9999\n    window: 30d\n" + alb),
	}
	files, _ := filepath.Glob("../testdata/specs/*.yaml")
	for _, f := range files {
		y, err := os.ReadFile(f)
		require.NoError(t, err)
		if !strings.Contains(string(y), "apiVersion: openslo/") { // OpenSLO files are not this schema's
			good_[filepath.Base(f)] = string(y)
		}
	}
	bad_ := map[string]string{
		"no service":                    "slos:\n  - name: availability\n" + base + alb,
		"service name":                  strings.Replace(slo1(base+alb), "service: shop", "service: Shop Team", 1),
		"no slos":                       head,
		"empty slos":                    head + "slos: []\n",
		"slo without name":              head + "slos:\n  - objective: 99.9\n    window: 30d\n" + alb,
		"slo name":                      head + "slos:\n  - name: my slo\n" + base + alb,
		"no objective":                  slo1("    window: 30d\n" + alb),
		"objective 0":                   slo1("    objective: 0\n    window: 30d\n" + alb),
		"objective 100":                 slo1("    objective: 100\n    window: 30d\n" + alb),
		"objective a ratio":             slo1("    objective: 0.999\n    window: 30d\n" + alb),
		"objective beyond a millionth":  slo1("    objective: 99.99999\n    window: 30d\n" + alb),
		"objective text":                slo1("    objective: 99.9%\n    window: 30d\n" + alb),
		"no window":                     slo1("    objective: 99.9\n" + alb),
		"window words":                  slo1("    objective: 99.9\n    window: 30 days\n" + alb),
		"no sli":                        slo1(base),
		"empty sli":                     slo1(base + "    sli: {}\n"),
		"alb and prometheus":            slo1(base + "    sli:\n      alb: {load_balancer: app/shop/50dc6c495c0c9188}\n      prometheus:\n  " + bad + "  " + total),
		"alb without load balancer":     slo1(base + "    sli: {alb: {hosts: [shop.example.com]}}\n"),
		"load balancer name":            slo1(base + "    sli: {alb: {load_balancer: my-alb}}\n"),
		"host uppercase":                slo1(base + "    sli: {alb: {load_balancer: app/shop/50dc6c495c0c9188, hosts: [Shop.example.com]}}\n"),
		"method lowercase":              slo1(base + "    sli: {alb: {load_balancer: app/shop/50dc6c495c0c9188, methods: [get]}}\n"),
		"status 600":                    slo1(base + "    sli: {alb: {load_balancer: app/shop/50dc6c495c0c9188, bad_status: ['600']}}\n"),
		"good and bad":                  slo1(base + prom + good + bad + total),
		"no total":                      slo1(base + prom + bad),
		"neither good nor bad":          slo1(base + prom + total),
		"error ratio and total":         slo1(base + prom + ratio + total),
		"error ratio grouped":           slo1(base + prom + ratio + "        by: [route]\n"),
		"histogram and good":            slo1(base + prom + hist + good),
		"histogram without threshold":   slo1(base + prom + "        histogram: {metric: http_request_duration_seconds}\n"),
		"group label name":              slo1(base + prom + bad + total + "        by: [1route]\n"),
		"both budgetings":               slo1(base + "    budgeting: {occurrences: {}, timeslices: {slice: 1m, good_above: 99}}\n" + alb),
		"empty budgeting":               slo1(base + "    budgeting: {}\n" + alb),
		"timeslices without good_above": slo1(base + "    budgeting: {timeslices: {slice: 1m}}\n" + alb),
		"good_above a ratio":            slo1(base + "    budgeting: {timeslices: {slice: 1m, good_above: 0.99}}\n" + alb),
		"window pair without short":     slo1(base + alb + "    alerting: {windows: [{severity: page, long: 1h, budget_percent: 2}]}\n"),
		"budget_percent 0":              slo1(base + alb + "    alerting: {windows: [{severity: page, long: 1h, short: 5m, budget_percent: 0}]}\n"),
		"severity critical":             slo1(base + alb + "    alerting: {windows: [{severity: critical, long: 1h, short: 5m, budget_percent: 2}]}\n"),
		"misspelled key":                slo1("    objectiv: 99.9\n    window: 30d\n" + alb),
		"correction without author":     head + "corrections: [{from: 2026-10-01T14:00:00Z, to: 2026-10-01T15:00:00Z, reason: db upgrade}]\nslos:\n  - name: availability\n" + base + alb,
		"correction time":               head + "corrections: [{from: yesterday, to: 2026-10-01T15:00:00Z, reason: db upgrade, author: ana}]\nslos:\n  - name: availability\n" + base + alb,
		"correction count_as":           head + "corrections: [{from: 2026-10-01T14:00:00Z, to: 2026-10-01T15:00:00Z, reason: db upgrade, author: ana, count_as: bad}]\nslos:\n  - name: availability\n" + base + alb,
		"freeze_below 100":              head + "policy: {freeze_below: 100}\nslos:\n  - name: availability\n" + base + alb,
	}
	limits := map[string]string{
		"PromQL that does not parse":  slo1(base + prom + "        bad: sum(increase(x{code=\"500\"[{{.window}}]))\n" + total),
		"a query without the window":  slo1(base + prom + "        bad: sum(increase(x{code=\"500\"}[5m]))\n" + total),
		"a window under an hour":      slo1("    objective: 99.9\n    window: 30m\n" + alb),
		"an unknown time zone":        slo1("    objective: 99.9\n    window: month\n    timezone: Mars/Olympus\n" + alb),
		"short not shorter than long": slo1(base + alb + "    alerting: {windows: [{severity: page, long: 1h, short: 2h, budget_percent: 2}]}\n"),
		"correction ending before":    head + "corrections: [{from: 2026-10-01T15:00:00Z, to: 2026-10-01T14:00:00Z, reason: db upgrade, author: ana}]\nslos:\n  - name: availability\n" + base + alb,
		"an SLO name used twice":      slo1(base+alb) + "  - name: availability\n" + base + alb,
	}
	for name, y := range good_ {
		require.NoError(t, validateOK(y), "validate: %s", name)
		require.NoError(t, schemaOK(y), "schema: %s", name)
	}
	for name, y := range bad_ {
		require.Error(t, validateOK(y), "validate: %s", name)
		require.Error(t, schemaOK(y), "schema: %s", name)
	}
	for name, y := range limits {
		require.Error(t, validateOK(y), "validate: %s", name)
		require.NoError(t, schemaOK(y), "schema (a documented limit): %s", name)
	}
	t.Logf("%d good and %d bad specs agree; %d limits", len(good_), len(bad_), len(limits))
}
