// Package alerting turns SLO evaluations into notifications: a state machine
// per alert (inactive → firing → resolved, with repeats), a durable outbox
// that survives restarts, a dispatcher that delivers it with retries, and
// scheduled reminder digests. Integrations (Slack, Alertmanager) live in
// subpackages and implement Notifier.
package alerting

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/kakeibo-slo/kakeibo/slo"
)

// Kind is what a notification announces.
type Kind string

const (
	KindFiring   Kind = "firing"
	KindRepeat   Kind = "repeat"
	KindResolved Kind = "resolved"
	KindDigest   Kind = "digest"
)

// AlertBudgetExhausted names the budget-exhaustion alert of an objective.
const AlertBudgetExhausted = "budget-exhausted"

// Snapshot is what a notification says about an alert, frozen when the
// notification was decided so that a late delivery says what was true then.
type Snapshot struct {
	Service   string            `json:"service"`
	SLO       string            `json:"slo"`
	Alert     string            `json:"alert"`
	Severity  slo.Severity      `json:"severity"`
	Labels    map[string]string `json:"labels,omitempty"`
	Window    string            `json:"window"`
	Objective float64           `json:"objective"`
	SLI       *float64          `json:"sli,omitempty"`
	// Long and Short are the alert pair's windows with their burn rates;
	// empty for budget exhaustion.
	Long      string  `json:"long,omitempty"`
	Short     string  `json:"short,omitempty"`
	LongBurn  float64 `json:"long_burn,omitempty"`
	ShortBurn float64 `json:"short_burn,omitempty"`
	Threshold float64 `json:"threshold,omitempty"`
	// BudgetRemaining is the share of the error budget left (may be < 0).
	BudgetRemaining *float64 `json:"budget_remaining,omitempty"`
	BudgetSeconds   float64  `json:"budget_seconds"`
	// TTESeconds is the time to exhaustion at the current burn, if any.
	TTESeconds *float64  `json:"tte_seconds,omitempty"`
	Dashboard  string    `json:"dashboard,omitempty"`
	Runbook    string    `json:"runbook,omitempty"`
	At         time.Time `json:"at"`
}

// Notification is one message to deliver, kept in the outbox until it is.
type Notification struct {
	// ID orders the outbox; assigned by the store.
	ID uint64 `json:"id"`
	// Key names the alert (service/slo/alert) or the reminder.
	Key string `json:"key"`
	// Incident names one firing period of an alert: repeats and the
	// resolve are threaded under the incident's first message.
	Incident string    `json:"incident,omitempty"`
	Kind     Kind      `json:"kind"`
	Channel  string    `json:"channel"`
	Alert    *Snapshot `json:"alert,omitempty"`
	Digest   *Digest   `json:"digest,omitempty"`
	Created  time.Time `json:"created"`

	Attempts    int       `json:"attempts,omitempty"`
	NextAttempt time.Time `json:"next_attempt,omitempty"`
	LastError   string    `json:"last_error,omitempty"`
	// InFlight is set before a delivery attempt and cleared after: found set
	// after a crash, the delivery's outcome is unknown.
	InFlight bool `json:"in_flight,omitempty"`
}

// Receipt identifies a delivered message, for threading replies.
type Receipt struct {
	Channel string `json:"channel"`
	TS      string `json:"ts"`
}

// Notifier delivers notifications (Slack). thread, when set, is the
// receipt of the incident's first message.
type Notifier interface {
	Notify(ctx context.Context, n *Notification, thread *Receipt) (Receipt, error)
}

// Verifier is implemented by notifiers that can tell whether a delivery
// whose outcome is unknown (the process died mid-request) went through.
type Verifier interface {
	Delivered(ctx context.Context, n *Notification) (Receipt, bool, error)
}

// SendError classifies a failed delivery.
type SendError struct {
	Err error
	// Permanent errors (channel_not_found, invalid_auth, ...) are not
	// retried; Reason labels the failure in metrics.
	Permanent bool
	Reason    string
	// RetryAfter, when set, is how long the service asked us to wait.
	RetryAfter time.Duration
}

func (e *SendError) Error() string {
	if e.Permanent {
		return fmt.Sprintf("%s (permanent): %v", e.Reason, e.Err)
	}
	return fmt.Sprintf("%s: %v", e.Reason, e.Err)
}

func (e *SendError) Unwrap() error { return e.Err }

// classify reads a notifier's error.
func classify(err error) *SendError {
	var se *SendError
	if errors.As(err, &se) {
		return se
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return &SendError{Err: err, Reason: "timeout"}
	}
	return &SendError{Err: err, Reason: "error"}
}

// Summary is a one-line description of an alert notification, for logs.
func (n *Notification) Summary() string {
	a := n.Alert
	if a == nil {
		return n.Key
	}
	id := a.Service + "/" + a.SLO
	switch {
	case n.Kind == KindResolved:
		return fmt.Sprintf("resolved: %s (%s)", id, a.Alert)
	case a.Alert == AlertBudgetExhausted:
		return fmt.Sprintf("%s has spent its error budget", id)
	}
	return fmt.Sprintf("%s %s: %s is burning its error budget: %.2f× over %s, %.2f× over %s (threshold %.4g)",
		strings.ToUpper(string(a.Severity)), n.Kind, id, a.LongBurn, a.Long, a.ShortBurn, a.Short, a.Threshold)
}
