// Package slack delivers kakeibo notifications to Slack, with a bot token
// (chat.postMessage: Block Kit, threads, delivery checks) or an incoming
// webhook (no threads). It is the only importer of slack-go.
package slack

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/kakeibo-slo/kakeibo/alerting"
	"github.com/kakeibo-slo/kakeibo/slo"
)

// Config configures the Notifier. Token and WebhookURL come from the
// environment (SLACK_BOT_TOKEN, SLACK_WEBHOOK_URL) and are never logged.
type Config struct {
	Token      string
	WebhookURL string
	// APIURL overrides https://slack.com/api/ (proxies, tests).
	APIURL     string
	HTTPClient *http.Client
	Templates  *alerting.Templates
}

// Notifier posts to Slack.
type Notifier struct {
	api       *slack.Client
	webhook   string
	http      *http.Client
	templates *alerting.Templates
}

// New returns a Notifier; with neither a token nor a webhook it is an error
// (run without a Notifier for a dry run).
func New(cfg Config) (*Notifier, error) {
	if cfg.Token == "" && cfg.WebhookURL == "" {
		return nil, errors.New("slack: a bot token or a webhook URL is required")
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 15 * time.Second}
	}
	if cfg.Templates == nil {
		t, err := alerting.LoadTemplates("")
		if err != nil {
			return nil, err
		}
		cfg.Templates = t
	}
	n := &Notifier{webhook: cfg.WebhookURL, http: cfg.HTTPClient, templates: cfg.Templates}
	if cfg.Token != "" {
		opts := []slack.Option{slack.OptionHTTPClient(cfg.HTTPClient)}
		if cfg.APIURL != "" {
			opts = append(opts, slack.OptionAPIURL(strings.TrimSuffix(cfg.APIURL, "/")+"/"))
		}
		n.api = slack.New(cfg.Token, opts...)
	}
	return n, nil
}

// metadataType marks kakeibo's messages so a delivery can be verified.
const metadataType = "kakeibo_notification"

// Notify posts one notification: repeats and resolves go into the thread
// of the incident's first message.
func (s *Notifier) Notify(ctx context.Context, n *alerting.Notification, thread *alerting.Receipt) (alerting.Receipt, error) {
	text, attachment, err := s.render(n)
	if err != nil {
		return alerting.Receipt{}, &alerting.SendError{Err: err, Permanent: true, Reason: "render"}
	}
	if s.api == nil {
		msg := &slack.WebhookMessage{Channel: n.Channel, Text: text}
		if attachment != nil {
			msg.Attachments = []slack.Attachment{*attachment}
		}
		err := slack.PostWebhookCustomHTTPContext(ctx, s.webhook, s.http, msg)
		return alerting.Receipt{Channel: n.Channel}, classify(err)
	}
	opts := []slack.MsgOption{
		slack.MsgOptionText(text, false),
		slack.MsgOptionMetadata(slack.SlackMetadata{EventType: metadataType, EventPayload: map[string]any{"id": strconv.FormatUint(n.ID, 10), "key": n.Key}}),
	}
	if attachment != nil {
		opts = append(opts, slack.MsgOptionAttachments(*attachment))
	}
	if thread != nil && thread.TS != "" {
		opts = append(opts, slack.MsgOptionTS(thread.TS))
		if n.Kind == alerting.KindRepeat {
			opts = append(opts, slack.MsgOptionBroadcast())
		}
	}
	channel, ts, err := s.api.PostMessageContext(ctx, n.Channel, opts...)
	if err != nil {
		return alerting.Receipt{}, classify(err)
	}
	return alerting.Receipt{Channel: channel, TS: ts}, nil
}

// Delivered looks for the notification in the channel's recent history by
// its metadata: after a crash mid-request, kakeibo asks before posting again.
func (s *Notifier) Delivered(ctx context.Context, n *alerting.Notification) (alerting.Receipt, bool, error) {
	if s.api == nil {
		return alerting.Receipt{}, false, nil // webhooks cannot tell: at least once
	}
	oldest := strconv.FormatInt(n.Created.Add(-time.Minute).Unix(), 10)
	h, err := s.api.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{
		ChannelID: n.Channel, Oldest: oldest, Limit: 200, IncludeAllMetadata: true,
	})
	if err != nil {
		return alerting.Receipt{}, false, classify(err)
	}
	id := strconv.FormatUint(n.ID, 10)
	for _, m := range h.Messages {
		if m.Metadata.EventType == metadataType && fmt.Sprint(m.Metadata.EventPayload["id"]) == id {
			return alerting.Receipt{Channel: n.Channel, TS: m.Timestamp}, true, nil
		}
	}
	return alerting.Receipt{}, false, nil
}

// permanent are Slack API errors that retrying does not fix.
var permanent = map[string]bool{
	"channel_not_found": true, "not_in_channel": true, "is_archived": true,
	"invalid_auth": true, "not_authed": true, "account_inactive": true, "token_revoked": true,
	"token_expired": true, "missing_scope": true, "no_permission": true, "msg_too_long": true,
	"no_text": true, "invalid_blocks": true, "restricted_action": true, "invalid_arguments": true,
	"channel_is_archived": true, "invalid_token": true, "no_service": true, "no_service_id": true,
	"team_disabled": true,
}

// classify sorts Slack's answers into retry (rate limits, 5xx, network)
// and permanent failures, with a reason for metrics.
func classify(err error) error {
	if err == nil {
		return nil
	}
	var rl *slack.RateLimitedError
	if errors.As(err, &rl) {
		return &alerting.SendError{Err: err, Reason: "rate_limited", RetryAfter: max(rl.RetryAfter, time.Second)}
	}
	var sc slack.StatusCodeError
	if errors.As(err, &sc) {
		if sc.Code >= 500 {
			return &alerting.SendError{Err: err, Reason: "server_error"}
		}
		return &alerting.SendError{Err: err, Permanent: true, Reason: "http_" + strconv.Itoa(sc.Code)}
	}
	var resp slack.SlackErrorResponse
	if errors.As(err, &resp) {
		if permanent[resp.Err] {
			return &alerting.SendError{Err: err, Permanent: true, Reason: resp.Err}
		}
		return &alerting.SendError{Err: err, Reason: resp.Err}
	}
	if permanent[err.Error()] {
		return &alerting.SendError{Err: err, Permanent: true, Reason: err.Error()}
	}
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded) {
		return &alerting.SendError{Err: err, Reason: "network"}
	}
	return &alerting.SendError{Err: err, Reason: "error"}
}

// Colors of the message bar.
const (
	colorPage     = "#d00000"
	colorTicket   = "#f2a900"
	colorResolved = "#2eb67d"
)

func (s *Notifier) render(n *alerting.Notification) (string, *slack.Attachment, error) {
	if n.Digest != nil {
		text, err := s.templates.Digest(n.Digest)
		return text, nil, err
	}
	a := n.Alert
	if a == nil {
		return "", nil, fmt.Errorf("notification %d has no content", n.ID)
	}
	id := a.Service + "/" + a.SLO
	var title, color string
	switch {
	case n.Kind == alerting.KindResolved:
		title, color = fmt.Sprintf(":white_check_mark: Resolved: %s (%s)", id, a.Alert), colorResolved
	case a.Alert == alerting.AlertBudgetExhausted:
		title, color = fmt.Sprintf(":money_with_wings: %s has spent its error budget", id), colorTicket
	default:
		prefix := ":rotating_light: [PAGE]"
		color = colorPage
		if a.Severity == slo.Ticket {
			prefix, color = ":warning: [TICKET]", colorTicket
		}
		if n.Kind == alerting.KindRepeat {
			prefix += " still firing:"
		}
		title = fmt.Sprintf("%s %s is burning its error budget (%s)", prefix, id, a.Alert)
	}
	fields := []*slack.TextBlockObject{
		md(fmt.Sprintf("*SLI*\n%s (objective %s over %s)", ratio(a.SLI), pct(a.Objective), a.Window)),
		md(fmt.Sprintf("*Budget left*\n%s (%s)", budget(a.BudgetRemaining), slo.HumanDuration(time.Duration(a.BudgetSeconds*float64(time.Second))))),
	}
	if a.Long != "" {
		fields = append(fields, md(fmt.Sprintf("*Burn rate*\n%s over %s, %s over %s (threshold %s)",
			burn(a.LongBurn), a.Long, burn(a.ShortBurn), a.Short, burn(a.Threshold))))
	}
	if a.TTESeconds != nil {
		fields = append(fields, md(fmt.Sprintf("*Budget spent in*\n%s at this rate", slo.HumanDuration(time.Duration(*a.TTESeconds*float64(time.Second))))))
	}
	blocks := []slack.Block{
		slack.NewSectionBlock(md("*"+title+"*"), nil, nil),
		slack.NewSectionBlock(nil, fields, nil),
	}
	var links []string
	if a.Dashboard != "" {
		links = append(links, fmt.Sprintf("<%s|Dashboard>", a.Dashboard))
	}
	if a.Runbook != "" {
		links = append(links, fmt.Sprintf("<%s|Runbook>", a.Runbook))
	}
	if len(links) > 0 {
		blocks = append(blocks, slack.NewContextBlock("", md(strings.Join(links, " · "))))
	}
	fallback := fmt.Sprintf("%s — SLI %s, budget left %s", title, ratio(a.SLI), budget(a.BudgetRemaining))
	return fallback, &slack.Attachment{Color: color, Fallback: fallback, Blocks: slack.Blocks{BlockSet: blocks}}, nil
}

func md(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.MarkdownType, s, false, false)
}

func pct(f float64) string { return strconv.FormatFloat(f*100, 'g', 10, 64) + "%" }

func ratio(f *float64) string {
	if f == nil {
		return "no data"
	}
	return strconv.FormatFloat(*f*100, 'f', 3, 64) + "%"
}

func budget(f *float64) string {
	if f == nil {
		return "unknown"
	}
	return strconv.FormatFloat(*f*100, 'f', 1, 64) + "%"
}

func burn(f float64) string { return strconv.FormatFloat(f, 'f', 2, 64) + "×" }
