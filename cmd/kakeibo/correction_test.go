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
	path := filepath.Join(specs, "mart-api.yaml")
	require.NoError(t, os.WriteFile(path, spec, 0o644))
	// The correction goes in with the CLI, as a reviewer would see it in
	// the pull request: lines added, none changed.
	code, stdout, stderr := kakeibo(t, nil, "correction", "add", "--file", path, "--from", "2026-10-01T14:00:00Z", "--to", "2026-10-01T14:30:00Z",
		"--slos", "availability", "--reason", "CHG-1234 planned failover test", "--author", "ana")
	require.Equal(t, exitOK, code, stderr)
	require.Contains(t, stdout, "commit it in a pull request")
	edited, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, string(spec), strings.Replace(string(edited), `corrections:
  - from: "2026-10-01T14:00:00Z"
    to: "2026-10-01T14:30:00Z"
    slos: [availability]
    count_as: excluded
    reason: CHG-1234 planned failover test
    author: ana
`, "", 1), "only the correction's lines are added")
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

// TestCorrectionAddEditsOnlyItsLines: a second correction goes first in
// the existing list with the list's indentation; one that would not load
// (overlapping the first) is refused and the file left as it was; a bad
// time or a missing reason is a usage error.
func TestCorrectionAddEditsOnlyItsLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "shop.yaml")
	spec := "# the shop\nservice: shop\ncorrections:\n    - from: 2026-10-01T10:00:00Z\n      to: 2026-10-01T11:00:00Z\n      reason: first\n      author: bo\nslos:\n  - name: availability  # keep this comment\n    objective: 99.9\n    window: 30d\n    sli: {alb: {load_balancer: app/shop/0123456789abcdef}}\n"
	require.NoError(t, os.WriteFile(path, []byte(spec), 0o644))
	add := func(from, to, reason string) (int, string) {
		code, _, stderr := kakeibo(t, nil, "correction", "add", "--file", path, "--from", from, "--to", to, "--reason", reason, "--author", "cy", "--count-as", "good")
		return code, stderr
	}
	code, stderr := add("2026-10-02T10:00:00Z", "2026-10-02T10:30:00Z", "second: a bad canary")
	require.Equal(t, exitOK, code, stderr)
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, strings.Replace(spec, "corrections:\n", "corrections:\n    - from: \"2026-10-02T10:00:00Z\"\n      to: \"2026-10-02T10:30:00Z\"\n      count_as: good\n      reason: 'second: a bad canary'\n      author: cy\n", 1), string(got))
	set, err := slo.Load(path)
	require.NoError(t, err)
	require.Len(t, set.Objectives()[0].Corrections, 2)

	code, stderr = add("2026-10-01T10:30:00Z", "2026-10-01T12:00:00Z", "overlaps the first")
	require.Equal(t, exitFail, code)
	require.Contains(t, stderr, "left unchanged")
	again, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, string(got), string(again))

	code, stderr = add("yesterday", "2026-10-01T12:00:00Z", "x")
	require.Equal(t, exitUsage, code)
	require.Contains(t, stderr, "RFC 3339")
	code, _, stderr = kakeibo(t, nil, "correction", "add", "--file", path, "--from", "2026-10-03T10:00:00Z", "--to", "2026-10-03T11:00:00Z", "--author", "cy")
	require.Equal(t, exitUsage, code)
	require.Contains(t, stderr, "--reason is required")
}
