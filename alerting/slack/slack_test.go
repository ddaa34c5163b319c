package slack

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/kakeibo-slo/kakeibo/alerting"
	"github.com/kakeibo-slo/kakeibo/slo"
)

const testToken = "xoxb-planted-secret-token-123456"

func snapshot() *alerting.Snapshot {
	sli, rem, tte := 0.98, -0.25, 0.0
	return &alerting.Snapshot{
		Service: "shop", SLO: "availability", Alert: "page-1h", Severity: slo.Page, Window: "30d", Objective: 0.999,
		SLI: &sli, Long: "1h", Short: "5m", LongBurn: 20, ShortBurn: 31.5, Threshold: 14.4,
		BudgetRemaining: &rem, BudgetSeconds: 0, TTESeconds: &tte,
		Dashboard: "https://grafana.example.com/d/x", Runbook: "https://wiki.example.com/rb",
	}
}

// harness is a dispatcher over a bbolt outbox, delivering to the fake Slack
// through the real slack-go client, on a clock the test moves.
type harness struct {
	store *alerting.Store
	disp  *alerting.Dispatcher
	now   time.Time
	reg   *prometheus.Registry
	logs  *bytes.Buffer
}

func newHarness(t *testing.T, f *fakeSlack) *harness {
	db, err := bolt.Open(t.TempDir()+"/k.db", 0o600, nil)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	store, err := alerting.OpenStore(db)
	require.NoError(t, err)
	n, err := New(Config{Token: testToken, APIURL: f.URL + "/api"})
	require.NoError(t, err)
	h := &harness{store: store, now: time.Date(2026, 10, 1, 12, 0, 0, 0, time.UTC), reg: prometheus.NewRegistry(), logs: &bytes.Buffer{}}
	h.disp, err = alerting.NewDispatcher(alerting.DispatcherConfig{
		Store: store, Notifier: n, Now: func() time.Time { return h.now }, Registerer: h.reg,
		Logger: slog.New(slog.NewJSONHandler(h.logs, nil)),
	})
	require.NoError(t, err)
	return h
}

func (h *harness) enqueue(t *testing.T, ns ...alerting.Notification) {
	require.NoError(t, h.store.Apply(alerting.Change{Notifications: ns}))
}

func (h *harness) flush(t *testing.T) {
	_, err := h.disp.Flush(context.Background())
	require.NoError(t, err)
}

func firing(incident, channel string) alerting.Notification {
	return alerting.Notification{Key: "shop/availability/page-1h", Incident: incident, Kind: alerting.KindFiring, Channel: channel, Alert: snapshot()}
}

func TestMessageContentAndThreading(t *testing.T) {
	f := newFakeSlack(t)
	h := newHarness(t, f)
	resolved := firing("i1", "#shop-alerts")
	resolved.Kind = alerting.KindResolved
	repeat := firing("i1", "#shop-alerts")
	repeat.Kind = alerting.KindRepeat
	h.enqueue(t, firing("i1", "#shop-alerts"), repeat, resolved)
	h.flush(t)

	msgs := f.posted()
	require.Len(t, msgs, 3)
	first := msgs[0]
	require.Equal(t, "#shop-alerts", first.Channel)
	require.Empty(t, first.ThreadTS)
	require.Contains(t, first.Text, "[PAGE] shop/availability is burning its error budget (page-1h)")
	require.Len(t, first.Attachments, 1)
	require.Equal(t, "#d00000", first.Attachments[0]["color"])
	blocks := attachmentText(first.Attachments[0])
	for _, want := range []string{"98.000% (objective 99.9% over 30d)", "-25.0%", "20.00× over 1h, 31.50× over 5m (threshold 14.40×)",
		"<https://grafana.example.com/d/x|Dashboard>", "<https://wiki.example.com/rb|Runbook>"} {
		require.Contains(t, blocks, want)
	}
	require.Equal(t, "kakeibo_notification", first.Metadata["event_type"])

	// The repeat and the resolve go into the first message's thread; the
	// repeat is also broadcast to the channel.
	require.Equal(t, first.TS, msgs[1].ThreadTS)
	require.True(t, msgs[1].Broadcast)
	require.Contains(t, msgs[1].Text, "still firing")
	require.Equal(t, first.TS, msgs[2].ThreadTS)
	require.Contains(t, msgs[2].Text, "Resolved: shop/availability (page-1h)")
	require.Equal(t, "#2eb67d", msgs[2].Attachments[0]["color"])
	require.Equal(t, 3.0, testutil.ToFloat64(counter(h, "sent", "")))
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
	f := newFakeSlack(t)
	h := newHarness(t, f)
	f.failNext(1, 0, "", 30)
	h.enqueue(t, firing("i1", "#a"), firing("i2", "#b"))
	h.flush(t)
	require.Empty(t, f.posted())
	requests := f.requests

	h.now = h.now.Add(29 * time.Second)
	h.flush(t)
	require.Equal(t, requests, f.requests, "nothing is tried while rate limited")
	h.now = h.now.Add(2 * time.Second)
	h.flush(t)
	require.Len(t, f.posted(), 2)
	require.Equal(t, 1.0, testutil.ToFloat64(counter(h, "retry", "rate_limited")))
}

// TestServerErrorsForMinutes: a Slack outage of several minutes delays the
// notifications but loses none and duplicates none; order is kept.
func TestServerErrorsForMinutes(t *testing.T) {
	f := newFakeSlack(t)
	h := newHarness(t, f)
	resolved := firing("i1", "#a")
	resolved.Kind = alerting.KindResolved
	h.enqueue(t, firing("i1", "#a"), resolved, firing("i2", "#b"))
	f.failNext(1000, 500, "", 0)
	for range 10 * 60 { // ten minutes, a second at a time
		h.flush(t)
		h.now = h.now.Add(time.Second)
	}
	require.Empty(t, f.posted())
	f.failNext(0, 0, "", 0)
	h.now = h.now.Add(5 * time.Minute)
	h.flush(t)
	msgs := f.posted()
	require.Len(t, msgs, 3)
	require.Equal(t, "#a", msgs[0].Channel)
	require.Empty(t, msgs[0].ThreadTS)
	require.Equal(t, msgs[0].TS, msgs[1].ThreadTS, "the resolve waited for its firing message")
	h.flush(t)
	require.Len(t, f.posted(), 3, "nothing twice")
	pending, err := h.store.Pending()
	require.NoError(t, err)
	require.Empty(t, pending)
	require.Positive(t, testutil.ToFloat64(counter(h, "retry", "server_error")))
}

// TestPermanentErrors are logged, counted with their reason and dropped.
func TestPermanentErrors(t *testing.T) {
	for _, apiErr := range []string{"channel_not_found", "not_in_channel", "invalid_auth"} {
		t.Run(apiErr, func(t *testing.T) {
			f := newFakeSlack(t)
			h := newHarness(t, f)
			f.failNext(1, 0, apiErr, 0)
			h.enqueue(t, firing("i1", "#gone"), firing("i2", "#ok"))
			h.flush(t)
			msgs := f.posted()
			require.Len(t, msgs, 1)
			require.Equal(t, "#ok", msgs[0].Channel)
			pending, err := h.store.Pending()
			require.NoError(t, err)
			require.Empty(t, pending, "not retried forever")
			require.Equal(t, 1.0, testutil.ToFloat64(counter(h, "dropped", apiErr)))
			require.Contains(t, h.logs.String(), apiErr)
		})
	}
}

// TestTokenNeverLeaks plants a token and greps logs, errors and metrics.
func TestTokenNeverLeaks(t *testing.T) {
	f := newFakeSlack(t)
	h := newHarness(t, f)
	f.failNext(2, 500, "", 0)
	h.enqueue(t, firing("i1", "#a"))
	h.flush(t)
	f.failNext(1, 0, "invalid_auth", 0)
	h.now = h.now.Add(time.Hour)
	h.flush(t)
	require.True(t, f.tokens["Bearer "+testToken], "the token is used")

	var metrics bytes.Buffer
	mfs, err := h.reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		metrics.WriteString(mf.String())
	}
	pending, _ := h.store.Pending()
	for _, where := range []string{h.logs.String(), metrics.String(), strings.Join(lastErrors(pending), "\n")} {
		require.NotContains(t, where, testToken)
		require.NotContains(t, where, "planted-secret")
	}
	require.NotEmpty(t, h.logs.String())
}

func lastErrors(ns []alerting.Notification) []string {
	var out []string
	for _, n := range ns {
		out = append(out, n.LastError)
	}
	return out
}

func TestDeliveredFindsAMessageByMetadata(t *testing.T) {
	f := newFakeSlack(t)
	n, err := New(Config{Token: testToken, APIURL: f.URL + "/api"})
	require.NoError(t, err)
	note := firing("i1", "#a")
	note.ID = 42
	note.Created = time.Now()
	_, found, err := n.Delivered(t.Context(), &note)
	require.NoError(t, err)
	require.False(t, found)
	rec, err := n.Notify(t.Context(), &note, nil)
	require.NoError(t, err)
	got, found, err := n.Delivered(t.Context(), &note)
	require.NoError(t, err)
	require.True(t, found)
	require.Equal(t, rec.TS, got.TS)
}

func TestWebhook(t *testing.T) {
	var body []byte
	srv := newWebhookServer(t, &body)
	n, err := New(Config{WebhookURL: srv})
	require.NoError(t, err)
	note := firing("i1", "#a")
	_, err = n.Notify(t.Context(), &note, nil)
	require.NoError(t, err)
	require.Contains(t, string(body), "is burning its error budget")
	require.Contains(t, string(body), `"color":"#d00000"`)
}
