package alerting

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// DispatcherConfig configures a Dispatcher.
type DispatcherConfig struct {
	Store *Store
	// Notifier delivers; nil means dry run: notifications are logged.
	Notifier Notifier
	// Templates render digests; default the built-in ones.
	Templates *Templates
	Now       func() time.Time
	Logger    *slog.Logger
	// Registerer, when set, gets kakeibo_notifications_total.
	Registerer prometheus.Registerer
	// MaxBackoff caps the wait between retries (default 5m).
	MaxBackoff time.Duration
}

// Dispatcher delivers the outbox: in order per incident (a resolve never
// overtakes its firing message), retrying rate limits and server errors
// with backoff for as long as it takes, dropping only permanent failures.
type Dispatcher struct {
	cfg          DispatcherConfig
	results      *prometheus.CounterVec
	limitedUntil time.Time
}

// NewDispatcher returns a Dispatcher.
func NewDispatcher(cfg DispatcherConfig) (*Dispatcher, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 5 * time.Minute
	}
	if cfg.Templates == nil {
		t, err := LoadTemplates("")
		if err != nil {
			return nil, err
		}
		cfg.Templates = t
	}
	d := &Dispatcher{cfg: cfg}
	d.results = promauto.With(cfg.Registerer).NewCounterVec(prometheus.CounterOpts{
		Name: "kakeibo_notifications_total",
		Help: "Notification delivery attempts by result (sent, retry, dropped) and reason.",
	}, []string{"result", "reason"})
	d.results.WithLabelValues("sent", "") // exported from the start, for dashboards
	return d, nil
}

// Flush delivers everything due now. It returns when the earliest
// postponed notification is due again (zero when none waits).
func (d *Dispatcher) Flush(ctx context.Context) (time.Time, error) {
	pending, err := d.cfg.Store.Pending()
	if err != nil {
		return time.Time{}, err
	}
	now := d.cfg.Now()
	var next time.Time
	later := func(t time.Time) {
		if next.IsZero() || t.Before(next) {
			next = t
		}
	}
	blocked := map[string]bool{}
	for _, n := range pending {
		if ctx.Err() != nil {
			return next, ctx.Err()
		}
		order := n.Incident
		if order == "" {
			order = n.Key
		}
		switch {
		case blocked[order]:
			continue
		case n.NextAttempt.After(now):
			blocked[order] = true
			later(n.NextAttempt)
			continue
		case d.limitedUntil.After(now):
			blocked[order] = true
			later(d.limitedUntil)
			continue
		}
		if !d.deliver(ctx, n, now) {
			blocked[order] = true
			pendingAgain, _ := d.nextAttempt(n.ID)
			if !pendingAgain.IsZero() {
				later(pendingAgain)
			}
		}
	}
	return next, nil
}

func (d *Dispatcher) nextAttempt(id uint64) (time.Time, error) {
	pending, err := d.cfg.Store.Pending()
	for _, n := range pending {
		if n.ID == id {
			return n.NextAttempt, err
		}
	}
	return time.Time{}, err
}

// deliver tries one notification; it reports whether it left the outbox.
func (d *Dispatcher) deliver(ctx context.Context, n Notification, now time.Time) bool {
	log := d.cfg.Logger.With("notification", n.ID, "kind", n.Kind, "key", n.Key, "channel", n.Channel)
	if d.cfg.Notifier == nil || n.Channel == "" {
		text := n.Summary()
		if n.Digest != nil {
			text, _ = d.cfg.Templates.Digest(n.Digest)
		}
		reason := "dry_run"
		if n.Channel == "" && d.cfg.Notifier != nil {
			reason = "no_route"
		}
		log.Info("notification (not sent: "+reason+")", "text", text)
		d.results.WithLabelValues("dropped", reason).Inc()
		return d.done(n, nil, log)
	}
	var thread *Receipt
	if n.Kind == KindRepeat || n.Kind == KindResolved {
		var err error
		if thread, err = d.cfg.Store.Thread(n.Incident); err != nil {
			log.Error("read thread", "err", err)
		}
	}
	if n.InFlight {
		// The process died during an attempt: ask whether it went through.
		if v, ok := d.cfg.Notifier.(Verifier); ok {
			if rec, delivered, err := v.Delivered(ctx, &n); err == nil && delivered {
				log.Info("delivered before a restart; not sending again")
				d.results.WithLabelValues("sent", "verified").Inc()
				return d.done(n, &rec, log)
			}
		}
	}
	n.InFlight = true
	if err := d.cfg.Store.Update(n); err != nil {
		log.Error("mark in flight", "err", err)
		return false
	}
	rec, err := d.cfg.Notifier.Notify(ctx, &n, thread)
	if err == nil {
		d.results.WithLabelValues("sent", "").Inc()
		return d.done(n, &rec, log)
	}
	se := classify(err)
	n.InFlight = false
	n.Attempts++
	n.LastError = se.Error()
	if se.Permanent {
		log.Error("notification failed permanently; dropped", "reason", se.Reason, "err", se.Err)
		d.results.WithLabelValues("dropped", se.Reason).Inc()
		return d.done(n, nil, log)
	}
	wait := min(d.cfg.MaxBackoff, time.Second<<min(n.Attempts-1, 20))
	if se.RetryAfter > 0 {
		wait = se.RetryAfter
		d.limitedUntil = now.Add(wait)
	}
	n.NextAttempt = now.Add(wait)
	log.Warn("notification failed; will retry", "reason", se.Reason, "attempt", n.Attempts, "retry_in", wait, "err", se.Err)
	d.results.WithLabelValues("retry", se.Reason).Inc()
	if err := d.cfg.Store.Update(n); err != nil {
		log.Error("postpone", "err", err)
	}
	return false
}

func (d *Dispatcher) done(n Notification, rec *Receipt, log *slog.Logger) bool {
	if err := d.cfg.Store.Done(n, rec); err != nil {
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
