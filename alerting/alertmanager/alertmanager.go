// Package alertmanager posts kakeibo's alerts to Alertmanager's API
// (POST /api/v2/alerts), for HA pairs of kakeibo (Alertmanager
// deduplicates) and teams whose routing, silences and inhibitions live there.
package alertmanager

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/kakeibo-slo/kakeibo/alerting"
)

// Alert is Alertmanager's postable alert.
type Alert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
}

// Client posts to one or more Alertmanagers (every member of a cluster
// gets every alert, as Prometheus does).
type Client struct {
	URLs []string
	HTTP *http.Client
}

// Post sends alerts to every Alertmanager; it fails only when none took them.
func (c *Client) Post(ctx context.Context, alerts []Alert) error {
	if len(alerts) == 0 || len(c.URLs) == 0 {
		return nil
	}
	body, err := json.Marshal(alerts)
	if err != nil {
		return err
	}
	client := c.HTTP
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	var errs []error
	for _, u := range c.URLs {
		shown := u // never the password of a URL with one
		if pu, err := url.Parse(u); err == nil {
			shown = pu.Redacted()
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(u, "/")+"/api/v2/alerts", bytes.NewReader(body))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			errs = append(errs, fmt.Errorf("alertmanager %s: %s", shown, strings.ReplaceAll(err.Error(), u, shown)))
			continue
		}
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			errs = append(errs, fmt.Errorf("alertmanager %s: %s: %s", shown, resp.Status, bytes.TrimSpace(msg)))
		}
	}
	if len(errs) == len(c.URLs) {
		return errors.Join(errs...)
	}
	return nil
}

// Alerts turns alert states into Alertmanager alerts. Firing ones are sent
// on every evaluation with endsAt a few resend intervals ahead, so that
// Alertmanager resolves them by itself if kakeibo stops; resolved ones
// (states that disappeared since the previous call) are sent once with
// endsAt = now.
func Alerts(prev, cur map[string]alerting.AlertState, now time.Time, resend time.Duration, generatorURL string) []Alert {
	var out []Alert
	for _, s := range cur {
		if s.Firing && !s.Group {
			out = append(out, alert(s, s.Since, now.Add(4*resend), generatorURL))
		}
	}
	for k, s := range prev {
		if c, ok := cur[k]; (!ok || !c.Firing) && s.Firing && !s.Group {
			out = append(out, alert(s, s.Since, now, generatorURL))
		}
	}
	return out
}

func alert(s alerting.AlertState, start, end time.Time, generatorURL string) Alert {
	a := Alert{Labels: map[string]string{}, Annotations: map[string]string{}, StartsAt: start, EndsAt: end, GeneratorURL: generatorURL}
	if snap := s.Last; snap != nil && generatorURL != "" {
		a.GeneratorURL = alerting.SLOPage(generatorURL, snap.Service, snap.SLO) // the SLO's page on kakeibo
	}
	name := "SLOErrorBudgetBurn"
	if snap := s.Last; snap != nil {
		for k, v := range snap.Labels {
			a.Labels[k] = v
		}
		a.Labels["service"], a.Labels["slo"], a.Labels["alert"] = snap.Service, snap.SLO, snap.Alert
		if snap.Alert == alerting.AlertStale {
			name = "SLODataStale"
			a.Annotations["summary"] = fmt.Sprintf("%s/%s has no data since %s", snap.Service, snap.SLO, snap.When())
		} else if snap.Alert == alerting.AlertBudgetExhausted {
			name = "SLOErrorBudgetExhausted"
			a.Annotations["summary"] = fmt.Sprintf("%s/%s has spent its error budget", snap.Service, snap.SLO)
		} else {
			a.Annotations["summary"] = fmt.Sprintf("%s/%s is burning its error budget too fast (%s)", snap.Service, snap.SLO, snap.Alert)
			a.Annotations["description"] = fmt.Sprintf("Burn rate %.2f over %s and %.2f over %s; threshold %.4g.", snap.LongBurn, snap.Long, snap.ShortBurn, snap.Short, snap.Threshold)
		}
		if snap.Runbook != "" {
			a.Annotations["runbook_url"] = snap.Runbook
		}
		if snap.Dashboard != "" {
			a.Annotations["dashboard"] = snap.Dashboard
		}
		// The spec's own (alerting.labels, alerting.page.annotations, ...):
		// validation keeps their labels off kakeibo's names.
		for k, v := range snap.AlertLabels {
			a.Labels[k] = v
		}
		for k, v := range snap.Annotations {
			a.Annotations[k] = v
		}
	}
	a.Labels["alertname"] = name
	a.Labels["severity"] = string(s.Severity)
	return a
}

// UndeliverableAlerts are alerts about kakeibo's own notifications that
// cannot be delivered (alertname KakeiboNotificationsUndeliverable, one per
// route and reason), so a revoked Slack token still reaches someone through
// Alertmanager. Groups stuck in prev but no longer in cur are resolved.
func UndeliverableAlerts(prev, cur []alerting.Stuck, now time.Time, resend time.Duration, generatorURL string) []Alert {
	var out []Alert
	mk := func(s alerting.Stuck, end time.Time) Alert {
		return Alert{
			Labels: map[string]string{"alertname": "KakeiboNotificationsUndeliverable", "route": s.Route, "reason": s.Reason, "severity": "page"},
			Annotations: map[string]string{
				"summary":     fmt.Sprintf("%d kakeibo notification(s) to %s cannot be delivered: %s", s.Count, s.Route, s.Reason),
				"description": "They wait in kakeibo's outbox and are sent once the cause is fixed. Last error: " + s.LastError,
			},
			StartsAt: s.Since, EndsAt: end, GeneratorURL: generatorURL,
		}
	}
	seen := map[string]bool{}
	for _, s := range cur {
		seen[s.Route+"|"+s.Reason] = true
		out = append(out, mk(s, now.Add(4*resend)))
	}
	for _, s := range prev {
		if !seen[s.Route+"|"+s.Reason] {
			out = append(out, mk(s, now))
		}
	}
	return out
}
