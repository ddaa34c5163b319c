package alerting

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/kakeibo-slo/kakeibo/slo"
)

// fakeNotifier records deliveries; failing makes it answer like a Slack outage.
type fakeNotifier struct {
	mu      sync.Mutex
	sent    []string
	failing bool
	seq     int
}

func (f *fakeNotifier) Notify(_ context.Context, n *Notification, thread *Receipt) (Receipt, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failing {
		return Receipt{}, &SendError{Err: errors.New("HTTP 500"), Reason: "server_error"}
	}
	f.seq++
	ts := fmt.Sprintf("ts-%d", f.seq)
	line := fmt.Sprintf("%s %s %s", n.Kind, n.Alert.Alert, n.Channel)
	if thread != nil {
		line += " in-thread " + thread.TS
	}
	f.sent = append(f.sent, line+" as "+ts)
	return Receipt{Channel: n.Channel, TS: ts}, nil
}

func (f *fakeNotifier) take() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.sent
	f.sent = nil
	return out
}

func (f *fakeNotifier) setFailing(b bool) {
	f.mu.Lock()
	f.failing = b
	f.mu.Unlock()
}

// TestEngineScenario drives the engine and the dispatcher on a fake clock
// (testing/synctest) through an outage during a Slack outage, a restart,
// a repeat and the recovery, checking exactly which messages go out.
func TestEngineScenario(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		o := testObjective()
		services := []*slo.Service{{Name: "shop", SLOs: []*slo.Objective{o},
			Notify: slo.Notify{Page: slo.Route{Slack: "#page"}, Ticket: slo.Route{Slack: "#ticket"}}}}
		slack := &fakeNotifier{}
		page1h := map[time.Duration]float64{5 * m: 0.02, h: 0.02}

		type proc struct {
			db     *bolt.DB
			engine *Engine
			cancel context.CancelFunc
			done   chan struct{}
		}
		start := func() *proc {
			db, err := bolt.Open(dir+"/kakeibo.db", 0o600, nil)
			require.NoError(t, err)
			store, err := OpenStore(db)
			require.NoError(t, err)
			engine, err := NewEngine(store, services)
			require.NoError(t, err)
			disp, err := NewDispatcher(DispatcherConfig{Store: store, Notifiers: map[string]Notifier{ViaSlack: slack}})
			require.NoError(t, err)
			ctx, cancel := context.WithCancel(context.Background())
			p := &proc{db: db, engine: engine, cancel: cancel, done: make(chan struct{})}
			go func() { defer close(p.done); _ = disp.Run(ctx, engine.Changed(), time.Minute) }()
			return p
		}
		stop := func(p *proc) {
			p.cancel()
			<-p.done
			require.NoError(t, p.db.Close())
		}
		observe := func(p *proc, burn map[time.Duration]float64) {
			now := time.Now()
			_, err := p.engine.Observe([]slo.Result{result(o, now, 0.0001, burn)}, now)
			require.NoError(t, err)
			synctest.Wait()
		}

		p := start()
		observe(p, nil)
		require.Empty(t, slack.take())

		// The outage starts while Slack is down: nothing is lost.
		slack.setFailing(true)
		observe(p, page1h)
		for range 10 {
			time.Sleep(time.Minute)
			observe(p, page1h)
		}
		require.Empty(t, slack.take())
		slack.setFailing(false)
		time.Sleep(5 * time.Minute) // the backoff is capped at 5m
		synctest.Wait()
		require.Equal(t, []string{"firing page-1h #page as ts-1"}, slack.take())

		// A restart in the middle of the incident: no second page.
		stop(p)
		p = start()
		observe(p, page1h)
		time.Sleep(time.Hour)
		observe(p, page1h)
		require.Empty(t, slack.take())

		// Four hours after the first page: a repeat, in the thread.
		time.Sleep(3 * time.Hour)
		observe(p, page1h)
		require.Equal(t, []string{"repeat page-1h #page in-thread ts-1 as ts-2"}, slack.take())

		// Recovery: one resolve, in the thread of the first message,
		// delivered after another short Slack outage.
		slack.setFailing(true)
		time.Sleep(time.Minute)
		observe(p, nil)
		require.Empty(t, slack.take())
		slack.setFailing(false)
		time.Sleep(2 * time.Second) // first retry after 1s
		synctest.Wait()
		require.Equal(t, []string{"resolved page-1h #page in-thread ts-1 as ts-3"}, slack.take())

		// Nothing more, ever.
		time.Sleep(24 * time.Hour)
		observe(p, nil)
		require.Empty(t, slack.take())
		pending, err := p.engine.store.Pending()
		require.NoError(t, err)
		require.Empty(t, pending)
		stop(p)
	})
}

// TestDispatcherPermanentFailure keeps what cannot be delivered yet (an
// unknown channel) in the outbox, shown as undeliverable and announced once
// on the ops route, goes on with the rest, and delivers it once fixed.
func TestDispatcherPermanentFailure(t *testing.T) {
	db, err := bolt.Open(t.TempDir()+"/k.db", 0o600, nil)
	require.NoError(t, err)
	defer db.Close()
	store, err := OpenStore(db)
	require.NoError(t, err)
	now := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	snap := &Snapshot{Service: "shop", SLO: "a", Alert: "page-1h"}
	gone := Target{Via: ViaSlack, Channel: "#gone"}
	require.NoError(t, store.Apply(Change{Notifications: []Notification{
		{Key: "a", Incident: "a@1", Kind: KindFiring, Target: gone, Alert: snap, Created: now},
		{Key: "b", Incident: "b@1", Kind: KindFiring, Target: Target{Channel: "#page"}, Alert: snap, Created: now},
		{Key: "a", Incident: "a@1", Kind: KindResolved, Target: gone, Alert: snap, Created: now},
	}}))
	var mu sync.Mutex
	exists := false
	var sent []string
	n := notifierFunc(func(n *Notification) (Receipt, error) {
		mu.Lock()
		defer mu.Unlock()
		if n.Channel == "#gone" && !exists {
			return Receipt{}, &SendError{Err: errors.New("channel_not_found"), Permanent: true, Reason: "channel_not_found"}
		}
		sent = append(sent, n.Channel+" "+string(n.Kind))
		return Receipt{Channel: n.Channel, TS: "1"}, nil
	})
	reg := prometheus.NewRegistry()
	d, err := NewDispatcher(DispatcherConfig{Store: store, Notifiers: map[string]Notifier{ViaSlack: n},
		Now: func() time.Time { return now }, Ops: Target{Via: ViaSlack, Channel: "#ops"}, Registerer: reg})
	require.NoError(t, err)
	for range 3 { // flushing again before the backoff ends changes nothing
		_, err = d.Flush(t.Context())
		require.NoError(t, err)
	}
	require.Equal(t, []string{"#page firing", "#ops ops"}, sent, "the rest and the ops route are delivered")
	pending, err := store.Pending()
	require.NoError(t, err)
	require.Len(t, pending, 1, "the firing waits, merged with its resolve (both were queued)")
	require.True(t, pending[0].Undeliverable)
	require.Equal(t, "channel_not_found", pending[0].LastReason)
	require.Equal(t, []Stuck{{Route: "slack:#gone", Reason: "channel_not_found", Count: 1, Since: now,
		LastError: "channel_not_found (permanent): channel_not_found"}}, d.Undeliverable())
	require.Equal(t, 1.0, testutil.ToFloat64(d.undeliverable.WithLabelValues("slack:#gone", "channel_not_found")))

	// Still missing an hour later: one more attempt each time the backoff
	// (1m, 2m, 4m, ... at most 1h) ends; still no second ops message.
	for range 60 {
		now = now.Add(time.Minute)
		_, err = d.Flush(t.Context())
		require.NoError(t, err)
	}
	require.Len(t, sent, 2)
	// The channel is created: the next attempt delivers, in order, once.
	mu.Lock()
	exists = true
	mu.Unlock()
	for range 70 {
		now = now.Add(time.Minute)
		_, err = d.Flush(t.Context())
		require.NoError(t, err)
	}
	require.Equal(t, []string{"#page firing", "#ops ops", "#gone firing"}, sent)
	pending, err = store.Pending()
	require.NoError(t, err)
	require.Empty(t, pending)
	require.Empty(t, d.Undeliverable())
	require.Equal(t, 0, testutil.CollectAndCount(d.undeliverable))
}

type notifierFunc func(*Notification) (Receipt, error)

func (f notifierFunc) Notify(_ context.Context, n *Notification, _ *Receipt) (Receipt, error) {
	return f(n)
}

// TestNoRouteGoesToOps: a notification of a service without a route for
// its severity goes to the ops route when one is set, and is dropped with a
// warning (counted as no_route) when none is.
func TestNoRouteGoesToOps(t *testing.T) {
	for _, ops := range []Target{{Via: ViaSlack, Channel: "#ops"}, {}} {
		db, err := bolt.Open(t.TempDir()+"/k.db", 0o600, nil)
		require.NoError(t, err)
		store, err := OpenStore(db)
		require.NoError(t, err)
		var sent []string
		n := notifierFunc(func(n *Notification) (Receipt, error) {
			sent = append(sent, n.Channel)
			return Receipt{Channel: n.Channel, TS: "1"}, nil
		})
		reg := prometheus.NewRegistry()
		d, err := NewDispatcher(DispatcherConfig{Store: store, Notifiers: map[string]Notifier{ViaSlack: n}, Ops: ops, Registerer: reg})
		require.NoError(t, err)
		require.NoError(t, store.Apply(Change{Notifications: []Notification{{Key: "a", Incident: "a@1", Kind: KindFiring,
			Alert: &Snapshot{Service: "search", SLO: "availability", Alert: "page-1h"}}}}))
		_, err = d.Flush(t.Context())
		require.NoError(t, err)
		pending, err := store.Pending()
		require.NoError(t, err)
		require.Empty(t, pending)
		if ops.IsZero() {
			require.Empty(t, sent)
			require.Equal(t, 1.0, testutil.ToFloat64(d.results.WithLabelValues("dropped", "no_route")))
		} else {
			require.Equal(t, []string{"#ops"}, sent)
		}
		require.NoError(t, db.Close())
	}
}

// TestOnlyTheNewestDigestPerChannel: digests queued during an outage are
// superseded by the newest one for their channel.
func TestOnlyTheNewestDigestPerChannel(t *testing.T) {
	db, err := bolt.Open(t.TempDir()+"/k.db", 0o600, nil)
	require.NoError(t, err)
	defer db.Close()
	store, err := OpenStore(db)
	require.NoError(t, err)
	var ns []Notification
	for i := range 8 {
		for _, ch := range []string{"#a", "#b"} {
			d := Digest{Channel: ch, Language: "en", At: time.Date(2026, 10, 1, i, 0, 0, 0, time.UTC)}
			ns = append(ns, Notification{Key: "reminder/" + ch, Kind: KindDigest, Target: Target{Channel: ch}, Digest: &d})
		}
	}
	require.NoError(t, store.Apply(Change{Notifications: ns}))
	var sent []string
	n := notifierFunc(func(n *Notification) (Receipt, error) {
		sent = append(sent, n.Channel+" "+n.Digest.At.Format("15:04"))
		return Receipt{}, nil
	})
	d, err := NewDispatcher(DispatcherConfig{Store: store, Notifiers: map[string]Notifier{ViaSlack: n}})
	require.NoError(t, err)
	_, err = d.Flush(t.Context())
	require.NoError(t, err)
	require.Equal(t, []string{"#a 07:00", "#b 07:00"}, sent)
}
