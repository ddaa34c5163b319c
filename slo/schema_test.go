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
