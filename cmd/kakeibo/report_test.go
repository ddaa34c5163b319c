package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kakeibo-slo/kakeibo/slo"
	"github.com/kakeibo-slo/kakeibo/sources/alb"
	"github.com/kakeibo-slo/kakeibo/sources/alb/albgen"
)

// TestReportCountsEqualGeneratorTruth runs `kakeibo report` on a generated
// tree and checks every count against the generator's own tally.
func TestReportCountsEqualGeneratorTruth(t *testing.T) {
	t.Parallel() // the package's longest CPU work: beside the tests that wait on processes
	cfg := albgen.Example(time.Date(2026, 10, 5, 0, 0, 0, 0, time.UTC), 25)
	cfg.Seed = 42
	cfg.MalformedEvery = 300
	dir := t.TempDir()
	_, err := albgen.Write(cfg, dir)
	require.NoError(t, err)

	set, err := slo.Load("../../testdata/specs")
	require.NoError(t, err)
	truth := albgen.Truth(cfg, set.Objectives())
	sum := func(id string, from, to time.Time) (good, total float64) {
		for k, c := range truth {
			if k.SLI == id && k.Minute >= from.Unix()/60 && k.Minute < to.Unix()/60 {
				good += float64(c.Good)
				total += float64(c.Total)
			}
		}
		return good, total
	}

	at := time.Date(2026, 10, 5, 14, 30, 0, 0, time.UTC) // ten minutes after the mart-api outage
	code, out, errOut := kakeibo(t, nil, "report", "--specs", "../../testdata/specs", "--alb-logs", dir,
		"--at", at.Format(time.RFC3339), "--format", "json")
	require.Equal(t, exitOK, code, errOut)
	var rep slo.Report
	require.NoError(t, json.Unmarshal([]byte(out), &rep))
	require.True(t, at.Equal(rep.At))

	checked := 0
	for _, s := range rep.SLOs {
		if s.Source != "alb" {
			require.Equal(t, slo.StatusNoData, s.Status)
			continue
		}
		id := s.Service + "/" + s.SLO
		var o *slo.Objective
		for _, x := range set.Objectives() {
			if x.ID() == id {
				o = x
			}
		}
		start, _ := o.Window.Bounds(at)
		if s.Budgeting == "occurrences" {
			good, total := sum(id, start, at)
			require.Equal(t, good, s.Good, id)
			require.Equal(t, total, s.Total, id)
			require.Positive(t, total, id)
		} else {
			// Timeslices: judge each slice from the truth.
			var goodSlices, badSlices int
			slice := o.Budgeting.Slice
			for m := start; !m.Add(slice).After(at); m = m.Add(slice) {
				good, total := sum(id, m, m.Add(slice))
				switch {
				case total == 0 || total < o.Budgeting.SliceMinEvents:
				case good/total >= o.Budgeting.SliceTarget:
					goodSlices++
				default:
					badSlices++
				}
			}
			require.Equal(t, &slo.ReportSlices{Good: goodSlices, Bad: badSlices}, s.Slices, id)
			require.Positive(t, badSlices, "the outage makes bad minutes")
		}
		for name, w := range s.Windows {
			d, err := time.ParseDuration(strings.Replace(name, "d", "h", 1))
			require.NoError(t, err)
			if strings.HasSuffix(name, "d") {
				d *= 24
			}
			if s.Budgeting != "occurrences" {
				continue
			}
			good, total := sum(id, at.Add(-d), at)
			require.Equal(t, good, w.Good, "%s window %s", id, name)
			require.Equal(t, total, w.Total, "%s window %s", id, name)
		}
		checked++
	}
	require.Equal(t, 5, checked)

	byID := map[string]slo.ReportSLO{}
	for _, s := range rep.SLOs {
		byID[s.Service+"/"+s.SLO] = s
	}
	// Ten minutes after a 40% error outage, the 1h window still burns hot but
	// the clean 5m window has reset page-1h; page-6h (short window 30m) fires.
	avail := byID["mart-api/availability"]
	require.Equal(t, slo.StatusViolated, avail.Status)
	require.Equal(t, "page-1h", avail.Alerts[0].Name)
	require.Greater(t, *avail.Windows["1h"].BurnRate, 14.4)
	require.Zero(t, *avail.Windows["5m"].BurnRate)
	require.False(t, avail.Alerts[0].Firing)
	require.Equal(t, "page-6h", avail.Alerts[1].Name)
	require.True(t, avail.Alerts[1].Firing)
}

// TestReportDefaultsToWatermark runs the README's first command on the
// bundled example logs.
func TestReportDefaultsToWatermark(t *testing.T) {
	code, out, errOut := kakeibo(t, nil, "report", "--specs", "../../testdata/specs", "--alb-logs", "../../testdata/alb")
	require.Equal(t, exitOK, code, errOut)
	require.Contains(t, out, "at 2026-10-01T23:55:00Z")
	require.Regexp(t, `mart-api/availability\s+✗ violated\s+99.95%\s+30d\s+99.38%\s+overspent 12.4×`, out)
	require.Regexp(t, `web-storefront/page-latency\s+✓ ok`, out)

	code, out, _ = kakeibo(t, nil, "report", "--specs", "../../testdata/specs", "--alb-logs", "../../testdata/alb", "--format", "markdown")
	require.Equal(t, exitOK, code)
	require.Contains(t, out, "| SLO | STATUS |")
}

func TestReportDataDirResumes(t *testing.T) {
	data := t.TempDir()
	args := []string{"report", "--specs", "../../testdata/specs", "--alb-logs", "../../testdata/alb", "--data-dir", data, "--format", "json"}
	code, first, errOut := kakeibo(t, nil, args...)
	require.Equal(t, exitOK, code, errOut)
	code, second, errOut := kakeibo(t, nil, args...)
	require.Equal(t, exitOK, code, errOut)
	require.JSONEq(t, first, second, "a second run over the same data dir counts nothing twice")

	db, err := alb.OpenDB(data)
	require.NoError(t, err)
	defer db.Close()
	store, err := alb.OpenBoltStore(db)
	require.NoError(t, err)
	w, ok, err := store.Watermark("app/mart-api/50dc6c495c0c9188")
	require.NoError(t, err)
	require.True(t, ok, "the data dir keeps the watermark")
	require.Equal(t, time.Date(2026, 10, 1, 23, 55, 0, 0, time.UTC), alb.MinuteTime(w))
}

func TestReportUsage(t *testing.T) {
	code, _, errOut := kakeibo(t, nil, "report")
	require.Equal(t, exitUsage, code)
	require.Contains(t, errOut, "--specs is required")
	code, _, errOut = kakeibo(t, nil, "report", "--specs", "../../testdata/specs", "--at", "yesterday")
	require.Equal(t, exitUsage, code)
	require.Contains(t, errOut, "not a time")
	code, _, errOut = kakeibo(t, map[string]string{"KAKEIBO_SPECS": "../../slo/testdata/all-errors"}, "report")
	require.Equal(t, exitFail, code)
	require.Contains(t, errOut, "unknown key")
}

// TestReportGoesOnPastBadObjects: a truncated log object in the tree is
// named with its reason, and the report is made from the rest.
func TestReportGoesOnPastBadObjects(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.CopyFS(dir, os.DirFS("../../testdata/alb")))
	day := filepath.Join(dir, "AWSLogs/123456789012/elasticloadbalancing/ap-northeast-1/2026/10/01")
	entries, err := os.ReadDir(day)
	require.NoError(t, err)
	var victim string
	for _, e := range entries {
		if strings.Contains(e.Name(), "_10.0.1.11_") && strings.HasSuffix(e.Name(), ".log.gz") {
			victim = filepath.Join(day, e.Name())
			break
		}
	}
	b, err := os.ReadFile(victim)
	require.NoError(t, err)
	bad := filepath.Join(day, strings.Replace(filepath.Base(victim), "_10.0.1.11_", "_10.0.1.99_", 1))
	require.NoError(t, os.WriteFile(bad, b[:len(b)/2], 0o644))
	code, out, errOut := kakeibo(t, nil, "report", "--specs", "../../testdata/specs", "--alb-logs", dir)
	require.Equal(t, exitIncomplete, code, "numbers printed, but incomplete: %s", errOut)
	require.Contains(t, errOut, "1 log object(s) could not be read and are not counted:")
	require.Contains(t, errOut, filepath.Base(bad)+": truncated:")
	require.Contains(t, out, "mart-api/availability")

	// The same in JSON, with a .log.gz that is not gzip: incomplete, with
	// the failed objects and the skipped lines by reason.
	notGzip := filepath.Join(day, strings.Replace(filepath.Base(victim), "_10.0.1.11_", "_10.0.1.98_", 1))
	require.NoError(t, os.WriteFile(notGzip, []byte("not a gzip stream\n"), 0o644))
	code, out, errOut = kakeibo(t, nil, "report", "--specs", "../../testdata/specs", "--alb-logs", dir, "--format", "json")
	require.Equal(t, exitIncomplete, code, errOut)
	var rep struct {
		Incomplete     bool             `json:"incomplete"`
		FailedObjects  map[string]int   `json:"failed_objects"`
		MalformedLines map[string]int64 `json:"malformed_lines"`
		SLOs           []slo.ReportSLO  `json:"slos"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &rep))
	require.True(t, rep.Incomplete)
	require.Equal(t, map[string]int{"truncated": 1, "not_gzip": 1}, rep.FailedObjects)
	require.Equal(t, map[string]int64{"unterminated_quote": 1}, rep.MalformedLines)
	require.NotEmpty(t, rep.SLOs)

	// Complete: no such keys, exit 0.
	code, out, _ = kakeibo(t, nil, "report", "--specs", "../../testdata/specs", "--alb-logs", "../../testdata/alb", "--format", "json")
	require.Equal(t, exitOK, code)
	require.NotContains(t, out, `"incomplete"`)
}

// TestReportPlainDirectory: logs exported without AWS's names (.log,
// .log.gz, .gz) in a flat directory are read, and their watermark comes
// from their entries: no --at needed.
func TestReportPlainDirectory(t *testing.T) {
	dir := t.TempDir()
	day := "../../testdata/alb/AWSLogs/123456789012/elasticloadbalancing/ap-northeast-1/2026/10/01"
	entries, err := os.ReadDir(day)
	require.NoError(t, err)
	n := 0
	for _, e := range entries {
		if !strings.Contains(e.Name(), "mart-api") || !strings.Contains(e.Name(), "_10.0.1.11_") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(day, e.Name()))
		require.NoError(t, err)
		name := []string{"export-%d.log.gz", "export-%d.gz"}[n%2]
		if !strings.HasSuffix(e.Name(), ".gz") {
			name = "export-%d.log" // plain text keeps a plain name: a .gz name promises gzip
		}
		require.NoError(t, os.WriteFile(filepath.Join(dir, fmt.Sprintf(name, n)), b, 0o644))
		n++
	}
	require.Greater(t, n, 200)
	code, out, errOut := kakeibo(t, nil, "report", "--specs", "../../testdata/specs/mart-api.yaml", "--alb-logs", dir, "--format", "json")
	require.Equal(t, exitOK, code, errOut)
	var rep slo.Report
	require.NoError(t, json.Unmarshal([]byte(out), &rep))
	for _, s := range rep.SLOs {
		require.NotEqual(t, slo.StatusNoData, s.Status, "%s: %s", s.SLO, s.Error)
		require.Equal(t, "2026-10-01T23:50:00Z", s.At.Format(time.RFC3339), "the watermark comes from the entries (newest 23:54, less one interval)")
	}
}

// TestReportSaysMalformedLines: skipped lines are counted by reason, not hidden.
func TestReportSaysMalformedLines(t *testing.T) {
	code, _, errOut := kakeibo(t, nil, "report", "--specs", "../../testdata/specs", "--alb-logs", "../../testdata/alb")
	require.Equal(t, exitOK, code, errOut)
	require.Contains(t, errOut, "1 malformed log line(s) skipped (unterminated_quote 1)")
}

// TestReadmeShowsTheReport: the table in the README is what the README's
// first command prints.
func TestReadmeShowsTheReport(t *testing.T) {
	code, out, errOut := kakeibo(t, nil, "report", "--specs", "../../testdata/specs", "--alb-logs", "../../testdata/alb")
	require.Equal(t, exitOK, code, errOut)
	readme, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	require.Contains(t, string(readme), "```text\n"+out+"```", "regenerate the README's table from the command")
}

// TestReportSkipsGroupedSLOs: a grouped SLO (sli.prometheus.by) is one SLO
// per route, found in Prometheus; without Prometheus report says it skips
// it instead of reporting all routes as one (TestServeGroupedSLO reports
// them with Prometheus).
func TestReportSkipsGroupedSLOs(t *testing.T) {
	code, out, errOut := kakeibo(t, nil, "report", "--specs", "../../rules/testdata/promtool/grouped.yaml", "--format", "json")
	require.Equal(t, exitOK, code, errOut)
	require.Contains(t, errOut, "kakeibo report: shop/routes: skipped: grouped by route, its groups are found in Prometheus: give --prometheus-url")
	var rep struct {
		At   time.Time `json:"at"`
		SLOs []any     `json:"slos"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &rep))
	require.Empty(t, rep.SLOs)
	require.WithinDuration(t, time.Now(), rep.At, time.Minute, "nothing evaluated: the report is of now")
}

// TestReportPeriod: kakeibo report --period 2026-10 on the bundled logs
// names the 14:00 UTC outage (23:00 in Tokyo, mart-api's zone) as what
// spent mart-api's budget, with its share, biggest first; the month's
// counts are those an evaluation whose windows hold the whole day counts.
func TestReportPeriod(t *testing.T) {
	args := []string{"report", "--specs", "../../testdata/specs", "--alb-logs", "../../testdata/alb", "--progress", "never", "--period", "2026-10"}
	code, stdout, stderr := kakeibo(t, nil, args...)
	require.Equal(t, exitOK, code, stderr)
	require.Regexp(t, `mart-api/availability\s+99.95%\s+99.382%\s+missed\s+1236.6%`, stdout)
	require.Contains(t, stdout, "mart-api/availability: what spent the budget\n  2026-10-01 23:00–23:20 JST: 66 bad events, 1200.2% of the period's budget\n")
	require.Contains(t, stdout, "past periods are reported from kakeibo's minute counts: ALB SLOs only for now")

	// For stakeholders: one HTML page, a section per service.
	code, html, stderr := kakeibo(t, nil, append(args, "--format", "html")...)
	require.Equal(t, exitOK, code, stderr)
	require.Contains(t, html, "<h1>mart-api: SLO report for 2026-10</h1>")
	require.Contains(t, html, `<tr><td>availability</td><td class="missed">missed (99.95%)</td><td>99.382%</td><td>1236.6%</td>`)
	require.Contains(t, html, "Oct 1 23:00–23:20 JST, 66 bad events, 1200.2% of the budget")
	require.NotContains(t, html, "<script")

	code, stdout, _ = kakeibo(t, nil, append(args, "--format", "json")...)
	require.Equal(t, exitOK, code)
	var period struct {
		SLOs []slo.PeriodReport `json:"slos"`
	}
	require.NoError(t, json.Unmarshal([]byte(stdout), &period))
	code, stdout, _ = kakeibo(t, nil, "report", "--specs", "../../testdata/specs", "--alb-logs", "../../testdata/alb", "--progress", "never", "--format", "json", "--at", "2026-10-03T00:00:00Z")
	require.Equal(t, exitOK, code)
	var now slo.Report
	require.NoError(t, json.Unmarshal([]byte(stdout), &now))
	checked := 0
	for _, p := range period.SLOs {
		for _, r := range now.SLOs {
			if p.Service == r.Service && p.SLO == r.SLO && p.SLI != nil {
				require.Equal(t, r.Good, p.Good, p.SLO)
				require.Equal(t, r.Total, p.Total, p.SLO)
				checked++
			}
		}
	}
	require.Equal(t, 4, checked, "every event-based ALB SLO")
	for _, p := range period.SLOs {
		if p.Service == "mart-api" && p.SLO == "availability" {
			require.Equal(t, 66.0, p.Spenders[0].Bad)
			for i := 1; i < len(p.Spenders); i++ {
				require.LessOrEqual(t, p.Spenders[i].Bad, p.Spenders[i-1].Bad, "biggest first")
			}
		}
	}
}
