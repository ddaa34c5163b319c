package slack

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/kakeibo-slo/kakeibo/alerting"
	"github.com/kakeibo-slo/kakeibo/alerting/slack/fakeslack"
	"github.com/kakeibo-slo/kakeibo/slo"
)

const testToken = "xoxb-planted-secret-token-123456"

func snapshot() *alerting.Snapshot {
	sli, rem, tte := 0.98, -0.25, 0.0
	return &alerting.Snapshot{
		Service: "shop", SLO: "availability", Alert: "page-1h", Severity: slo.Page, Window: "30d", Objective: 0.999,
		SLI: &sli, Long: "1h", Short: "5m", LongBurn: 20, ShortBurn: 31.5, Threshold: 14.4,
		BudgetRemaining: &rem, BudgetSeconds: 0, TTESeconds: &tte,
		Dashboard: "https://grafana.example.com/d/x?a=1&b=2", Runbook: "https://wiki.example.com/rb",
		Page: alerting.SLOPage("https://kakeibo.example.com/", "shop", "availability"),
	}
}

func newFake(t *testing.T) *fakeslack.Server {
	return fakeslack.New(t, testToken, "shop-alerts", "a", "b", "ok", "gone")
}

// harness is a dispatcher over a bbolt outbox, delivering to the fake Slack
// through the real slack-go client, on a clock the test moves.
type harness struct {
	store *alerting.Store
	disp  *alerting.Dispatcher
	n     *Notifier
	now   time.Time
	reg   *prometheus.Registry
	logs  *bytes.Buffer
}

func newHarness(t *testing.T, f *fakeslack.Server, client *http.Client) *harness {
	db, err := bolt.Open(t.TempDir()+"/k.db", 0o600, nil)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	store, err := alerting.OpenStore(db)
	require.NoError(t, err)
	n, err := New(Config{Token: testToken, APIURL: f.URL + "/api", HTTPClient: client})
	require.NoError(t, err)
	h := &harness{store: store, n: n, now: time.Now().UTC().Truncate(time.Second), reg: prometheus.NewRegistry(), logs: &bytes.Buffer{}}
	f.Now = func() time.Time { return h.now }
	h.disp, err = alerting.NewDispatcher(alerting.DispatcherConfig{
		Store: store, Notifiers: map[string]alerting.Notifier{alerting.ViaSlack: n}, Now: func() time.Time { return h.now }, Registerer: h.reg,
		Logger: slog.New(slog.NewJSONHandler(h.logs, nil)),
	})
	require.NoError(t, err)
	return h
}

func (h *harness) enqueue(t *testing.T, ns ...alerting.Notification) {
	for i := range ns {
		if ns[i].Created.IsZero() {
			ns[i].Created = h.now
		}
	}
	require.NoError(t, h.store.Apply(alerting.Change{Notifications: ns}))
}

func (h *harness) flush(t *testing.T) {
	_, err := h.disp.Flush(context.Background())
	require.NoError(t, err)
}

func (h *harness) pending(t *testing.T) []alerting.Notification {
	p, err := h.store.Pending()
	require.NoError(t, err)
	return p
}

func firing(incident, channel string) alerting.Notification {
	return alerting.Notification{Key: "shop/availability/page-1h", Incident: incident, Kind: alerting.KindFiring,
		Target: alerting.Target{Via: alerting.ViaSlack, Channel: channel}, Alert: snapshot(), UID: alerting.NewUID()}
}

func kind(n alerting.Notification, k alerting.Kind) alerting.Notification {
	n.Kind, n.UID = k, alerting.NewUID()
	return n
}

// once asserts that every message carries a distinct kakeibo uid.
func once(t *testing.T, msgs []fakeslack.Message) map[string]fakeslack.Message {
	t.Helper()
	seen := map[string]fakeslack.Message{}
	for _, m := range msgs {
		uid := fmt.Sprint(m.Metadata["event_payload"].(map[string]any)["uid"])
		_, dup := seen[uid]
		require.False(t, dup, "notification %s posted twice", uid)
		seen[uid] = m
	}
	return seen
}

func TestMessageContentAndThreading(t *testing.T) {
	f := newFake(t)
	h := newHarness(t, f, nil)
	first := firing("i1", "#shop-alerts")
	h.enqueue(t, first)
	h.flush(t)
	p := f.Messages()[0]
	require.Equal(t, f.ChannelID("#shop-alerts"), p.Channel)
	require.Empty(t, p.ThreadTS)
	require.Contains(t, p.Text, "[PAGE] shop/availability is burning its error budget (page-1h)")
	require.Len(t, p.Attachments, 1)
	require.Equal(t, "#d00000", p.Attachments[0]["color"])
	blocks := attachmentText(p.Attachments[0])
	for _, want := range []string{"98.000% (objective 99.9% over 30d)", "overspent: 1.25× the budget is spent", "20.00× over 1h, 31.50× over 5m (threshold 14.40×)",
		"<https://kakeibo.example.com/slos/shop/availability|SLO page>",
		"<https://grafana.example.com/d/x?a=1&amp;b=2|Dashboard>", "<https://wiki.example.com/rb|Runbook>"} {
		require.Contains(t, blocks, want)
	}
	require.Equal(t, "kakeibo_notification", p.Metadata["event_type"])

	// An update changes the message in place; the repeat and the resolve
	// go into its thread and are broadcast to the channel; the resolve also
	// turns the first message green.
	update := kind(first, alerting.KindUpdate)
	update.Alert = snapshot()
	update.Alert.Alert = "page-1h, page-6h"
	resolved := kind(first, alerting.KindResolved)
	resolved.Alert = snapshot()
	// An incident within one day (h.now is the wall clock, which may be
	// near midnight; a span across days is written with dates).
	since := h.now.Truncate(24 * time.Hour).Add(time.Hour)
	resolved.Alert.Since, resolved.Alert.ResolvedAt = since, since.Add(20*time.Minute)
	h.enqueue(t, update)
	h.flush(t)
	msgs := f.Messages()
	require.Len(t, msgs, 1)
	require.Equal(t, 1, msgs[0].Edits)
	require.Contains(t, msgs[0].Text, "[PAGE] shop/availability is burning its error budget (page-1h, page-6h)")
	h.enqueue(t, kind(first, alerting.KindRepeat))
	h.flush(t)
	h.enqueue(t, resolved)
	h.flush(t)
	msgs = f.Messages()
	require.Len(t, msgs, 3)
	require.Equal(t, p.TS, msgs[1].ThreadTS)
	require.True(t, msgs[1].Broadcast)
	require.Contains(t, msgs[1].Text, "still firing")
	require.Equal(t, p.TS, msgs[2].ThreadTS)
	require.True(t, msgs[2].Broadcast, "a resolve is not missed")
	span := since.Format("15:04") + "–" + since.Add(20*time.Minute).Format("15:04 MST")
	require.Contains(t, msgs[2].Text, "Resolved: shop/availability (page-1h) "+span)
	require.Equal(t, "#2eb67d", msgs[2].Attachments[0]["color"])
	require.Equal(t, 2, msgs[0].Edits)
	require.Contains(t, msgs[0].Text, "Resolved: shop/availability (page-1h) "+span, "the first message says it resolved")
	require.Equal(t, 4.0, testutil.ToFloat64(counter(h, "sent", "")))
	once(t, msgs)
}

// TestChannelNamesAreResolvedToIDs: names are looked up with
// conversations.list through every page, once, and looked up again when
// Slack no longer knows the cached ID's name (a renamed channel).
func TestChannelNamesAreResolvedToIDs(t *testing.T) {
	f := newFake(t)
	for i := range 2300 {
		f.AddChannel(fmt.Sprintf("team-%04d", i))
	}
	last := f.AddChannel("last-page")
	h := newHarness(t, f, nil)
	h.enqueue(t, firing("i1", "#last-page"), firing("i2", "#last-page"))
	h.flush(t)
	msgs := f.Messages()
	require.Len(t, msgs, 2)
	require.Equal(t, last, msgs[0].Channel)
	require.Equal(t, 3, f.Calls("conversations.list"), "2,306 channels are three pages of 1,000, listed once")

	// An unknown name: listed again (it may be new), then undeliverable.
	h.enqueue(t, firing("i3", "#no-such-channel"))
	h.flush(t)
	require.Equal(t, 6, f.Calls("conversations.list"))
	p := h.pending(t)
	require.Len(t, p, 1)
	require.True(t, p[0].Undeliverable)
	require.Equal(t, "channel_not_found", p[0].LastReason)
	// The channel is created: the next attempt finds and posts it.
	id := f.AddChannel("no-such-channel")
	h.now = h.now.Add(time.Minute)
	h.flush(t)
	require.Len(t, f.Messages(), 3)
	require.Equal(t, id, f.Messages()[2].Channel)
}

func attachmentText(a map[string]any) string {
	var b strings.Builder
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if s, ok := x["text"].(string); ok {
				b.WriteString(s + "\n")
			}
			for _, y := range x {
				walk(y)
			}
		case []any:
			for _, y := range x {
				walk(y)
			}
		}
	}
	walk(a["blocks"])
	return b.String()
}

func counter(h *harness, result, reason string) prometheus.Collector {
	mfs, _ := h.reg.Gather()
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["result"] == result && labels["reason"] == reason {
				return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "x"}, func() float64 { return m.GetCounter().GetValue() })
			}
		}
	}
	return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "x"}, func() float64 { return 0 })
}

// TestRateLimit honours 429 Retry-After: nothing is sent before it passes,
// and everything is sent once after.
func TestRateLimit(t *testing.T) {
	f := newFake(t)
	h := newHarness(t, f, nil)
	f.FailPosts(1, 0, 30, "")
	h.enqueue(t, firing("i1", "#a"), firing("i2", "#b"))
	h.flush(t)
	require.Empty(t, f.Messages())
	posts := f.Calls("chat.postMessage")

	h.now = h.now.Add(29 * time.Second)
	h.flush(t)
	require.Equal(t, posts, f.Calls("chat.postMessage"), "nothing is tried while rate limited")
	h.now = h.now.Add(2 * time.Second)
	h.flush(t)
	require.Len(t, f.Messages(), 2)
	require.Equal(t, 1.0, testutil.ToFloat64(counter(h, "retry", "rate_limited")))
	require.Zero(t, f.Calls("conversations.history"), "a 429 is certain: nothing to check")
}

// TestServerErrorsForMinutes: a Slack outage of several minutes delays the
// notifications but loses none and duplicates none; order is kept.
func TestServerErrorsForMinutes(t *testing.T) {
	f := newFake(t)
	h := newHarness(t, f, nil)
	first := firing("i1", "#a")
	h.enqueue(t, first, kind(first, alerting.KindResolved), firing("i2", "#b"))
	f.FailPosts(1000, 500, 0, "")
	for range 10 * 60 { // ten minutes, a second at a time
		h.flush(t)
		h.now = h.now.Add(time.Second)
	}
	require.Empty(t, f.Messages())
	f.FailPosts(0, 0, 0, "")
	h.now = h.now.Add(5 * time.Minute)
	h.flush(t)
	msgs := f.Messages()
	// The page and its resolve, both queued, are one message now.
	require.Len(t, msgs, 2)
	require.Equal(t, f.ChannelID("#a"), msgs[0].Channel)
	require.Empty(t, msgs[0].ThreadTS)
	require.Contains(t, msgs[0].Text, "Fired and resolved: shop/availability (page-1h)")
	require.Equal(t, f.ChannelID("#b"), msgs[1].Channel)
	require.Contains(t, msgs[1].Text, "[PAGE]")
	require.Equal(t, 1.0, testutil.ToFloat64(counter(h, "merged", "resolved")))
	h.flush(t)
	require.Len(t, f.Messages(), 2, "nothing twice")
	require.Empty(t, h.pending(t))
	require.Positive(t, testutil.ToFloat64(counter(h, "retry", "server_error")))
}

// TestSlowReplyIsCheckedNotResent: Slack stores the message and answers
// after 20 s; the client gives up first. The next attempt finds the message
// (by its uid: conversations.history for a parent, conversations.replies
// for a thread reply) instead of posting it again.
func TestSlowReplyIsCheckedNotResent(t *testing.T) {
	t.Parallel() // waits on a slow or real server: runs beside the others
	f := newFake(t)
	h := newHarness(t, f, &http.Client{Timeout: 2 * time.Second}) // far below the 20 s reply, far above any other answer on a busy machine
	first := firing("i1", "#a")
	h.enqueue(t, first)
	f.SlowPosts(20 * time.Second)
	h.flush(t)
	require.Len(t, f.Messages(), 1, "Slack has it")
	p := h.pending(t)
	require.Len(t, p, 1, "kakeibo does not know")
	require.True(t, p[0].InFlight)
	require.Equal(t, "network", p[0].LastReason)

	h.now = h.now.Add(2 * time.Second)
	h.flush(t)
	require.Len(t, f.Messages(), 1, "checked, not posted again")
	require.Empty(t, h.pending(t))
	require.Equal(t, 1.0, testutil.ToFloat64(counter(h, "sent", "verified")))
	require.Equal(t, 1, f.Calls("conversations.history"))

	// The same for a thread reply: found with conversations.replies; the
	// channel history (parents only) would never show it.
	h.enqueue(t, kind(first, alerting.KindRepeat))
	h.now = h.now.Add(time.Minute)
	h.flush(t) // the repeat times out
	require.Len(t, f.Messages(), 2)
	h.enqueue(t, kind(first, alerting.KindResolved)) // it waits behind the repeat
	h.now = h.now.Add(2 * time.Second)
	h.flush(t) // the repeat is found; the resolve times out
	require.Len(t, f.Messages(), 3)
	f.SlowPosts(0)
	h.now = h.now.Add(2 * time.Second)
	h.flush(t)
	msgs := f.Messages()
	require.Len(t, msgs, 3)
	once(t, msgs)
	require.Empty(t, h.pending(t))
	require.Equal(t, 2, f.Calls("conversations.replies"))
	require.Equal(t, msgs[0].TS, msgs[2].ThreadTS)

	// A check that fails (Slack down) is retried; nothing is posted blind.
	h.enqueue(t, firing("i2", "#b"))
	f.SlowPosts(20 * time.Second)
	h.flush(t)
	f.SlowPosts(0)
	f.Revoke("internal_error")
	for range 5 {
		h.now = h.now.Add(time.Minute)
		h.flush(t)
	}
	f.Restore()
	require.Len(t, f.Messages(), 4)
	require.Contains(t, h.logs.String(), "delivery check failed")
	h.now = h.now.Add(time.Hour)
	h.flush(t)
	once(t, f.Messages())
	require.Len(t, f.Messages(), 4)
	require.Empty(t, h.pending(t))
}

// TestRevokedTokenForTenMinutes: pages wait while the token is revoked
// (shown as undeliverable, counted in the gauge), none is posted before the
// fix, every one after it, once.
func TestRevokedTokenForTenMinutes(t *testing.T) {
	f := newFake(t)
	h := newHarness(t, f, nil)
	f.Revoke("token_revoked")
	start := h.now
	for i := range 10 {
		h.enqueue(t, firing(fmt.Sprintf("i%d", i), "#a"))
		for range 6 { // a minute, ten seconds at a time
			h.flush(t)
			h.now = h.now.Add(10 * time.Second)
		}
		stuck := h.disp.Undeliverable()
		require.Len(t, stuck, 1)
		require.Equal(t, alerting.Stuck{Route: "slack:#a", Reason: "token_revoked", Count: i + 1, Since: start,
			LastError: "token_revoked (permanent): token_revoked"}, stuck[0])
		require.Equal(t, float64(i+1), testutil.ToFloat64(undeliverable(h, "slack:#a", "token_revoked")))
	}
	require.Empty(t, f.Messages(), "nothing before the fix")
	require.Contains(t, h.logs.String(), `"level":"ERROR"`)
	f.Restore()
	fixed := h.now
	for range 6 * 60 {
		h.flush(t)
		h.now = h.now.Add(10 * time.Second)
		if len(f.Messages()) == 10 {
			break
		}
	}
	require.Len(t, once(t, f.Messages()), 10, "every page after the fix")
	require.LessOrEqual(t, h.now.Sub(fixed), time.Minute, "within a minute of the fix: the blocked route is probed every 30 s")
	for range 10 {
		h.now = h.now.Add(time.Hour)
		h.flush(t)
	}
	require.Len(t, f.Messages(), 10, "none twice")
	require.Empty(t, h.disp.Undeliverable())
}

func undeliverable(h *harness, route, reason string) prometheus.Collector {
	mfs, _ := h.reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() != "kakeibo_notifications_undeliverable" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["route"] == route && labels["reason"] == reason {
				return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "x"}, func() float64 { return m.GetGauge().GetValue() })
			}
		}
	}
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "x"}, func() float64 { return 0 })
}

// TestPermanentErrorsWait: permanent failures keep the notification
// pending (undeliverable, counted with their reason) while the rest go out.
func TestPermanentErrorsWait(t *testing.T) {
	for _, apiErr := range []string{"channel_not_found", "not_in_channel", "invalid_auth"} {
		t.Run(apiErr, func(t *testing.T) {
			f := newFake(t)
			h := newHarness(t, f, nil)
			f.FailPosts(1, 0, 0, apiErr)
			h.enqueue(t, firing("i1", "#gone"), firing("i2", "#ok"))
			h.flush(t)
			msgs := f.Messages()
			require.Len(t, msgs, 1)
			require.Equal(t, f.ChannelID("#ok"), msgs[0].Channel)
			p := h.pending(t)
			require.Len(t, p, 1, "kept, not dropped")
			require.True(t, p[0].Undeliverable)
			require.Equal(t, 1.0, testutil.ToFloat64(counter(h, "undeliverable", apiErr)))
			require.Contains(t, h.logs.String(), apiErr)
			h.now = h.now.Add(time.Minute)
			h.flush(t)
			require.Len(t, f.Messages(), 2, "delivered once the cause is gone")
		})
	}
}

// TestMentionsAndEscaping: page mentions are rendered in Slack's syntax;
// spec text cannot add mentions or links of its own.
func TestMentionsAndEscaping(t *testing.T) {
	f := newFake(t)
	h := newHarness(t, f, nil)
	n := firing("i1", "#a")
	n.Mention = []string{"@here", "S0123ABCD", "U0456EFGH"}
	n.Alert.Dashboard = "https://grafana.example.com/d/x|Dashboard> <!channel> <https://evil.example|x"
	n.Alert.Service = "shop<!channel>"
	h.enqueue(t, n)
	h.flush(t)
	require.True(t, strings.HasPrefix(f.Messages()[0].Text, "<!here> <!subteam^S0123ABCD> <@U0456EFGH> "), f.Messages()[0].Text)
	h.enqueue(t, kind(n, alerting.KindResolved))
	h.flush(t)
	msgs := f.Messages()
	require.Len(t, msgs, 2)
	require.NotContains(t, msgs[1].Text, "<!here>", "a resolve does not ping")
	for _, m := range msgs {
		all := m.Text + attachmentText(m.Attachments[0])
		require.NotContains(t, all, "<!channel>")
		require.NotContains(t, all, "<https://evil.example")
		require.Contains(t, all, "&lt;!channel&gt;")
	}
}

// TestSecretsNeverLeak plants a token and greps logs, stored errors and
// metrics.
func TestSecretsNeverLeak(t *testing.T) {
	f := newFake(t)
	h := newHarness(t, f, nil)
	f.FailPosts(2, 500, 0, "")
	h.enqueue(t, firing("i1", "#a"))
	h.flush(t)
	f.Revoke("invalid_auth")
	h.now = h.now.Add(time.Hour)
	h.flush(t)
	require.Positive(t, f.Calls("chat.postMessage"))

	var metrics bytes.Buffer
	mfs, err := h.reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		metrics.WriteString(mf.String())
	}
	for _, where := range []string{h.logs.String(), metrics.String(), strings.Join(lastErrors(h.pending(t)), "\n")} {
		require.NotContains(t, where, testToken)
		require.NotContains(t, where, "planted-secret")
	}
	require.NotEmpty(t, h.logs.String())
}

// TestWebhookURLNeverLeaks: the URL of an incoming webhook is its secret;
// Go's HTTP errors quote it, kakeibo's errors must not.
func TestWebhookURLNeverLeaks(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	secretURL := srv.URL + "/services/T000/B000/planted-webhook-secret"
	srv.Close() // connection refused: the error names the URL
	n, err := New(Config{WebhookURL: secretURL, HTTPClient: &http.Client{Timeout: time.Second}})
	require.NoError(t, err)
	note := firing("i1", "#a")
	_, err = n.Notify(t.Context(), &note, nil)
	require.Error(t, err)
	require.NotContains(t, err.Error(), "planted-webhook-secret")
	require.Contains(t, err.Error(), "[SLACK_WEBHOOK_URL]")
}

func lastErrors(ns []alerting.Notification) []string {
	var out []string
	for _, n := range ns {
		out = append(out, n.LastError)
	}
	return out
}

func TestDeliveredFindsMessagesByUID(t *testing.T) {
	f := newFake(t)
	n, err := New(Config{Token: testToken, APIURL: f.URL + "/api"})
	require.NoError(t, err)
	note := firing("i1", "#a")
	note.Created = time.Now()
	_, found, err := n.Delivered(t.Context(), &note, nil)
	require.NoError(t, err)
	require.False(t, found)
	rec, err := n.Notify(t.Context(), &note, nil)
	require.NoError(t, err)
	require.Equal(t, f.ChannelID("#a"), rec.Channel)
	got, found, err := n.Delivered(t.Context(), &note, nil)
	require.NoError(t, err)
	require.True(t, found)
	require.Equal(t, rec.TS, got.TS)

	reply := kind(note, alerting.KindResolved)
	_, found, err = n.Delivered(t.Context(), &reply, &rec)
	require.NoError(t, err)
	require.False(t, found)
	rrec, err := n.Notify(t.Context(), &reply, &rec)
	require.NoError(t, err)
	got, found, err = n.Delivered(t.Context(), &reply, &rec)
	require.NoError(t, err)
	require.True(t, found, "a reply is found in its thread")
	require.Equal(t, rrec.TS, got.TS)
	// conversations.history lists parents, and replies only when broadcast:
	// resolves are, so the channel sees them.
	require.Len(t, f.Messages(), 2)
	require.True(t, f.Messages()[1].Broadcast)
}

func TestWebhook(t *testing.T) {
	var body []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := make([]byte, r.ContentLength)
		_, _ = r.Body.Read(b)
		body = b
		fmt.Fprint(w, "ok")
	}))
	t.Cleanup(srv.Close)
	n, err := New(Config{WebhookURL: srv.URL})
	require.NoError(t, err)
	note := firing("i1", "#a")
	_, err = n.Notify(t.Context(), &note, nil)
	require.NoError(t, err)
	require.Contains(t, string(body), "is burning its error budget")
	require.Contains(t, string(body), `"color":"#d00000"`)
}

// TestJapaneseAlerts: a service whose language is ja gets its alerts in
// Japanese, with natural durations.
func TestJapaneseAlerts(t *testing.T) {
	f := newFake(t)
	h := newHarness(t, f, nil)
	n := firing("i1", "#a")
	n.Alert.Language, n.Alert.TimeZone = "ja", "Asia/Tokyo"
	rem, tte := 0.25, 7380.0
	n.Alert.BudgetRemaining, n.Alert.BudgetSeconds, n.Alert.TTESeconds = &rem, 650, &tte
	n.Alert.At = time.Date(2026, 10, 1, 5, 12, 0, 0, time.UTC)
	h.enqueue(t, n)
	h.flush(t)
	m := f.Messages()[0]
	all := m.Text + attachmentText(m.Attachments[0])
	for _, want := range []string{"[PAGE] shop/availability がエラーバジェットを急速に消費しています（page-1h）",
		"*残りエラーバジェット*\n25%（10分50秒）", "*予算が尽きるまで*\nこのペースで2時間3分", "*時点*\n2026-10-01 14:12 JST", "|ダッシュボード>"} {
		require.Contains(t, all, want)
	}
}

// TestCheckThatKeepsFailingSurfaces: a post whose answer never came (Slack
// stored it) must be checked before it is sent again; when the check
// itself keeps failing (history answers an HTML error page), the fifth
// failure marks the notification undeliverable with reason check_failed:
// the gauge, the summary and an ERROR line say so, instead of a WARN
// every retry forever. Once the check works, the message is found, not
// posted again, and nothing is stuck.
func TestCheckThatKeepsFailingSurfaces(t *testing.T) {
	t.Parallel() // waits on a slow or real server: runs beside the others
	f := newFake(t)
	h := newHarness(t, f, &http.Client{Timeout: 2 * time.Second}) // far below the 20 s reply
	h.enqueue(t, firing("i1", "#a"))
	f.SlowPosts(20 * time.Second)
	h.flush(t)
	f.SlowPosts(0)
	require.Len(t, f.Messages(), 1, "Slack has it; kakeibo does not know")
	f.GarbleReads(true)
	for i := range 5 {
		h.now = h.now.Add(2 * time.Hour) // past any backoff
		h.flush(t)
		p := h.pending(t)
		require.Len(t, p, 1)
		require.Equal(t, i+1, p[0].CheckFailures)
		require.Equal(t, i == 4, p[0].Undeliverable, "check %d", i+1)
	}
	p := h.pending(t)
	require.Equal(t, alerting.ReasonCheckFailed, p[0].LastReason)
	stuck := h.disp.Undeliverable()
	require.Len(t, stuck, 1)
	require.Equal(t, alerting.ReasonCheckFailed, stuck[0].Reason)
	require.Equal(t, 1.0, testutil.ToFloat64(undeliverable(h, stuck[0].Route, alerting.ReasonCheckFailed)))
	require.Contains(t, h.logs.String(), `"level":"ERROR","msg":"notification cannot be delivered: its delivery check keeps failing`)
	require.Len(t, f.Messages(), 1, "never posted again while unsure")

	f.GarbleReads(false)
	h.now = h.now.Add(2 * time.Hour)
	h.flush(t)
	require.Empty(t, h.pending(t), "found by the check")
	require.Empty(t, h.disp.Undeliverable())
	require.Len(t, f.Messages(), 1, "not posted twice")
}

// TestRevokedThenFixedRepeatsMerged: an incident is paged, then the token
// is revoked for three minutes while five "still firing" repeats of it and
// a new incident's page queue up. While revoked, the route is probed
// about once per pass, not once per notification. After the fix,
// everything arrives within a minute, once, and the queued repeats go out
// as one reply with the newest numbers.
func TestRevokedThenFixedRepeatsMerged(t *testing.T) {
	f := newFake(t)
	h := newHarness(t, f, nil)
	first := firing("i1", "#a")
	h.enqueue(t, first)
	h.flush(t)
	require.Len(t, f.Messages(), 1)
	f.Revoke("token_revoked")
	posts := f.Calls("chat.postMessage")
	passes := 0
	for i := range 18 { // three minutes, ten seconds at a time
		if i%3 == 0 && i < 15 {
			h.enqueue(t, kind(first, alerting.KindRepeat))
		}
		if i == 4 {
			h.enqueue(t, firing("i2", "#a"))
		}
		h.flush(t)
		passes++
		h.now = h.now.Add(10 * time.Second)
	}
	require.Len(t, f.Messages(), 1, "nothing while revoked")
	require.LessOrEqual(t, f.Calls("chat.postMessage")-posts, passes, "at most one probe a pass")
	f.Restore()
	fixed := h.now
	for len(h.pending(t)) > 0 && h.now.Sub(fixed) < 5*time.Minute {
		h.flush(t)
		h.now = h.now.Add(10 * time.Second)
	}
	require.Empty(t, h.pending(t))
	require.LessOrEqual(t, h.now.Sub(fixed), time.Minute, "delivered within a minute of the fix")
	msgs := once(t, f.Messages())
	var repeats, pages int
	for _, m := range msgs {
		switch m.Metadata["event_payload"].(map[string]any)["kind"] {
		case string(alerting.KindRepeat):
			repeats++
		case string(alerting.KindFiring):
			pages++
		}
	}
	require.Equal(t, 1, repeats, "five queued repeats, one reply")
	require.Equal(t, 2, pages)
}
