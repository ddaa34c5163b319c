package server

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/kakeibo-slo/kakeibo/alerting"
	"github.com/kakeibo-slo/kakeibo/alerting/slack"
	"github.com/kakeibo-slo/kakeibo/alerting/slack/fakeslack"
)

// replayBundledDay feeds the bundled day of ALB logs to a service, as ALB
// delivers them, and returns the fake Slack.
func replayBundledDay(t *testing.T) *fakeslack.Server {
	return replayLogs(t, "../testdata/alb", "../testdata/specs",
		time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 10, 2, 0, 10, 0, 0, time.UTC),
		"mart-alerts", "mart-sre", "mart", "storefront-alerts", "storefront-sre", "storefront", "checkout-alerts", "search")
}

// replayLogs feeds the ALB logs under src to a service 5 minutes at a
// time, as ALB delivers them (each file appears when its interval ends,
// plus 2 minutes), on a clock that runs from `from` to `to` a minute at a
// time, evaluating and delivering every minute and ingesting every 5.
// It returns the fake Slack, which knows the named channels and dates
// messages on that clock.
func replayLogs(t *testing.T, src, specs string, from, to time.Time, channels ...string) *fakeslack.Server {
	var files []string
	require.NoError(t, filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			files = append(files, p)
		}
		return err
	}))
	sort.Slice(files, func(i, j int) bool { return deliveredAt(t, files[i]).Before(deliveredAt(t, files[j])) })

	dir := t.TempDir()
	logs := filepath.Join(dir, "logs")
	require.NoError(t, os.MkdirAll(logs, 0o755))
	f := fakeslack.New(t, "xoxb-replay", channels...)
	n, err := slack.New(slack.Config{Token: "xoxb-replay", APIURL: f.APIURL()})
	require.NoError(t, err)
	now := from
	f.Now = func() time.Time { return now }
	s, err := New(Config{SpecPaths: []string{specs}, DataDir: filepath.Join(dir, "data"), ALBLogs: logs,
		Registry: prometheus.NewRegistry(), Now: func() time.Time { return now },
		Notifiers: map[string]alerting.Notifier{alerting.ViaSlack: n}})
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })

	copyFile := func(p string) {
		rel, err := filepath.Rel(src, p)
		require.NoError(t, err)
		b, err := os.ReadFile(p)
		require.NoError(t, err)
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(logs, rel)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(logs, rel), b, 0o644))
	}
	i := 0
	for ; i < len(files) && deliveredAt(t, files[i]).IsZero(); i++ {
		copyFile(files[i])
	}
	first := true
	for now = from.Add(5 * time.Minute); now.Before(to); now = now.Add(time.Minute) {
		for ; i < len(files) && !deliveredAt(t, files[i]).After(now); i++ {
			copyFile(files[i])
		}
		if now.Minute()%5 == 2 || first {
			require.True(t, s.ingestOnce(t.Context(), first))
			first = false
		}
		s.evaluateOnce(t.Context())
		_, err := s.disp.Flush(t.Context())
		require.NoError(t, err)
	}
	return f
}

var logStamp = regexp.MustCompile(`_(\d{8}T\d{4}Z)_`)

// intervalEnd is the end of the 5-minute interval an ALB log file covers,
// from its name (zero for files that are not logs).
func intervalEnd(t *testing.T, p string) time.Time {
	m := logStamp.FindStringSubmatch(filepath.Base(p))
	if m == nil {
		return time.Time{}
	}
	at, err := time.Parse("20060102T1504Z", m[1])
	require.NoError(t, err)
	return at
}

// deliveredAt is when ALB delivers a log file: 2 minutes after its
// interval ends (zero: there from the start).
func deliveredAt(t *testing.T, p string) time.Time {
	end := intervalEnd(t, p)
	if end.IsZero() {
		return end
	}
	return end.Add(2 * time.Minute)
}

// TestReplayBundledDay: the bundled day, replayed as it would arrive. The
// 14:00 outage of mart-api is worth one page message per SLO (updated in
// place as alerts join and leave), one resolve per incident, and no ticket
// for the same burn. Counts of every kind are logged: before incidents were
// grouped, the same replay posted 24 messages (13 firing, 10 resolves); with
// grouping but one-minute uptime slices without a minimum, 10.
func TestReplayBundledDay(t *testing.T) {
	t.Parallel() // long: runs beside the package's other tests
	if testing.Short() {
		t.Skip("slow")
	}
	f := replayBundledDay(t)
	msgs := f.Messages()
	byKind := map[string]int{}
	var lines []string
	for _, m := range msgs {
		payload, _ := m.Metadata["event_payload"].(map[string]any)
		k := "?"
		if payload != nil {
			k = payload["kind"].(string)
		}
		byKind[k]++
		lines = append(lines, m.Posted.Format("15:04")+" "+k+" "+strings.SplitN(m.Text, " — ", 2)[0])
	}
	t.Logf("%d messages (%v), %d chat.update calls:\n%s", len(msgs), byKind, f.Calls("chat.update"), strings.Join(lines, "\n"))

	sloRE := regexp.MustCompile(`[a-z-]+/[a-z-]+`)
	outage := map[string]int{}
	parents := map[string]string{}
	for _, m := range msgs {
		kind := m.Metadata["event_payload"].(map[string]any)["kind"].(string)
		if m.ThreadTS == "" && kind != "digest" {
			parents[m.TS] = m.Text
			if h := m.Posted.UTC().Hour(); h >= 14 && h < 15 {
				outage[sloRE.FindString(m.Text)]++
			}
		}
		require.False(t, strings.Contains(m.Text, "[TICKET]") && strings.Contains(m.Text, "is burning"),
			"a burn ticket for the burn that paged: %s", m.Text)
	}
	require.Equal(t, map[string]int{"mart-api/availability": 1, "mart-api/uptime": 1}, outage, "one message per SLO for the outage")
	// The single 503 at 23:44 (and the 500 at 08:11) are one failed request
	// among a dozen: with the bundled uptime spec's per-slice minimum they
	// make no bad slice, so uptime posts nothing outside the outage.
	for _, m := range msgs {
		kind := m.Metadata["event_payload"].(map[string]any)["kind"].(string)
		if strings.Contains(m.Text, "mart-api/uptime") && m.ThreadTS == "" && kind != "digest" {
			require.Equal(t, 14, m.Posted.UTC().Hour(), "uptime posted outside the outage: %s", m.Text)
		}
	}
	replies := map[string]map[string]int{}
	for _, m := range msgs {
		if m.ThreadTS != "" {
			if replies[m.ThreadTS] == nil {
				replies[m.ThreadTS] = map[string]int{}
			}
			replies[m.ThreadTS][m.Metadata["event_payload"].(map[string]any)["kind"].(string)]++
		}
	}
	for ts, r := range replies {
		require.LessOrEqual(t, r["resolved"], r["reopened"]+1, "one resolve per incident (%s)", parents[ts])
	}
	require.Positive(t, f.Calls("chat.update"), "incidents are updated in place")
	require.LessOrEqual(t, len(msgs), 6, "a digest, two pages, their resolves, the exhaustion ticket")
}
