// Package pagerduty pages through PagerDuty's Events API v2
// (https://developer.pagerduty.com/docs/events-api-v2/trigger-events/):
// POST {base}/v2/enqueue with a routing key, an event_action (trigger,
// resolve) and a dedup_key. kakeibo uses the incident's identity as the
// dedup_key, so a repeat or a re-sent trigger of an open incident is
// appended to it by PagerDuty instead of opening a second one, and the
// resolve closes it. This makes delivery idempotent: a post whose outcome
// is unknown is simply sent again.
package pagerduty

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/kakeibo-slo/kakeibo/alerting"
	"github.com/kakeibo-slo/kakeibo/slo"
)

// DefaultURL is the Events API's base URL.
const DefaultURL = "https://events.pagerduty.com"

// Config configures the Notifier.
type Config struct {
	// BaseURL overrides DefaultURL (PAGERDUTY_API_URL; tests, proxies).
	BaseURL string
	// Getenv reads routing keys by the variable names specs give; the keys
	// are never stored or logged.
	Getenv     func(string) string
	HTTPClient *http.Client
	// ExternalURL is where people reach kakeibo (client_url, links).
	ExternalURL string
}

// Notifier sends PagerDuty events.
type Notifier struct{ cfg Config }

// New returns a Notifier.
func New(cfg Config) *Notifier {
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultURL
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 15 * time.Second}
	}
	return &Notifier{cfg: cfg}
}

// Event is an Events API v2 event.
type Event struct {
	RoutingKey  string   `json:"routing_key"`
	EventAction string   `json:"event_action"`
	DedupKey    string   `json:"dedup_key"`
	Payload     *Payload `json:"payload,omitempty"`
	Client      string   `json:"client,omitempty"`
	ClientURL   string   `json:"client_url,omitempty"`
	Links       []Link   `json:"links,omitempty"`
}

// Payload describes a trigger.
type Payload struct {
	Summary       string         `json:"summary"`
	Source        string         `json:"source"`
	Severity      string         `json:"severity"`
	Timestamp     string         `json:"timestamp,omitempty"`
	Component     string         `json:"component,omitempty"`
	Group         string         `json:"group,omitempty"`
	Class         string         `json:"class,omitempty"`
	CustomDetails map[string]any `json:"custom_details,omitempty"`
}

// Link is a link shown on the incident.
type Link struct {
	Href string `json:"href"`
	Text string `json:"text"`
}

// Event builds the event for a notification (exported for tests and for
// reading what is sent).
func (p *Notifier) Event(n *alerting.Notification, routingKey string) Event {
	e := Event{RoutingKey: routingKey, EventAction: "trigger", DedupKey: dedupKey(n), Client: "kakeibo", ClientURL: p.cfg.ExternalURL}
	if n.Kind == alerting.KindResolved {
		e.EventAction = "resolve"
		return e
	}
	summary := n.Summary()
	pl := &Payload{Summary: truncate(summary, 1024), Source: "kakeibo", Severity: "critical", Class: "slo_burn_rate"}
	if a := n.Alert; a != nil {
		pl.Source, pl.Component, pl.Group = a.Service, a.SLO, a.Service
		pl.Timestamp = a.At.UTC().Format(time.RFC3339)
		if a.Severity == slo.Ticket {
			pl.Severity = "warning"
		}
		if a.Alert == alerting.AlertBudgetExhausted {
			pl.Class = "slo_budget_exhausted"
		}
		pl.CustomDetails = map[string]any{"alert": a.Alert, "window": a.Window, "objective": a.Objective,
			"long_burn": a.LongBurn, "short_burn": a.ShortBurn, "threshold": a.Threshold, "labels": a.Labels}
		if a.BudgetRemaining != nil {
			pl.CustomDetails["budget_remaining"] = *a.BudgetRemaining
		}
		if a.Dashboard != "" {
			e.Links = append(e.Links, Link{Href: a.Dashboard, Text: "Dashboard"})
		}
		if a.Runbook != "" {
			e.Links = append(e.Links, Link{Href: a.Runbook, Text: "Runbook"})
		}
	}
	e.Payload = pl
	return e
}

// dedupKey is the incident (at most 255 characters, as PagerDuty allows).
func dedupKey(n *alerting.Notification) string {
	k := n.Incident
	if k == "" {
		k = n.Key
	}
	return truncate(k, 255)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// Notify sends a trigger (firing, repeat, ops) or a resolve.
func (p *Notifier) Notify(ctx context.Context, n *alerting.Notification, _ *alerting.Receipt) (alerting.Receipt, error) {
	if n.Kind == alerting.KindDigest {
		return alerting.Receipt{}, &alerting.SendError{Err: errors.New("digests go to Slack only"), Permanent: true, Reason: "unsupported"}
	}
	key := ""
	if p.cfg.Getenv != nil {
		key = p.cfg.Getenv(n.KeyEnv)
	}
	if key == "" {
		return alerting.Receipt{}, &alerting.SendError{Err: fmt.Errorf("environment variable %s (the routing key) is not set", n.KeyEnv), Permanent: true, Reason: "no_routing_key"}
	}
	body, err := json.Marshal(p.Event(n, key))
	if err != nil {
		return alerting.Receipt{}, &alerting.SendError{Err: err, Permanent: true, Reason: "render"}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(p.cfg.BaseURL, "/")+"/v2/enqueue", bytes.NewReader(body))
	if err != nil {
		return alerting.Receipt{}, &alerting.SendError{Err: err, Permanent: true, Reason: "config"}
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := p.cfg.HTTPClient.Do(req)
	if err != nil {
		return alerting.Receipt{}, alerting.NetworkError(err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode/100 != 2 {
		return alerting.Receipt{}, alerting.HTTPError(resp.StatusCode, resp.Header.Get("Retry-After"), string(msg))
	}
	return alerting.Receipt{Channel: "pagerduty", TS: dedupKey(n)}, nil
}
