package convert_test

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/kakeibo-slo/kakeibo/rules"
	"github.com/kakeibo-slo/kakeibo/slo"
	"github.com/kakeibo-slo/kakeibo/slo/convert"
)

// TestSloth: the Prometheus-backed SLOs as Sloth specs, one set per period
// (Sloth sets the period per run), each SLO's alerts named after it, and
// what Sloth cannot express as a comment and a note.
func TestSloth(t *testing.T) {
	set, err := slo.Load("../../testdata/specs")
	require.NoError(t, err)
	periods, notes, err := convert.ToSloth(set.Services, rules.Header)
	require.NoError(t, err)
	require.Contains(t, notes, "search/uptime: skipped: Sloth has no calendar windows or timeslices")
	require.Contains(t, notes, "checkout/requests: min_events 100 is not carried: Sloth has no minimum of events")
	require.Contains(t, notes, "checkout/payment-latency: kakeibo's alert pairs (page-1h 1h/5m > 14.4, ticket-slow 3d/6h > 1) are not carried: Sloth uses its own windows for the period")
	var got []string
	for _, p := range periods {
		got = append(got, p.Service+"@"+slo.FormatDuration(p.Period))
		require.Equal(t, 1, bytes.Count(p.Data, []byte("\nversion: prometheus/v1")), "one spec document a file: %s", p.Data)
	}
	require.Equal(t, []string{"checkout@7d", "checkout@28d", "search@28d", "checkout@30d"}, got)
	var all bytes.Buffer
	for i, p := range periods {
		if i > 0 {
			all.WriteString("---\n")
		}
		all.Write(p.Data)
	}
	out := all.Bytes()
	require.Regexp(t, `(?m)^  # min_events 100 is not carried: Sloth has no minimum of events\n(  #.*\n)*  - name: requests$`, string(out))
	dec := yaml.NewDecoder(bytes.NewReader(out))
	type doc struct {
		Version, Service string
		SLOs             []struct {
			Name      string
			Objective float64
			SLI       struct {
				Events struct {
					ErrorQuery string `yaml:"error_query"`
					TotalQuery string `yaml:"total_query"`
				}
			}
			Alerting struct {
				Name      string
				PageAlert struct{ Disable bool } `yaml:"page_alert"`
			}
		}
	}
	var docs []doc
	for {
		var d doc
		if err := dec.Decode(&d); err != nil {
			break
		}
		docs = append(docs, d)
	}
	names := map[string]bool{}
	var services []string
	for _, d := range docs {
		require.Equal(t, "prometheus/v1", d.Version)
		services = append(services, d.Service)
		for _, s := range d.SLOs {
			require.False(t, names[s.Alerting.Name], "alert name %s twice", s.Alerting.Name)
			names[s.Alerting.Name] = true
			for _, q := range []string{s.SLI.Events.ErrorQuery, s.SLI.Events.TotalQuery} {
				require.NoError(t, slo.CheckQueryTemplate(q), q)
			}
		}
	}
	require.Equal(t, []string{"checkout", "checkout", "search", "checkout"}, services, "7d: checkout; 28d: checkout, search; 30d: checkout")
	require.True(t, names["CheckoutPaymentLatencyErrorBudgetBurn"])
}
