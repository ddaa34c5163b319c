package alerting

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kakeibo-slo/kakeibo/slo"
)

func job(t *testing.T, schedule, tz string) ReminderJob {
	s, err := slo.ParseSchedule(schedule)
	require.NoError(t, err)
	loc, err := time.LoadLocation(tz)
	require.NoError(t, err)
	return ReminderJob{Key: "shop#0", Service: "shop", Channel: "#shop", Language: "en", Schedule: s, Location: loc}
}

func TestDueReminders(t *testing.T) {
	j := job(t, "0 11 * * MON-FRI", "Asia/Tokyo")
	// Wednesday 2026-11-25 10:59 JST = 01:59 UTC.
	before := time.Date(2026, 11, 25, 1, 59, 0, 0, time.UTC)

	// First sight: remember, do not send.
	due, upd := DueReminders([]ReminderJob{j}, nil, before)
	require.Empty(t, due)
	require.Equal(t, before, upd["shop#0"])

	runs := map[string]time.Time{"shop#0": before}
	due, _ = DueReminders([]ReminderJob{j}, runs, before.Add(30*time.Second))
	require.Empty(t, due, "not yet 11:00")
	due, upd = DueReminders([]ReminderJob{j}, runs, before.Add(time.Minute))
	require.Len(t, due, 1, "11:00 JST")
	runs["shop#0"] = upd["shop#0"]
	due, _ = DueReminders([]ReminderJob{j}, runs, before.Add(2*time.Minute))
	require.Empty(t, due, "once")

	// Saturday: nothing; the next is Monday 11:00 JST.
	friday := map[string]time.Time{"shop#0": time.Date(2026, 11, 27, 2, 1, 0, 0, time.UTC)}
	sat := time.Date(2026, 11, 28, 2, 0, 0, 0, time.UTC)
	due, upd = DueReminders([]ReminderJob{j}, friday, sat)
	require.Empty(t, due)
	require.NotContains(t, upd, "shop#0")
	due, _ = DueReminders([]ReminderJob{j}, friday, time.Date(2026, 11, 30, 2, 0, 0, 0, time.UTC))
	require.Len(t, due, 1, "Monday 11:00 JST")

	// Down for two days: the missed run is not sent late.
	due, upd = DueReminders([]ReminderJob{j}, map[string]time.Time{"shop#0": before}, before.Add(48*time.Hour))
	require.Empty(t, due)
	require.Contains(t, upd, "shop#0", "but it counts as run")
}

func TestDueRemindersAcrossDST(t *testing.T) {
	// 09:30 in Berlin every day: 08:30 UTC in winter, 07:30 UTC in summer.
	j := job(t, "30 9 * * *", "Europe/Berlin")
	check := func(last, at time.Time, want bool) {
		t.Helper()
		due, _ := DueReminders([]ReminderJob{j}, map[string]time.Time{"shop#0": last}, at)
		require.Equal(t, want, len(due) == 1, "at %s", at)
	}
	// Sunday 2026-03-29: clocks go forward at 02:00.
	last := time.Date(2026, 3, 28, 8, 31, 0, 0, time.UTC)
	check(last, time.Date(2026, 3, 29, 7, 29, 0, 0, time.UTC), false)
	check(last, time.Date(2026, 3, 29, 7, 30, 0, 0, time.UTC), true)
	// Sunday 2026-10-25: clocks go back at 03:00.
	last = time.Date(2026, 10, 24, 7, 31, 0, 0, time.UTC)
	check(last, time.Date(2026, 10, 25, 7, 30, 0, 0, time.UTC), false)
	check(last, time.Date(2026, 10, 25, 8, 30, 0, 0, time.UTC), true)
}

func digestResults(t *testing.T) []slo.Result {
	o := testObjective()
	o.Links.Dashboard = "https://grafana.example.com/d/x"
	lat := testObjective()
	lat.Name = "latency"
	at := time.Date(2026, 11, 25, 2, 0, 0, 0, time.UTC)
	return []slo.Result{result(o, at, 0.0001, nil), result(lat, at, 0.0001, pageBurn)}
}

var update = flag.Bool("update", false, "rewrite golden files")

// mixResults are one SLO of every status: kept, at risk, violated, stale
// (logs stopped 3 hours before the digest) and no data.
func mixResults(t *testing.T, at time.Time) []slo.Result {
	mk := func(name string) *slo.Objective {
		o := testObjective()
		o.Service, o.Name = "mart-api", name
		return o
	}
	kept, risk, violated, stale, none := mk("availability"), mk("latency"), mk("checkout"), mk("search"), mk("uptime")
	kept.Links.Dashboard = "https://grafana.example.com/d/kakeibo?var-service=mart-api&var-slo=availability"
	none.Window = slo.CalendarWindow("month", time.UTC)
	return []slo.Result{
		result(kept, at, 0.0001, nil),
		result(risk, at, 0.0001, pageBurn),
		result(violated, at, 0.0114, map[time.Duration]float64{24 * h: 0.0124}),
		slo.MarkStale(result(stale, at.Add(-3*h), 0.0002, nil), at, slo.DefaultStaleAfter),
		slo.Evaluate(none, at, slo.Input{Period: slo.Counts{}}),
	}
}

// TestDigestGolden renders digests of every mix of statuses in English and
// Japanese and compares them with reviewed golden files
// (go test ./alerting -run TestDigestGolden -update rewrites them).
func TestDigestGolden(t *testing.T) {
	tmpl, err := LoadTemplates("")
	require.NoError(t, err)
	tokyo, _ := time.LoadLocation("Asia/Tokyo")
	at := time.Date(2026, 11, 25, 2, 0, 0, 0, time.UTC) // 11:00 JST
	all := mixResults(t, at)
	for _, c := range []struct {
		name string
		pick []int
	}{
		{"kept", []int{0}},
		{"at-risk", []int{0, 1}},
		{"violated", []int{0, 1, 2}},
		{"stale", []int{0, 3}},
		{"no-data", []int{4, 0}},
		{"all", []int{0, 1, 2, 3, 4}},
	} {
		var rs []slo.Result
		for _, i := range c.pick {
			rs = append(rs, all[i])
		}
		for _, lang := range []string{"en", "ja"} {
			t.Run(c.name+"."+lang, func(t *testing.T) {
				d := BuildDigest("#mart", lang, rs, at, tokyo)
				// Through the outbox's JSON and back, as serve delivers it.
				b, err := json.Marshal(d)
				require.NoError(t, err)
				var back Digest
				require.NoError(t, json.Unmarshal(b, &back))
				text, err := tmpl.Digest(&back)
				require.NoError(t, err)
				path := filepath.Join("testdata", "digest-"+c.name+"."+lang+".golden")
				if *update {
					require.NoError(t, os.MkdirAll("testdata", 0o755))
					require.NoError(t, os.WriteFile(path, []byte(text), 0o644))
				}
				want, err := os.ReadFile(path)
				require.NoError(t, err)
				require.Equal(t, string(want), text)
				require.Contains(t, text, "JST")
				require.NotContains(t, text, "(0s)")
				require.NotRegexp(t, `-\d+(\.\d+)?%`, text, "an overspent budget is said in words, not as a negative percent")
			})
		}
	}
}

func TestNaturalDuration(t *testing.T) {
	for _, c := range []struct {
		d      time.Duration
		en, ja string
	}{
		{0, "0 seconds", "0秒"},
		{52 * time.Second, "52 seconds", "52秒"},
		{38*time.Minute + 52800*time.Millisecond, "38 minutes 53 seconds", "38分53秒"},
		{2*time.Hour + 2*time.Minute + 59600*time.Millisecond, "2 hours 3 minutes", "2時間3分"},
		{time.Hour, "1 hour", "1時間"},
		{30 * 24 * time.Hour, "30 days", "30日間"},
		{26 * time.Hour, "1 day 2 hours", "1日2時間"},
		{24*time.Hour + 5*time.Minute, "1 day", "1日間"},
	} {
		require.Equal(t, c.en, NaturalDuration(c.d, "en"))
		require.Equal(t, c.ja, NaturalDuration(c.d, "ja"))
	}
}

func TestTemplatesOverride(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "digest.en.tmpl"), []byte(`{{len .Lines}} SLOs for {{.Channel}}`), 0o644))
	tmpl, err := LoadTemplates(dir)
	require.NoError(t, err)
	d := BuildDigest("#shop", "en", digestResults(t), time.Now(), nil)
	text, err := tmpl.Digest(&d)
	require.NoError(t, err)
	require.Equal(t, "2 SLOs for #shop", text)

	require.NoError(t, os.WriteFile(filepath.Join(dir, "digest.ja.tmpl"), []byte(`{{.Nope`), 0o644))
	_, err = LoadTemplates(dir)
	require.ErrorContains(t, err, "digest.ja.tmpl")
}

// TestRemindersOnDSTChangeoverDays runs the reminder scheduler minute by
// minute over each changeover day: a wall time that occurs twice runs once,
// a wall time skipped by the clocks runs once at the end of the gap, and
// the days around run once as usual.
func TestRemindersOnDSTChangeoverDays(t *testing.T) {
	for _, c := range []struct {
		name, tz, schedule string
		day                time.Time // the changeover date (local)
		want               string    // local time of the one run that day
	}{
		{"Berlin gap 02:30", "Europe/Berlin", "30 2 * * *", time.Date(2026, 3, 29, 0, 0, 0, 0, time.UTC), "03:00 CEST"},
		{"Berlin overlap 02:30", "Europe/Berlin", "30 2 * * *", time.Date(2026, 10, 25, 0, 0, 0, 0, time.UTC), "02:30 CEST"},
		{"Berlin 09:30 spring", "Europe/Berlin", "30 9 * * *", time.Date(2026, 3, 29, 0, 0, 0, 0, time.UTC), "09:30 CEST"},
		{"New York gap 02:30", "America/New_York", "30 2 * * *", time.Date(2026, 3, 8, 0, 0, 0, 0, time.UTC), "03:00 EDT"},
		{"New York overlap 01:30", "America/New_York", "30 1 * * *", time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), "01:30 EDT"},
		{"Sydney gap 02:15", "Australia/Sydney", "15 2 * * *", time.Date(2026, 10, 4, 0, 0, 0, 0, time.UTC), "03:00 AEDT"},
		{"Sydney overlap 02:30", "Australia/Sydney", "30 2 * * *", time.Date(2026, 4, 5, 0, 0, 0, 0, time.UTC), "02:30 AEDT"},
		{"Sydney every 20 min of the gap hour", "Australia/Sydney", "*/20 2 * * *", time.Date(2026, 10, 4, 0, 0, 0, 0, time.UTC), "03:00 AEDT"},
	} {
		t.Run(c.name, func(t *testing.T) {
			j := job(t, c.schedule, c.tz)
			loc := j.Location
			day := time.Date(c.day.Year(), c.day.Month(), c.day.Day(), 0, 0, 0, 0, loc)
			runs := map[string]time.Time{"shop#0": day.AddDate(0, 0, -1).Add(12 * time.Hour)}
			perDay := map[string][]string{}
			for now := day.AddDate(0, 0, -1).Add(12 * time.Hour); now.Before(day.AddDate(0, 0, 2)); now = now.Add(time.Minute) {
				due, upd := DueReminders([]ReminderJob{j}, runs, now)
				if len(due) > 0 {
					l := now.In(loc)
					perDay[l.Format("2006-01-02")] = append(perDay[l.Format("2006-01-02")], l.Format("15:04 MST"))
				}
				for k, v := range upd {
					runs[k] = v
				}
			}
			require.Equal(t, []string{c.want}, perDay[day.Format("2006-01-02")], "the changeover day")
			require.Len(t, perDay[day.AddDate(0, 0, 1).Format("2006-01-02")], map[bool]int{true: 3, false: 1}[strings.HasPrefix(c.schedule, "*/20")], "the day after")
		})
	}
}

// TestRemindersKeyedByIdentity: reordering a service's reminders keeps
// each reminder's last run.
func TestRemindersKeyedByIdentity(t *testing.T) {
	tokyo, _ := time.LoadLocation("Asia/Tokyo")
	a := slo.Reminder{Slack: "#a", Schedule: "0 11 * * *", Location: tokyo, Language: "ja"}
	b := slo.Reminder{Slack: "#b", Schedule: "0 18 * * *", Location: time.UTC, Language: "en"}
	svc := func(rs ...slo.Reminder) []*slo.Service {
		return []*slo.Service{{Name: "shop", Notify: slo.Notify{Reminders: rs}}}
	}
	e1, err := NewEngine(nil, svc(a, b))
	require.NoError(t, err)
	e2, err := NewEngine(nil, svc(b, a))
	require.NoError(t, err)
	keys := func(e *Engine) map[string]string {
		out := map[string]string{}
		for _, j := range e.jobs {
			out[j.Channel] = j.Key
		}
		return out
	}
	require.Equal(t, keys(e1), keys(e2))
	require.NotEqual(t, keys(e1)["#a"], keys(e1)["#b"])
}
