package alerting

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// DispatcherConfig configures a Dispatcher.
type DispatcherConfig struct {
	Store *Store
	// Notifiers deliver, by Target.NotifierKey: the integration (ViaSlack,
	// ViaPagerDuty, ViaWebhook), or slack:$VARIABLE for a Slack target with
	// its own token. A notification with no notifier is logged (dry run).
	Notifiers map[string]Notifier
	// Ops, when set, is told (once per route and reason) when notifications
	// cannot be delivered, and gets the notifications of services with no
	// route for their severity.
	Ops Target
	// Templates render digests; default the built-in ones.
	Templates *Templates
	Now       func() time.Time
	Logger    *slog.Logger
	// Redact removes secrets from error texts before they are logged or
	// stored; default keeps them as they are.
	Redact func(string) string
	// Registerer, when set, gets kakeibo_notifications_total and
	// kakeibo_notifications_undeliverable.
	Registerer prometheus.Registerer
	// MaxBackoff caps the wait between retries of transient failures
	// (default 5m); MaxPermanentBackoff of permanent ones (default 30s: a blocked route
	// is probed, one notification a pass, so a fix is seen within a minute).
	MaxBackoff, MaxPermanentBackoff time.Duration
	// MaxCheckFailures is how many delivery checks in a row may fail
	// before the notification counts as undeliverable (reason
	// check_failed; default 5): a check that keeps failing is as stuck as
	// a revoked token, and must show.
	MaxCheckFailures int
}

// Dispatcher delivers the outbox: in order per incident and target (a
// resolve never overtakes its firing message), retrying rate limits and
// server errors with backoff for as long as it takes. A permanent failure
// (revoked token, unknown channel) is not dropped: the notification waits,
// retried at most hourly, shown as undeliverable, until the cause is fixed.
// A delivery whose outcome is unknown is checked before it is sent again.
type Dispatcher struct {
	cfg           DispatcherConfig
	results       *prometheus.CounterVec
	undeliverable *prometheus.GaugeVec

	mu           sync.Mutex
	limitedUntil map[string]time.Time
	stuck        []Stuck
	announced    map[string]bool
	// enqueued counts ops notices added to the outbox; a pass that added
	// one asks for another pass at once, so the notice does not wait for
	// the failed notification's retry.
	enqueued int
	started  bool
}

// Stuck is a group of notifications that cannot be delivered.
type Stuck struct {
	Route     string    `json:"route"`
	Reason    string    `json:"reason"`
	Count     int       `json:"count"`
	Since     time.Time `json:"since"`
	LastError string    `json:"last_error"`
}

// NewDispatcher returns a Dispatcher.
func NewDispatcher(cfg DispatcherConfig) (*Dispatcher, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Redact == nil {
		cfg.Redact = func(s string) string { return s }
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 5 * time.Minute
	}
	if cfg.MaxPermanentBackoff <= 0 {
		cfg.MaxPermanentBackoff = 30 * time.Second
	}
	if cfg.MaxCheckFailures <= 0 {
		cfg.MaxCheckFailures = 5
	}
	if cfg.Templates == nil {
		t, err := LoadTemplates("")
		if err != nil {
			return nil, err
		}
		cfg.Templates = t
	}
	d := &Dispatcher{cfg: cfg, limitedUntil: map[string]time.Time{}, announced: map[string]bool{}}
	d.results = promauto.With(cfg.Registerer).NewCounterVec(prometheus.CounterOpts{
		Name: "kakeibo_notifications_total",
		Help: "Notification delivery attempts by result (sent, retry, undeliverable, dropped) and reason.",
	}, []string{"result", "reason"})
	d.results.WithLabelValues("sent", "") // exported from the start, for dashboards
	d.undeliverable = promauto.With(cfg.Registerer).NewGaugeVec(prometheus.GaugeOpts{
		Name: "kakeibo_notifications_undeliverable",
		Help: "Notifications waiting in the outbox after a permanent failure (revoked token, unknown channel), by route and reason.",
	}, []string{"route", "reason"})
	return d, nil
}

// NewUID returns a random delivery identity.
func NewUID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Undeliverable lists what waits after permanent failures, as of the last
// flush.
func (d *Dispatcher) Undeliverable() []Stuck {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]Stuck(nil), d.stuck...)
}

// Flush delivers everything due now. It returns when the earliest
// postponed notification is due again (zero when none waits).
func (d *Dispatcher) Flush(ctx context.Context) (time.Time, error) {
	pending, err := d.cfg.Store.Pending()
	if err != nil {
		return time.Time{}, err
	}
	pending = d.compact(pending)
	now := d.cfg.Now()
	d.mu.Lock()
	first := !d.started
	d.started = true
	enqueued := d.enqueued
	d.mu.Unlock()
	var next time.Time
	later := func(t time.Time) {
		if next.IsZero() || t.Before(next) {
			next = t
		}
	}
	blocked := map[string]bool{}
	// A route that failed permanently in this pass (a revoked token, a
	// channel the bot is not in) is probed once per pass: the other
	// notifications to it wait for the next pass instead of each making a
	// call that fails the same way.
	routeDown := map[string]bool{}
	retryStuck := first // after a restart (a new token, say), try the stuck ones at once
	for i := range pending {
		n := &pending[i]
		if ctx.Err() != nil {
			return next, ctx.Err()
		}
		order := n.Incident
		if order == "" {
			order = n.Key
		}
		order += "|" + n.Target.String()
		integration := n.NotifierKey()
		switch {
		case blocked[order] || routeDown[n.Target.String()]:
			continue
		case n.NextAttempt.After(now) && !(retryStuck && n.Undeliverable):
			blocked[order] = true
			later(n.NextAttempt)
			continue
		case d.limited(integration).After(now):
			blocked[order] = true
			later(d.limited(integration))
			continue
		}
		wasStuck := n.Undeliverable
		if d.deliver(ctx, n, now) {
			if wasStuck || !n.Undeliverable {
				// A delivery went through: whatever was stuck may be fixed.
				retryStuck = true
			}
			continue
		}
		blocked[order] = true
		if n.Undeliverable {
			routeDown[n.Target.String()] = true
		}
		if !n.NextAttempt.IsZero() {
			later(n.NextAttempt)
		}
	}
	d.refreshStuck()
	d.mu.Lock()
	if d.enqueued != enqueued {
		later(now) // an ops notice was just enqueued: send it now
	}
	d.mu.Unlock()
	return next, nil
}

// compact drops queued notifications that became obsolete while they
// waited (a Slack outage): of several digests for one channel only the
// newest is sent; a firing message not yet sent and its resolve become one
// "fired and resolved" message; updates and repeats queued before a resolve,
// and updates or repeats before a newer one of their kind, are dropped.
// Nothing that may already
// have reached the service (in flight) is touched.
func (d *Dispatcher) compact(pending []Notification) []Notification {
	drop := map[uint64]bool{}
	lastDigest := map[string]int{}
	byOrder := map[string][]int{}
	for i, n := range pending {
		switch {
		case n.Kind == KindDigest:
			if j, ok := lastDigest[n.Target.String()]; ok && !pending[j].InFlight {
				drop[pending[j].ID] = true
			}
			lastDigest[n.Target.String()] = i
		case n.Incident != "" && n.Integration() == ViaSlack:
			// Only Slack messages are merged: a PagerDuty trigger and its
			// resolve are both wanted (the record), and webhook receivers
			// decide for themselves.
			k := n.Incident + "|" + n.Target.String()
			byOrder[k] = append(byOrder[k], i)
		}
	}
	for _, idx := range byOrder {
		resolve, lastUpdate, lastRepeat := -1, -1, -1
		for _, i := range idx {
			if pending[i].Kind == KindResolved {
				resolve = i
			}
		}
		for _, i := range idx {
			n := pending[i]
			if n.InFlight || drop[n.ID] {
				continue
			}
			switch {
			case resolve >= 0 && i < resolve && (n.Kind == KindUpdate || n.Kind == KindRepeat || n.Kind == KindReopened):
				drop[n.ID] = true
			case resolve >= 0 && i < resolve && n.Kind == KindFiring && pending[resolve].Alert != nil && !pending[resolve].InFlight:
				merged := *pending[resolve].Alert
				if merged.ResolvedAt.IsZero() {
					merged.ResolvedAt = pending[resolve].Created
				}
				if merged.Since.IsZero() {
					merged.Since = n.Created
				}
				pending[i].Alert = &merged
				if err := d.cfg.Store.Update(pending[i]); err == nil {
					drop[pending[resolve].ID] = true
				}
			case resolve < 0 && n.Kind == KindUpdate:
				if lastUpdate >= 0 {
					drop[pending[lastUpdate].ID] = true
				}
				lastUpdate = i
			case resolve < 0 && n.Kind == KindRepeat:
				// "Still firing" with the newest numbers says all the
				// older queued ones would.
				if lastRepeat >= 0 {
					drop[pending[lastRepeat].ID] = true
				}
				lastRepeat = i
			}
		}
	}
	if len(drop) == 0 {
		return pending
	}
	out := pending[:0]
	for _, n := range pending {
		if !drop[n.ID] {
			out = append(out, n)
			continue
		}
		if err := d.cfg.Store.Done(n, nil, time.Time{}); err != nil {
			d.cfg.Logger.Error("drop an obsolete notification", "err", err)
			out = append(out, n)
			continue
		}
		d.cfg.Logger.Info("obsolete while it waited; merged or superseded", "notification", n.ID, "kind", n.Kind, "key", n.Key, "route", n.Target.String())
		d.results.WithLabelValues("merged", string(n.Kind)).Inc()
	}
	return out
}

func (d *Dispatcher) limited(integration string) time.Time {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.limitedUntil[integration]
}

// refreshStuck recomputes the undeliverable summary and gauge from the outbox.
func (d *Dispatcher) refreshStuck() {
	pending, err := d.cfg.Store.Pending()
	if err != nil {
		return
	}
	groups := map[[2]string]*Stuck{}
	down := map[string]*Stuck{} // route → its newest failure's group
	for _, n := range pending {
		if !n.Undeliverable {
			continue
		}
		k := [2]string{n.Target.String(), n.LastReason}
		g := groups[k]
		if g == nil {
			g = &Stuck{Route: k[0], Reason: k[1], Since: n.FailingSince}
			groups[k] = g
		}
		g.Count++
		g.LastError = n.LastError
		if n.FailingSince.Before(g.Since) {
			g.Since = n.FailingSince
		}
		down[k[0]] = g
	}
	// Notifications queued behind a blocked route (not tried yet: the
	// route is probed one notification a pass) are stuck as well.
	for _, n := range pending {
		if g := down[n.Target.String()]; g != nil && !n.Undeliverable {
			g.Count++
		}
	}
	var out []Stuck
	for _, g := range groups {
		out = append(out, *g)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Route+out[i].Reason < out[j].Route+out[j].Reason })
	d.mu.Lock()
	d.stuck = out
	d.mu.Unlock()
	d.undeliverable.Reset()
	for _, g := range out {
		d.undeliverable.WithLabelValues(g.Route, g.Reason).Set(float64(g.Count))
	}
}

// deliver tries one notification; it reports whether it left the outbox.
// n is updated with what was stored.
func (d *Dispatcher) deliver(ctx context.Context, n *Notification, now time.Time) bool {
	if n.Target.IsZero() && !d.cfg.Ops.IsZero() && n.Kind != KindOps {
		// No route for this severity: the operators get it rather than nobody.
		n.Target = d.cfg.Ops
	}
	log := d.cfg.Logger.With("notification", n.ID, "kind", n.Kind, "key", n.Key, "route", n.Target.String())
	notifier := d.cfg.Notifiers[n.NotifierKey()]
	if notifier == nil || n.Target.IsZero() {
		text := n.Summary()
		if n.Digest != nil {
			text, _ = d.cfg.Templates.Digest(n.Digest)
		}
		if n.Target.IsZero() {
			log.Warn("notification not sent: the service has no route for it and no --ops route is set", "text", text)
			d.results.WithLabelValues("dropped", "no_route").Inc()
		} else {
			log.Info("notification (not sent: dry run)", "text", text)
			d.results.WithLabelValues("dropped", "dry_run").Inc()
		}
		return d.done(*n, nil, log)
	}
	var thread *Receipt
	if n.Kind == KindRepeat || n.Kind == KindResolved || n.Kind == KindUpdate || n.Kind == KindReopened {
		var err error
		if thread, err = d.cfg.Store.Thread(n.Incident, n.Target); err != nil {
			log.Error("read thread", "err", err)
		}
	}
	if n.InFlight {
		// An earlier attempt's outcome is unknown: ask before sending again.
		if v, ok := notifier.(Verifier); ok {
			rec, delivered, err := v.Delivered(ctx, n, thread)
			switch {
			case err != nil:
				se := classify(err)
				n.Attempts++
				n.CheckFailures++
				if !se.Permanent && n.CheckFailures >= d.cfg.MaxCheckFailures {
					se = &SendError{Permanent: true, Reason: ReasonCheckFailed,
						Err: fmt.Errorf("the check whether an earlier attempt arrived failed %d times in a row: %w", n.CheckFailures, se.Err)}
				}
				wait := d.backoff(n, se, now)
				if se.Permanent {
					log.Error("notification cannot be delivered: its delivery check keeps failing; it waits in the outbox",
						"reason", se.Reason, "checks", n.CheckFailures, "retry_in", wait.String(), "err", d.cfg.Redact(se.Err.Error()))
					d.results.WithLabelValues("undeliverable", se.Reason).Inc()
				} else {
					log.Warn("delivery check failed; checking again before any re-send", "reason", se.Reason,
						"retry_in", wait.String(), "err", d.cfg.Redact(se.Err.Error()))
				}
				d.fail(n, se, now, wait, log)
				if se.Permanent {
					d.announce(*n, log)
				}
				return false
			case delivered:
				log.Info("delivered by an earlier attempt; not sending again")
				d.results.WithLabelValues("sent", "verified").Inc()
				return d.done(*n, &rec, log)
			}
			log.Info("an earlier attempt did not arrive; sending again")
			n.CheckFailures = 0
		}
	}
	if n.UID == "" {
		n.UID = NewUID()
	}
	n.InFlight = true
	if err := d.cfg.Store.Update(*n); err != nil {
		log.Error("mark in flight", "err", err)
		return false
	}
	rec, err := notifier.Notify(ctx, n, thread)
	if err == nil {
		d.results.WithLabelValues("sent", "").Inc()
		if n.Undeliverable {
			log.Info("delivered after the failure was fixed", "failing_since", n.FailingSince)
		}
		return d.done(*n, &rec, log)
	}
	se := classify(err)
	n.InFlight = se.Uncertain
	n.Attempts++
	wait := d.backoff(n, se, now)
	if se.Permanent {
		log.Error("notification cannot be delivered; it waits in the outbox until the cause is fixed",
			"reason", se.Reason, "attempt", n.Attempts, "retry_in", wait.String(), "err", d.cfg.Redact(se.Err.Error()))
		d.results.WithLabelValues("undeliverable", se.Reason).Inc()
	} else {
		log.Warn("notification failed; will retry", "reason", se.Reason, "attempt", n.Attempts, "retry_in", wait.String(),
			"outcome_unknown", se.Uncertain, "err", d.cfg.Redact(se.Err.Error()))
		d.results.WithLabelValues("retry", se.Reason).Inc()
	}
	d.fail(n, se, now, wait, log)
	if se.Permanent {
		d.announce(*n, log)
	}
	return false
}

func (d *Dispatcher) backoff(n *Notification, se *SendError, now time.Time) time.Duration {
	if se.Permanent {
		return min(d.cfg.MaxPermanentBackoff, time.Minute<<min(max(n.Attempts-1, 0), 20))
	}
	wait := min(d.cfg.MaxBackoff, time.Second<<min(max(n.Attempts-1, 0), 20))
	if se.RetryAfter > 0 {
		wait = se.RetryAfter
		d.mu.Lock()
		d.limitedUntil[n.NotifierKey()] = now.Add(wait)
		d.mu.Unlock()
	}
	return wait
}

func (d *Dispatcher) fail(n *Notification, se *SendError, now time.Time, wait time.Duration, log *slog.Logger) {
	n.LastError = d.cfg.Redact(se.Error())
	n.LastReason = se.Reason
	if se.Permanent && !n.Undeliverable {
		n.FailingSince = now
	}
	n.Undeliverable = se.Permanent
	n.NextAttempt = now.Add(wait)
	if err := d.cfg.Store.Update(*n); err != nil {
		log.Error("postpone", "err", err)
	}
}

// announce tells the ops route, once per route and reason, that
// notifications are stuck.
func (d *Dispatcher) announce(n Notification, log *slog.Logger) {
	if d.cfg.Ops.IsZero() || n.Kind == KindOps || d.cfg.Ops.String() == n.Target.String() {
		return
	}
	key := n.Target.String() + "|" + n.LastReason
	d.mu.Lock()
	seen := d.announced[key]
	d.announced[key] = true
	d.mu.Unlock()
	if seen {
		return
	}
	text := fmt.Sprintf("kakeibo cannot deliver notifications to %s: %s. They wait in the outbox and go out once this is fixed (%s).",
		n.Target.String(), n.LastReason, fixHint(n.LastReason))
	ops := Notification{Key: "ops/undeliverable/" + key, Kind: KindOps, Target: d.cfg.Ops, Text: text, Created: n.NextAttempt, UID: NewUID()}
	if err := d.cfg.Store.Apply(Change{Notifications: []Notification{ops}}); err != nil {
		log.Error("tell the ops route", "err", err)
		return
	}
	d.mu.Lock()
	d.enqueued++
	d.mu.Unlock()
}

func fixHint(reason string) string {
	switch reason {
	case "token_revoked", "invalid_auth", "not_authed", "account_inactive", "token_expired", "invalid_token":
		return "set a valid SLACK_BOT_TOKEN and restart"
	case "channel_not_found", "is_archived", "channel_is_archived":
		return "check the channel name in the spec"
	case "not_in_channel":
		return "invite the kakeibo bot to the channel"
	case "missing_scope":
		return "give the Slack app the chat:write, channels:read and channels:history scopes"
	}
	return "see kakeibo's log"
}

func (d *Dispatcher) done(n Notification, rec *Receipt, log *slog.Logger) bool {
	if err := d.cfg.Store.Done(n, rec, d.cfg.Now()); err != nil {
		log.Error("remove from outbox", "err", err)
		return false
	}
	return true
}

// Run flushes the outbox until ctx ends: whenever wake fires (new
// notifications), when a postponed one is due, and at least every poll.
func (d *Dispatcher) Run(ctx context.Context, wake <-chan struct{}, poll time.Duration) error {
	for {
		next, err := d.Flush(ctx)
		if err != nil && ctx.Err() == nil {
			d.cfg.Logger.Error("flush outbox", "err", err)
		}
		wait := poll
		if !next.IsZero() {
			wait = min(wait, max(next.Sub(d.cfg.Now()), 0))
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// Drain delivers the outbox until it is empty, for one-shot commands
// (kakeibo remind). It gives up when ctx ends, or when everything left
// failed permanently, with an error naming what was not delivered; what
// is left stays in the store for a later run.
func (d *Dispatcher) Drain(ctx context.Context) error {
	for {
		next, err := d.Flush(ctx)
		if err != nil {
			return err
		}
		pending, err := d.cfg.Store.Pending()
		if err != nil {
			return err
		}
		if len(pending) == 0 {
			return nil
		}
		allStuck := true
		for _, n := range pending {
			allStuck = allStuck && n.Undeliverable
		}
		if allStuck || ctx.Err() != nil {
			var msgs []string
			for _, n := range pending {
				msgs = append(msgs, fmt.Sprintf("%s: %s", n.Target.String(), n.LastError))
			}
			return fmt.Errorf("%w: %d notification(s): %s", ErrNotDelivered, len(pending), strings.Join(msgs, "; "))
		}
		wait := time.Second
		if !next.IsZero() {
			wait = max(next.Sub(d.cfg.Now()), 0)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
	}
}

// ErrNotDelivered is returned by Drain when notifications stay undelivered.
var ErrNotDelivered = errors.New("not delivered")
