package pagerduty

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/kakeibo-slo/kakeibo/alerting"
	"github.com/kakeibo-slo/kakeibo/slo"
)

const routingKey = "R0UTINGKEYplanted0000000000000000"

// fakeEvents speaks the Events API v2 as PagerDuty documents it
// (https://developer.pagerduty.com/docs/events-api-v2/trigger-events/):
// 202 {"status":"success"} for a valid event; 400 for an invalid one
// (unknown routing key, bad event_action, trigger without a payload); a
// trigger whose dedup_key names an open incident is added to it; a resolve
// closes it. Switches answer 429 or 5xx instead.
type fakeEvents struct {
	*httptest.Server
	mu        sync.Mutex
	incidents map[string]*incident // dedup_key → open or resolved incident
	opened    int
	fail      []int
	requests  int
}

type incident struct {
	triggers int
	resolved bool
	summary  string
	severity string
}

func newFakeEvents(t *testing.T) *fakeEvents {
	f := &fakeEvents{incidents: map[string]*incident{}}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.requests++
		if r.URL.Path != "/v2/enqueue" || r.Method != http.MethodPost {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		if len(f.fail) > 0 {
			code := f.fail[0]
			f.fail = f.fail[1:]
			if code == 429 {
				w.Header().Set("Retry-After", "20")
			}
			w.WriteHeader(code)
			_, _ = w.Write([]byte(`{"status":"throttle event","message":"try again"}`))
			return
		}
		var e Event
		if err := json.NewDecoder(r.Body).Decode(&e); err != nil || e.RoutingKey != routingKey || e.DedupKey == "" ||
			(e.EventAction != "trigger" && e.EventAction != "resolve") || (e.EventAction == "trigger" && (e.Payload == nil || e.Payload.Summary == "")) {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"status":"invalid event","message":"Event object is invalid"}`))
			return
		}
		inc := f.incidents[e.DedupKey]
		switch {
		case e.EventAction == "trigger" && (inc == nil || inc.resolved):
			inc = &incident{summary: e.Payload.Summary, severity: e.Payload.Severity}
			f.incidents[e.DedupKey] = inc
			f.opened++
			fallthrough
		case e.EventAction == "trigger":
			inc.triggers++
		case inc != nil:
			inc.resolved = true
		}
		w.WriteHeader(http.StatusAccepted)
		_ = json.NewEncoder(w).Encode(map[string]string{"status": "success", "message": "Event processed", "dedup_key": e.DedupKey})
	}))
	t.Cleanup(f.Close)
	return f
}

func TestTriggerRepeatResolveWithRetries(t *testing.T) {
	f := newFakeEvents(t)
	db, err := bolt.Open(t.TempDir()+"/k.db", 0o600, nil)
	require.NoError(t, err)
	defer db.Close()
	store, err := alerting.OpenStore(db)
	require.NoError(t, err)
	now := time.Date(2026, 10, 1, 14, 5, 0, 0, time.UTC)
	env := map[string]string{"PD_MART": routingKey}
	pd := New(Config{BaseURL: f.URL, Getenv: func(k string) string { return env[k] }})
	d, err := alerting.NewDispatcher(alerting.DispatcherConfig{Store: store, Now: func() time.Time { return now },
		Notifiers: map[string]alerting.Notifier{alerting.ViaPagerDuty: pd}})
	require.NoError(t, err)

	target := alerting.Target{Via: alerting.ViaPagerDuty, KeyEnv: "PD_MART"}
	snap := &alerting.Snapshot{Service: "mart-api", SLO: "availability", Alert: "page-1h", Severity: slo.Page, At: now,
		LongBurn: 20, ShortBurn: 30, Threshold: 14.4, Long: "1h", Short: "5m"}
	n := func(k alerting.Kind) alerting.Notification {
		return alerting.Notification{Key: "mart-api/availability/page-1h", Incident: "mart-api/availability/page-1h@1", Kind: k,
			Target: target, Alert: snap, Created: now, UID: alerting.NewUID()}
	}
	f.fail = []int{429, 500, 503}
	require.NoError(t, store.Apply(alerting.Change{Notifications: []alerting.Notification{n(alerting.KindFiring), n(alerting.KindRepeat), n(alerting.KindResolved)}}))
	for range 120 {
		_, err := d.Flush(t.Context())
		require.NoError(t, err)
		now = now.Add(time.Second)
	}
	pending, err := store.Pending()
	require.NoError(t, err)
	require.Empty(t, pending)
	require.Equal(t, 1, f.opened, "one incident: the repeat went to the open one")
	inc := f.incidents["mart-api/availability/page-1h@1"]
	require.Equal(t, 2, inc.triggers)
	require.True(t, inc.resolved)
	require.Equal(t, "critical", inc.severity)
	require.Contains(t, inc.summary, "mart-api/availability is burning its error budget")
	require.Equal(t, 3+3, f.requests, "three failures, then trigger, trigger, resolve")

	// A missing routing key is a permanent failure that waits.
	delete(env, "PD_MART")
	require.NoError(t, store.Apply(alerting.Change{Notifications: []alerting.Notification{n(alerting.KindFiring)}}))
	_, err = d.Flush(t.Context())
	require.NoError(t, err)
	stuck := d.Undeliverable()
	require.Len(t, stuck, 1)
	require.Equal(t, "pagerduty:$PD_MART", stuck[0].Route)
	require.Equal(t, "no_routing_key", stuck[0].Reason)
}

func TestEventForTicketAndBudget(t *testing.T) {
	p := New(Config{ExternalURL: "https://kakeibo.example.com"})
	n := &alerting.Notification{Key: "k", Incident: "k@1", Kind: alerting.KindFiring,
		Alert: &alerting.Snapshot{Service: "s", SLO: "o", Alert: alerting.AlertBudgetExhausted, Severity: slo.Ticket, Dashboard: "https://g/d"}}
	e := p.Event(n, "key")
	require.Equal(t, "trigger", e.EventAction)
	require.Equal(t, "warning", e.Payload.Severity)
	require.Equal(t, "slo_budget_exhausted", e.Payload.Class)
	require.Equal(t, []Link{{Href: "https://g/d", Text: "Dashboard"}}, e.Links)
	n.Kind = alerting.KindResolved
	e = p.Event(n, "key")
	require.Equal(t, Event{RoutingKey: "key", EventAction: "resolve", DedupKey: "k@1", Client: "kakeibo", ClientURL: "https://kakeibo.example.com"}, e)
}
