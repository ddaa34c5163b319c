// Package webhook posts kakeibo's notifications as JSON to any HTTP
// endpoint (Opsgenie or Teams relays, in-house bots).
//
// The contract, for receivers:
//
//   - POST, Content-Type: application/json, the body is a Message;
//   - X-Kakeibo-Delivery: the notification's uid. A delivery whose outcome
//     kakeibo could not see (timeout, crash) is sent again with the same
//     uid: receivers dedupe on it (at-least-once delivery);
//   - X-Kakeibo-Timestamp: Unix seconds when the request was signed;
//   - X-Kakeibo-Signature: "sha256=" + hex(HMAC-SHA256(secret, timestamp +
//     "." + body)), when the route names a secret variable. Receivers
//     recompute it and reject stale timestamps, against forgery and replay;
//   - answer 2xx when taken; 429 (with Retry-After) and 5xx are retried with
//     backoff; other answers are permanent failures, shown as undeliverable.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/kakeibo-slo/kakeibo/alerting"
)

// Config configures the Notifier.
type Config struct {
	// Getenv reads URLs and secrets by the variable names specs give.
	Getenv     func(string) string
	HTTPClient *http.Client
	Now        func() time.Time
}

// Notifier posts webhooks.
type Notifier struct{ cfg Config }

// New returns a Notifier.
func New(cfg Config) *Notifier {
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 15 * time.Second}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Notifier{cfg: cfg}
}

// Message is the JSON body of a webhook.
type Message struct {
	Version  int    `json:"version"`
	UID      string `json:"uid"`
	Key      string `json:"key"`
	Incident string `json:"incident,omitempty"`
	// Kind is firing, repeat, resolved, digest or ops; Status is firing or
	// resolved.
	Kind    string             `json:"kind"`
	Status  string             `json:"status"`
	Summary string             `json:"summary"`
	Alert   *alerting.Snapshot `json:"alert,omitempty"`
	Digest  *alerting.Digest   `json:"digest,omitempty"`
	Created time.Time          `json:"created"`
}

// Sign returns the signature header value for a body.
func Sign(secret, timestamp string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(timestamp + "."))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Notify posts one notification.
func (w *Notifier) Notify(ctx context.Context, n *alerting.Notification, _ *alerting.Receipt) (alerting.Receipt, error) {
	getenv := w.cfg.Getenv
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	url := getenv(n.KeyEnv)
	if url == "" {
		return alerting.Receipt{}, &alerting.SendError{Err: fmt.Errorf("environment variable %s (the webhook URL) is not set", n.KeyEnv), Permanent: true, Reason: "no_url"}
	}
	status := "firing"
	if n.Kind == alerting.KindResolved {
		status = "resolved"
	}
	body, err := json.Marshal(Message{Version: 1, UID: n.UID, Key: n.Key, Incident: n.Incident, Kind: string(n.Kind), Status: status,
		Summary: n.Summary(), Alert: n.Alert, Digest: n.Digest, Created: n.Created})
	if err != nil {
		return alerting.Receipt{}, &alerting.SendError{Err: err, Permanent: true, Reason: "render"}
	}
	// The URL is a secret: errors name the variable instead.
	hide := func(err error) error {
		return errors.New(strings.ReplaceAll(err.Error(), url, "$"+n.KeyEnv))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return alerting.Receipt{}, &alerting.SendError{Err: hide(err), Permanent: true, Reason: "config"}
	}
	ts := strconv.FormatInt(w.cfg.Now().Unix(), 10)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "kakeibo")
	req.Header.Set("X-Kakeibo-Delivery", n.UID)
	req.Header.Set("X-Kakeibo-Timestamp", ts)
	if n.SecretEnv != "" {
		secret := getenv(n.SecretEnv)
		if secret == "" {
			return alerting.Receipt{}, &alerting.SendError{Err: fmt.Errorf("environment variable %s (the webhook secret) is not set", n.SecretEnv), Permanent: true, Reason: "no_secret"}
		}
		req.Header.Set("X-Kakeibo-Signature", Sign(secret, ts, body))
	}
	resp, err := w.cfg.HTTPClient.Do(req)
	if err != nil {
		return alerting.Receipt{}, alerting.NetworkError(hide(err))
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	if resp.StatusCode/100 != 2 {
		return alerting.Receipt{}, alerting.HTTPError(resp.StatusCode, resp.Header.Get("Retry-After"), string(msg))
	}
	return alerting.Receipt{Channel: "webhook"}, nil
}
