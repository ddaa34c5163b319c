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
	"regexp"
	"slices"
	"strconv"
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
	// KindUpdate changes the incident's message in place (alerts joined
	// or left); KindReopened does so for a re-fire within the cooldown,
	// with a reply in the thread.
	KindUpdate   Kind = "update"
	KindReopened Kind = "reopened"
	// KindOps tells the operators about kakeibo itself (undeliverable
	// notifications); its Text is the message.
	KindOps Kind = "ops"
)

// AlertBudgetExhausted names the budget-exhaustion alert of an objective.
const AlertBudgetExhausted = "budget-exhausted"

// AlertStale names the "no data since" ticket of an objective whose data
// stopped arriving (its status is stale).
const AlertStale = "stale-data"

// Snapshot is what a notification says about an alert, frozen when the
// notification was decided so that a late delivery says what was true then.
type Snapshot struct {
	Service  string            `json:"service"`
	SLO      string            `json:"slo"`
	Alert    string            `json:"alert"`
	Severity slo.Severity      `json:"severity"`
	Labels   map[string]string `json:"labels,omitempty"`
	// AlertLabels and Annotations are the spec's alerting labels and
	// annotations for this severity (alerting.labels, alerting.page.labels,
	// ...), for Alertmanager and the receivers' payloads.
	AlertLabels map[string]string `json:"alert_labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Window      string            `json:"window"`
	Objective   float64           `json:"objective"`
	SLI         *float64          `json:"sli,omitempty"`
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
	TTESeconds *float64 `json:"tte_seconds,omitempty"`
	Dashboard  string   `json:"dashboard,omitempty"`
	Runbook    string   `json:"runbook,omitempty"`
	// Page is the SLO's page on kakeibo (with --external-url).
	Page string `json:"page,omitempty"`
	// At is when the numbers are for: the end of the SLO's data.
	At time.Time `json:"at"`
	// TimeZone (IANA) is the route's zone, for stating At; Language the
	// service's (notify.language).
	TimeZone string `json:"time_zone,omitempty"`
	Language string `json:"language,omitempty"`
	// Firing lists the incident's firing alerts (Alert joins them); Since
	// is when the incident began, ResolvedAt when it ended (resolves, and
	// firing messages merged with their resolve).
	Firing     []string  `json:"firing,omitempty"`
	Since      time.Time `json:"since,omitempty"`
	ResolvedAt time.Time `json:"resolved_at,omitempty"`
}

func (s *Snapshot) loc() *time.Location {
	if s.TimeZone != "" {
		if l, err := time.LoadLocation(s.TimeZone); err == nil {
			return l
		}
	}
	return time.UTC
}

// Span states when the incident fired and resolved: "14:12–14:32 JST".
func (s *Snapshot) Span() string {
	if s.Since.IsZero() || s.ResolvedAt.IsZero() {
		return ""
	}
	a, b := s.Since.In(s.loc()), s.ResolvedAt.In(s.loc())
	if a.Format("2006-01-02") == b.Format("2006-01-02") {
		return a.Format("15:04") + "–" + b.Format("15:04 MST")
	}
	return a.Format("2006-01-02 15:04") + " – " + b.Format("2006-01-02 15:04 MST")
}

// When states s.At in the snapshot's time zone, with the zone's name:
// "2026-10-01 23:55 JST".
func (s *Snapshot) When() string {
	if s.At.IsZero() {
		return ""
	}
	return s.At.In(s.loc()).Format("2006-01-02 15:04 MST")
}

// Notification is one message to deliver, kept in the outbox until it is.
type Notification struct {
	// ID orders the outbox; assigned by the store.
	ID uint64 `json:"id"`
	// Key names the alert (service/slo/alert) or the reminder.
	Key string `json:"key"`
	// Incident names one firing period of an alert: repeats and the
	// resolve are threaded under the incident's first message.
	Incident string `json:"incident,omitempty"`
	Kind     Kind   `json:"kind"`
	// UID is random and unique across data directories: the mark a delivery
	// check looks for in Slack's history, the idempotency key of webhooks.
	UID string `json:"uid,omitempty"`
	Target
	Alert   *Snapshot `json:"alert,omitempty"`
	Digest  *Digest   `json:"digest,omitempty"`
	Text    string    `json:"text,omitempty"`
	Created time.Time `json:"created"`

	Attempts    int       `json:"attempts,omitempty"`
	NextAttempt time.Time `json:"next_attempt,omitempty"`
	// LastError is the last failure, redacted; LastReason its reason label.
	LastError  string `json:"last_error,omitempty"`
	LastReason string `json:"last_reason,omitempty"`
	// Undeliverable is set while the last failure was permanent (revoked
	// token, unknown channel): the notification waits for the fix.
	Undeliverable bool      `json:"undeliverable,omitempty"`
	FailingSince  time.Time `json:"failing_since,omitempty"`
	// CheckFailures counts delivery checks in a row that failed (the
	// outcome of an earlier attempt could not be learnt).
	CheckFailures int `json:"check_failures,omitempty"`
	// InFlight is set before a delivery attempt and cleared once its outcome
	// is known: found set (after a crash or a timeout), the delivery is
	// checked before anything is sent again.
	InFlight bool `json:"in_flight,omitempty"`
}

// Target is where a notification goes.
type Target struct {
	// Via names the integration: "slack" (or empty), "pagerduty", "webhook".
	Via string `json:"via,omitempty"`
	// Channel is the Slack channel (#name or ID).
	Channel string `json:"channel,omitempty"`
	// Mention is who a Slack page notifies: "@here", "@channel", user-group
	// (S…) or user (U…) IDs.
	Mention []string `json:"mention,omitempty"`
	// KeyEnv names the environment variable holding the PagerDuty routing
	// key or the webhook URL; the secret itself is never stored.
	KeyEnv string `json:"key_env,omitempty"`
	// SecretEnv names the variable holding the webhook's HMAC secret.
	SecretEnv string `json:"secret_env,omitempty"`
	// TokenEnv, for Slack, names the variable holding the bot token to post
	// with instead of SLACK_BOT_TOKEN (an ops route that must not share
	// the alerts' token and its failures).
	TokenEnv string `json:"token_env,omitempty"`
}

// Integrations.
const (
	ViaSlack     = "slack"
	ViaPagerDuty = "pagerduty"
	ViaWebhook   = "webhook"
)

// Integration is Via, "slack" when empty.
func (t Target) Integration() string {
	if t.Via == "" {
		return ViaSlack
	}
	return t.Via
}

// NotifierKey names the notifier that delivers to the target: its
// integration, or integration:$VARIABLE for a Slack target with its own
// token.
func (t Target) NotifierKey() string {
	if t.TokenEnv != "" {
		return t.Integration() + ":$" + t.TokenEnv
	}
	return t.Integration()
}

// String names the target in logs and metric labels, without secrets:
// "slack:#mart-alerts", "pagerduty:$PD_MART_KEY", "slack:#ops($OPS_TOKEN)".
func (t Target) String() string {
	switch t.Integration() {
	case ViaSlack:
		if t.Channel == "" {
			return ""
		}
		if t.TokenEnv != "" {
			return "slack:" + t.Channel + "($" + t.TokenEnv + ")"
		}
		return "slack:" + t.Channel
	default:
		return t.Via + ":$" + t.KeyEnv
	}
}

// IsZero reports an empty target (no route).
func (t Target) IsZero() bool { return t.Channel == "" && t.KeyEnv == "" }

// Receipt identifies a delivered message, for threading replies.
type Receipt struct {
	Channel string `json:"channel"`
	TS      string `json:"ts"`
}

// Notifier delivers notifications of one integration. thread, when set, is
// the receipt of the incident's first message.
type Notifier interface {
	Notify(ctx context.Context, n *Notification, thread *Receipt) (Receipt, error)
}

// Verifier is implemented by notifiers that can tell whether a delivery
// whose outcome is unknown (a timeout, a reset connection, a crash
// mid-request) went through. An error means the check itself failed: the
// notification is neither sent again nor given up, but checked later.
type Verifier interface {
	Delivered(ctx context.Context, n *Notification, thread *Receipt) (Receipt, bool, error)
}

// ReasonCheckFailed marks a notification whose delivery check (did an
// earlier attempt arrive?) failed MaxCheckFailures times in a row.
const ReasonCheckFailed = "check_failed"

// SendError classifies a failed delivery.
type SendError struct {
	Err error
	// Permanent errors (channel_not_found, invalid_auth, ...) are not
	// retried; Reason labels the failure in metrics.
	Permanent bool
	// Uncertain errors leave the outcome unknown (timeout, reset): the
	// service may have taken the message.
	Uncertain bool
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
		return &SendError{Err: err, Reason: "timeout", Uncertain: true}
	}
	return &SendError{Err: err, Reason: "error"}
}

// Summary is a one-line description of an alert notification, for logs.
func (n *Notification) Summary() string {
	a := n.Alert
	if n.Kind == KindOps {
		return n.Text
	}
	if a == nil {
		return n.Key
	}
	id := a.Service + "/" + a.SLO
	switch {
	case n.Kind == KindResolved || !a.ResolvedAt.IsZero():
		return fmt.Sprintf("resolved: %s (%s) %s", id, a.Alert, a.Span())
	case a.Alert == AlertBudgetExhausted:
		return fmt.Sprintf("%s has spent its error budget", id)
	case a.Alert == AlertStale:
		return fmt.Sprintf("%s has no data since %s", id, a.When())
	}
	return fmt.Sprintf("%s %s: %s is burning its error budget: %.2f× over %s, %.2f× over %s (threshold %.4g)",
		strings.ToUpper(string(a.Severity)), n.Kind, id, a.LongBurn, a.Long, a.ShortBurn, a.Short, a.Threshold)
}

// HTTPError classifies the answer of an HTTP integration (PagerDuty,
// webhooks): 429 and 5xx are retried (honouring Retry-After in seconds),
// other non-2xx answers are permanent. A 5xx leaves the outcome unknown.
func HTTPError(status int, retryAfter string, body string) *SendError {
	err := fmt.Errorf("HTTP %d: %s", status, strings.TrimSpace(body))
	switch {
	case status == 429:
		wait, _ := strconv.Atoi(retryAfter)
		return &SendError{Err: err, Reason: "rate_limited", RetryAfter: max(time.Duration(wait)*time.Second, time.Second)}
	case status >= 500:
		return &SendError{Err: err, Reason: "server_error", Uncertain: true}
	}
	return &SendError{Err: err, Reason: "http_" + strconv.Itoa(status), Permanent: true}
}

// NetworkError classifies a failed HTTP round trip: the request may have
// arrived, so the outcome is unknown.
func NetworkError(err error) *SendError {
	return &SendError{Err: err, Reason: "network", Uncertain: true}
}

// ParseRoute reads a route given on the command line (--ops-route):
//
//	slack:#channel                     the bot token of SLACK_BOT_TOKEN
//	slack:#channel?token_env=VARIABLE  another bot token, from VARIABLE
//	pagerduty:VARIABLE                 the Events API v2 routing key in VARIABLE
//	webhook:VARIABLE                   the URL in VARIABLE
//	webhook:VARIABLE?secret_env=NAME   signed with the secret in NAME
//
// Secrets are named by variable, never written on the command line.
func ParseRoute(s string) (Target, error) {
	via, rest, ok := strings.Cut(s, ":")
	if !ok || rest == "" {
		return Target{}, fmt.Errorf("route %q: want slack:#channel, pagerduty:VARIABLE or webhook:VARIABLE", s)
	}
	rest, query, _ := strings.Cut(rest, "?")
	params := map[string]string{}
	if query != "" {
		for _, kv := range strings.Split(query, "&") {
			k, v, ok := strings.Cut(kv, "=")
			if !ok || v == "" {
				return Target{}, fmt.Errorf("route %q: %q: want name=value", s, kv)
			}
			params[k] = v
		}
	}
	take := func(allowed ...string) error {
		for k := range params {
			if !slices.Contains(allowed, k) {
				return fmt.Errorf("route %q: unknown parameter %q (allowed: %s)", s, k, strings.Join(allowed, ", "))
			}
		}
		return nil
	}
	envName := regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	var t Target
	switch via {
	case ViaSlack:
		if err := take("token_env"); err != nil {
			return Target{}, err
		}
		t = Target{Via: ViaSlack, Channel: rest, TokenEnv: params["token_env"]}
	case ViaPagerDuty, ViaWebhook:
		allowed := []string{}
		if via == ViaWebhook {
			allowed = append(allowed, "secret_env")
		}
		if err := take(allowed...); err != nil {
			return Target{}, err
		}
		if strings.Contains(rest, "://") || !envName.MatchString(rest) {
			return Target{}, fmt.Errorf("route %q: name the environment variable that holds the %s secret, not the secret itself", s, via)
		}
		t = Target{Via: via, KeyEnv: rest, SecretEnv: params["secret_env"]}
	default:
		return Target{}, fmt.Errorf("route %q: unknown integration %q (slack, pagerduty, webhook)", s, via)
	}
	for _, v := range []string{t.TokenEnv, t.SecretEnv} {
		if v != "" && !envName.MatchString(v) {
			return Target{}, fmt.Errorf("route %q: %q is not an environment variable name", s, v)
		}
	}
	return t, nil
}
