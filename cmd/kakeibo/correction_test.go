package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kakeibo-slo/kakeibo/slo"
)

// TestCorrectionOverTheOutage: a correction in mart-api's spec over the
// bundled day's 14:00 outage (excluded: a planned failover test, say)
// makes mart-api/availability meet its objective, in report and in serve
// alike; the report lists it, and the SLO page's timeline marks the span.
func TestCorrectionOverTheOutage(t *testing.T) {
	specs := t.TempDir()
	spec, err := os.ReadFile("../../testdata/specs/mart-api.yaml")
	require.NoError(t, err)
	corrected := strings.Replace(string(spec), "slos:\n", `corrections:
  - from: 2026-10-01T14:00:00Z
    to: 2026-10-01T14:30:00Z
    slos: [availability]
    reason: CHG-1234 planned failover test
    author: ana
slos:
`, 1)
	require.NoError(t, os.WriteFile(filepath.Join(specs, "mart-api.yaml"), []byte(corrected), 0o644))
	args := []string{"report", "--alb-logs", "../../testdata/alb", "--progress", "never", "--format", "json"}

	status := func(specsDir string) slo.ReportSLO {
		code, stdout, stderr := kakeibo(t, nil, append(args, "--specs", specsDir)...)
		require.Equal(t, exitOK, code, stderr)
		var rep slo.Report
		require.NoError(t, json.Unmarshal([]byte(stdout), &rep))
		for _, s := range rep.SLOs {
			if s.Service == "mart-api" && s.SLO == "availability" {
				return s
			}
		}
		t.Fatal("no mart-api/availability")
		return slo.ReportSLO{}
	}
	before := status("../../testdata/specs/mart-api.yaml")
	require.Equal(t, slo.StatusViolated, before.Status)
	after := status(specs)
	require.Equal(t, slo.StatusOK, after.Status, "the outage's minutes are left out")
	require.GreaterOrEqual(t, *after.SLI, 0.9995)
	require.Less(t, after.Total, before.Total, "excluded: out of the total too")
	require.Len(t, after.Corrections, 1)
	require.Equal(t, "CHG-1234 planned failover test", after.Corrections[0].Reason)

	// serve says the same.
	base := bundledDayServer(t, specs, "")
	var rep slo.Report
	require.NoError(t, json.Unmarshal([]byte(get(t, base+"/api/v1/slos")), &rep))
	for _, s := range rep.SLOs {
		if s.Service == "mart-api" && s.SLO == "availability" {
			require.Equal(t, slo.StatusOK, s.Status)
			require.Equal(t, after.Good, s.Good)
			require.Equal(t, after.Total, s.Total)
		}
	}
	page := get(t, base+"/slos/mart-api/availability?range=1d")
	require.Contains(t, page, `<rect class="correction" data-from="2026-10-01T14:00:00Z" data-to="2026-10-01T14:30:00Z"`)
	require.Contains(t, page, "counted as excluded: CHG-1234 planned failover test (ana)")
}
