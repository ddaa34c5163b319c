package alerting_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/kakeibo-slo/kakeibo/alerting"
	"github.com/kakeibo-slo/kakeibo/alerting/slack"
	"github.com/kakeibo-slo/kakeibo/alerting/slack/fakeslack"
	"github.com/kakeibo-slo/kakeibo/alerting/webhook"
	"github.com/kakeibo-slo/kakeibo/slo"
)

// TestReceiversKeepTheirOwnThreads: one route, Slack and a webhook. The
// firing message goes to both, Slack first and the webhook last (the
// order that used to leave the webhook's receipt as the incident's
// thread); the repeat and the resolve then reach Slack as replies in the
// page's thread, and the page itself turns resolved in place, while the
// webhook gets each event as its own post. Then the other order.
func TestReceiversKeepTheirOwnThreads(t *testing.T) {
	for _, webhookFirst := range []bool{false, true} {
		name := "slack first"
		if webhookFirst {
			name = "webhook first"
		}
		t.Run(name, func(t *testing.T) {
			f := fakeslack.New(t, "xoxb-receivers", "shop-alerts")
			var mu sync.Mutex
			var hooks int
			hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body)
				mu.Lock()
				hooks++
				mu.Unlock()
			}))
			defer hook.Close()
			sn, err := slack.New(slack.Config{Token: "xoxb-receivers", APIURL: f.APIURL()})
			require.NoError(t, err)
			wn := webhook.New(webhook.Config{Getenv: func(k string) string {
				if k == "SHOP_HOOK" {
					return hook.URL
				}
				return ""
			}})
			db, err := bolt.Open(t.TempDir()+"/k.db", 0o600, nil)
			require.NoError(t, err)
			defer db.Close()
			store, err := alerting.OpenStore(db)
			require.NoError(t, err)
			now := time.Now().UTC().Truncate(time.Second)
			d, err := alerting.NewDispatcher(alerting.DispatcherConfig{Store: store, Now: func() time.Time { return now },
				Notifiers: map[string]alerting.Notifier{alerting.ViaSlack: sn, alerting.ViaWebhook: wn},
				Logger:    slog.New(slog.DiscardHandler)})
			require.NoError(t, err)

			targets := []alerting.Target{{Via: alerting.ViaSlack, Channel: "#shop-alerts"}, {Via: alerting.ViaWebhook, KeyEnv: "SHOP_HOOK"}}
			if webhookFirst {
				targets[0], targets[1] = targets[1], targets[0]
			}
			sli, rem := 0.98, -0.25
			snap := &alerting.Snapshot{Service: "shop", SLO: "availability", Alert: "page-1h", Severity: slo.Page, Window: "30d",
				Objective: 0.999, SLI: &sli, Long: "1h", Short: "5m", LongBurn: 20, ShortBurn: 31.5, Threshold: 14.4, BudgetRemaining: &rem}
			send := func(kind alerting.Kind) {
				var ns []alerting.Notification
				for _, tg := range targets {
					ns = append(ns, alerting.Notification{Key: "shop/availability/page-1h", Incident: "shop/availability/page-1h@1",
						Kind: kind, Target: tg, Alert: snap, Created: now, UID: alerting.NewUID()})
				}
				require.NoError(t, store.Apply(alerting.Change{Notifications: ns}))
				_, err := d.Flush(context.Background())
				require.NoError(t, err)
				now = now.Add(time.Minute)
			}
			send(alerting.KindFiring)
			send(alerting.KindRepeat)
			send(alerting.KindResolved)

			p, err := store.Pending()
			require.NoError(t, err)
			require.Empty(t, p, "everything delivered")
			var parents, replies []fakeslack.Message
			for _, m := range f.Messages() {
				if m.ThreadTS == "" {
					parents = append(parents, m)
				} else {
					replies = append(replies, m)
				}
			}
			require.Len(t, parents, 1, "one page in the channel: %+v", f.Messages())
			require.Len(t, replies, 2, "the repeat and the resolve, in its thread")
			for _, r := range replies {
				require.Equal(t, parents[0].TS, r.ThreadTS)
			}
			require.Positive(t, f.Calls("chat.update"), "the page is updated in place")
			mu.Lock()
			require.Equal(t, 3, hooks, "the webhook gets every event")
			mu.Unlock()
		})
	}
}
