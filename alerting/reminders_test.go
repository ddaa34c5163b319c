package alerting

import (
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

func TestDigestText(t *testing.T) {
	tmpl, err := LoadTemplates("")
	require.NoError(t, err)
	tokyo, _ := time.LoadLocation("Asia/Tokyo")
	at := time.Date(2026, 11, 25, 11, 0, 0, 0, tokyo)

	d := BuildDigest("#shop", "en", digestResults(t), at)
	text, err := tmpl.Digest(&d)
	require.NoError(t, err)
	lines := strings.Split(text, "\n")
	require.Equal(t, "*1 of 2 SLOs need attention* (#shop, 2026-11-25 11:00 JST)", lines[0])
	require.Contains(t, text, ":white_check_mark: *shop/availability* — SLI 99.99% (objective 99.9% over 30d), budget left 90% (38m52.8s), fastest burn 0×")
	require.Contains(t, text, "<https://grafana.example.com/d/x|dashboard>")
	require.Contains(t, text, ":warning: *shop/latency*")
	require.Contains(t, text, "fastest burn 20× over 5m")

	d.Language = "ja"
	text, err = tmpl.Digest(&d)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(text, "*2件中1件のSLOに注意が必要です*"), text)
	require.Contains(t, text, "残りエラーバジェット 90%")

	ok := BuildDigest("#shop", "ja", digestResults(t)[:1], at)
	text, err = tmpl.Digest(&ok)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(text, "*1件のSLOはすべて守られています*"), text)
	ok.Language = "en"
	text, _ = tmpl.Digest(&ok)
	require.True(t, strings.HasPrefix(text, "*All 1 SLOs are kept*"), text)
}

func TestTemplatesOverride(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "digest.en.tmpl"), []byte(`{{len .Lines}} SLOs for {{.Channel}}`), 0o644))
	tmpl, err := LoadTemplates(dir)
	require.NoError(t, err)
	d := BuildDigest("#shop", "en", digestResults(t), time.Now())
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
