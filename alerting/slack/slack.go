// Package slack delivers kakeibo notifications to Slack, with a bot token
// (chat.postMessage: Block Kit, threads, delivery checks) or an incoming
// webhook (no threads). It is the only importer of slack-go.
package slack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
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

	mu       sync.Mutex
	channels map[string]string // "#name" → channel ID
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
	n := &Notifier{webhook: cfg.WebhookURL, http: cfg.HTTPClient, templates: cfg.Templates, channels: map[string]string{}}
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

// channelIDRE matches Slack conversation IDs (public, private, DM).
var channelIDRE = regexp.MustCompile(`^[CGD][A-Z0-9]{8,}$`)

// channelID resolves a #name to the channel's ID: Slack's history and
// replies methods need IDs (https://api.slack.com/methods/conversations.history).
// Names are listed with conversations.list, page by page, and cached;
// refresh forgets the cache (after channel_not_found: a renamed channel).
func (s *Notifier) channelID(ctx context.Context, name string, refresh bool) (string, error) {
	if channelIDRE.MatchString(name) {
		return name, nil
	}
	s.mu.Lock()
	id, ok := s.channels[name]
	s.mu.Unlock()
	if ok && !refresh {
		return id, nil
	}
	found := map[string]string{}
	params := &slack.GetConversationsParameters{ExcludeArchived: true, Limit: 1000, Types: []string{"public_channel", "private_channel"}}
	for {
		chans, next, err := s.api.GetConversationsContext(ctx, params)
		if err != nil {
			return "", err
		}
		for _, c := range chans {
			found["#"+c.Name] = c.ID
		}
		if next == "" {
			break
		}
		params.Cursor = next
	}
	s.mu.Lock()
	s.channels = found
	id, ok = found[name]
	s.mu.Unlock()
	if !ok {
		return "", slack.SlackErrorResponse{Err: "channel_not_found"}
	}
	return id, nil
}

// Notify posts one notification: repeats and resolves go into the thread
// of the incident's first message.
func (s *Notifier) Notify(ctx context.Context, n *alerting.Notification, thread *alerting.Receipt) (alerting.Receipt, error) {
	text, attachment, err := s.render(n)
	if err != nil {
		return alerting.Receipt{}, &alerting.SendError{Err: err, Permanent: true, Reason: "render"}
	}
	if s.api == nil {
		if n.Kind == alerting.KindUpdate {
			return alerting.Receipt{}, nil // a webhook cannot edit its message: say it at the resolve
		}
		msg := &slack.WebhookMessage{Channel: n.Channel, Text: text}
		if attachment != nil {
			msg.Attachments = []slack.Attachment{*attachment}
		}
		err := slack.PostWebhookCustomHTTPContext(ctx, s.webhook, s.http, msg)
		return alerting.Receipt{Channel: n.Channel}, s.classify(err)
	}
	threaded := thread != nil && thread.TS != ""
	if threaded && (n.Kind == alerting.KindUpdate || n.Kind == alerting.KindReopened || n.Kind == alerting.KindResolved) {
		// The incident's message is updated in place (chat.update is
		// idempotent, so a repeated update after a timeout is harmless) ...
		ptext, patt, err := s.renderParent(n)
		if err != nil {
			return alerting.Receipt{}, &alerting.SendError{Err: err, Permanent: true, Reason: "render"}
		}
		opts := []slack.MsgOption{slack.MsgOptionText(ptext, false)}
		if patt != nil {
			opts = append(opts, slack.MsgOptionAttachments(*patt))
		}
		if _, _, _, err := s.api.UpdateMessageContext(ctx, thread.Channel, thread.TS, opts...); err != nil {
			return alerting.Receipt{}, s.classify(err)
		}
		if n.Kind == alerting.KindUpdate {
			return *thread, nil
		}
		// ... and a resolve or a re-fire is also said in the thread, and
		// in the channel, so it is not missed.
	}
	channel, err := s.channelID(ctx, n.Channel, false)
	if err != nil {
		return alerting.Receipt{}, s.classifyCheck(err)
	}
	opts := []slack.MsgOption{
		slack.MsgOptionText(text, false),
		slack.MsgOptionMetadata(slack.SlackMetadata{EventType: metadataType, EventPayload: map[string]any{
			"uid": n.UID, "key": n.Key, "kind": string(n.Kind)}}),
	}
	if attachment != nil {
		opts = append(opts, slack.MsgOptionAttachments(*attachment))
	}
	if threaded {
		channel = thread.Channel
		opts = append(opts, slack.MsgOptionTS(thread.TS))
		if n.Kind == alerting.KindRepeat || n.Kind == alerting.KindResolved || n.Kind == alerting.KindReopened {
			opts = append(opts, slack.MsgOptionBroadcast())
		}
	}
	id, ts, err := s.api.PostMessageContext(ctx, channel, opts...)
	if err != nil {
		var resp slack.SlackErrorResponse
		if errors.As(err, &resp) && resp.Err == "channel_not_found" && !channelIDRE.MatchString(n.Channel) {
			s.mu.Lock()
			delete(s.channels, n.Channel) // renamed or deleted: list again next time
			s.mu.Unlock()
		}
		return alerting.Receipt{}, s.classify(err)
	}
	return alerting.Receipt{Channel: id, TS: ts}, nil
}

// renderParent renders what the incident's first message says now: the
// firing alerts, or that it resolved and when.
func (s *Notifier) renderParent(n *alerting.Notification) (string, *slack.Attachment, error) {
	p := *n
	if n.Kind != alerting.KindResolved {
		p.Kind = alerting.KindFiring
	}
	return s.render(&p)
}

// Delivered says whether a notification whose delivery outcome is unknown
// reached Slack, by the uid in its metadata: a thread reply is looked up
// with conversations.replies (history lists parent messages only), any
// other message with conversations.history from a minute before it was
// created. Webhooks cannot be asked: they get at-least-once delivery.
func (s *Notifier) Delivered(ctx context.Context, n *alerting.Notification, thread *alerting.Receipt) (alerting.Receipt, bool, error) {
	if s.api == nil || n.UID == "" || n.Kind == alerting.KindUpdate {
		return alerting.Receipt{}, false, nil // an update is simply made again
	}
	oldest := strconv.FormatInt(n.Created.Add(-time.Minute).Unix(), 10)
	match := func(msgs []slack.Message) (string, bool) {
		for _, m := range msgs {
			if m.Metadata.EventType == metadataType && fmt.Sprint(m.Metadata.EventPayload["uid"]) == n.UID {
				return m.Timestamp, true
			}
		}
		return "", false
	}
	if thread != nil && thread.TS != "" {
		params := &slack.GetConversationRepliesParameters{ChannelID: thread.Channel, Timestamp: thread.TS, Limit: 200, IncludeAllMetadata: true}
		for {
			msgs, more, next, err := s.api.GetConversationRepliesContext(ctx, params)
			if err != nil {
				return alerting.Receipt{}, false, s.classifyCheck(err)
			}
			if ts, ok := match(msgs); ok {
				return alerting.Receipt{Channel: thread.Channel, TS: ts}, true, nil
			}
			if !more || next == "" {
				return alerting.Receipt{}, false, nil
			}
			params.Cursor = next
		}
	}
	channel, err := s.channelID(ctx, n.Channel, false)
	if err != nil {
		return alerting.Receipt{}, false, s.classifyCheck(err)
	}
	params := &slack.GetConversationHistoryParameters{ChannelID: channel, Oldest: oldest, Limit: 200, IncludeAllMetadata: true}
	for {
		h, err := s.api.GetConversationHistoryContext(ctx, params)
		if err != nil {
			return alerting.Receipt{}, false, s.classifyCheck(err)
		}
		if ts, ok := match(h.Messages); ok {
			return alerting.Receipt{Channel: channel, TS: ts}, true, nil
		}
		if !h.HasMore || h.ResponseMetaData.NextCursor == "" {
			return alerting.Receipt{}, false, nil
		}
		params.Cursor = h.ResponseMetaData.NextCursor
	}
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

// classifyCheck reads the error of a call that posts nothing (a channel
// lookup, a delivery check): network trouble there leaves no doubt.
func (s *Notifier) classifyCheck(err error) error {
	e := s.classify(err)
	var se *alerting.SendError
	if errors.As(e, &se) {
		se.Uncertain = false
	}
	return e
}

// classify sorts Slack's answers into retry (rate limits, 5xx, network)
// and permanent failures, with a reason for metrics. A timeout, a reset
// connection or a 5xx leaves the outcome of a post unknown. Errors carrying
// the webhook URL (Go's HTTP errors quote it) have it removed.
func (s *Notifier) classify(err error) error {
	if err == nil {
		return nil
	}
	if s.webhook != "" && strings.Contains(err.Error(), s.webhook) {
		err = errors.New(strings.ReplaceAll(err.Error(), s.webhook, "[SLACK_WEBHOOK_URL]"))
	}
	var rl *slack.RateLimitedError
	if errors.As(err, &rl) {
		return &alerting.SendError{Err: err, Reason: "rate_limited", RetryAfter: max(rl.RetryAfter, time.Second)}
	}
	var sc slack.StatusCodeError
	if errors.As(err, &sc) {
		if sc.Code >= 500 {
			return &alerting.SendError{Err: err, Reason: "server_error", Uncertain: true}
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
	if errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) {
		return &alerting.SendError{Err: err, Reason: "network", Uncertain: true}
	}
	return &alerting.SendError{Err: err, Reason: "error", Uncertain: true}
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
	if n.Kind == alerting.KindOps {
		return ":rotating_light: " + alerting.EscapeMrkdwn(n.Text), nil, nil
	}
	a := n.Alert
	if a == nil {
		return "", nil, fmt.Errorf("notification %d has no content", n.ID)
	}
	esc := alerting.EscapeMrkdwn
	lang := a.Language
	T := func(f string) string { // the message in the service's language
		if j, ok := japanese[f]; ok && lang == "ja" {
			return j
		}
		return f
	}
	dur := func(secs float64) string {
		return alerting.NaturalDuration(time.Duration(secs*float64(time.Second)), lang)
	}
	id := esc(a.Service + "/" + a.SLO)
	var title, color string
	resolved := n.Kind == alerting.KindResolved || !a.ResolvedAt.IsZero()
	switch {
	case resolved && a.Alert == alerting.AlertStale:
		title, color = fmt.Sprintf(T(":white_check_mark: Resolved: %s has data again (as of %s)"), id, a.When()), colorResolved
	case resolved && n.Kind != alerting.KindResolved:
		// A firing message merged with its resolve (both were queued).
		title, color = fmt.Sprintf(T(":white_check_mark: Fired and resolved: %s (%s) %s"), id, esc(a.Alert), a.Span()), colorResolved
	case resolved:
		title, color = fmt.Sprintf(T(":white_check_mark: Resolved: %s (%s) %s"), id, esc(a.Alert), a.Span()), colorResolved
	case a.Alert == alerting.AlertStale:
		title, color = fmt.Sprintf(T(":warning: [TICKET] %s has no data since %s: its logs stopped arriving, so its status and alerts are on hold"), id, a.When()), colorTicket
	case a.Alert == alerting.AlertBudgetExhausted:
		title, color = fmt.Sprintf(T(":money_with_wings: %s has spent its error budget"), id), colorTicket
	default:
		prefix := ":rotating_light: [PAGE]"
		color = colorPage
		if a.Severity == slo.Ticket {
			prefix, color = ":warning: [TICKET]", colorTicket
		}
		switch n.Kind {
		case alerting.KindRepeat:
			prefix += T(" still firing:")
		case alerting.KindReopened:
			prefix += T(" firing again:")
		}
		title = fmt.Sprintf(T("%s %s is burning its error budget (%s)"), prefix, id, esc(a.Alert))
	}
	left := "unknown"
	switch r := a.BudgetRemaining; {
	case r != nil && *r < 0:
		left = fmt.Sprintf(T("overspent: %s× the budget is spent"), slo.TrimFloat(1-*r, 2))
	case r != nil:
		left = fmt.Sprintf(T("%s%% (%s)"), slo.TrimFloat(*r*100, 1), dur(a.BudgetSeconds))
	}
	fields := []*slack.TextBlockObject{
		md(fmt.Sprintf(T("*SLI*\n%s (objective %s over %s)"), ratio(a.SLI), pct(a.Objective), esc(a.Window))),
		md(fmt.Sprintf(T("*Budget left*\n%s"), left)),
	}
	if a.Long != "" {
		fields = append(fields, md(fmt.Sprintf(T("*Burn rate*\n%s over %s, %s over %s (threshold %s)"),
			burn(a.LongBurn), a.Long, burn(a.ShortBurn), a.Short, burn(a.Threshold))))
	}
	if a.TTESeconds != nil && *a.TTESeconds > 0 {
		fields = append(fields, md(fmt.Sprintf(T("*Budget spent in*\n%s at this rate"), dur(*a.TTESeconds))))
	}
	if when := a.When(); when != "" {
		fields = append(fields, md(T("*As of*\n")+when))
	}
	blocks := []slack.Block{
		slack.NewSectionBlock(md("*"+title+"*"), nil, nil),
		slack.NewSectionBlock(nil, fields, nil),
	}
	var links []string
	if a.Page != "" {
		links = append(links, fmt.Sprintf("<%s|%s>", esc(a.Page), T("SLO page")))
	}
	if a.Dashboard != "" {
		links = append(links, fmt.Sprintf("<%s|%s>", esc(a.Dashboard), T("Dashboard")))
	}
	if a.Runbook != "" {
		links = append(links, fmt.Sprintf("<%s|%s>", esc(a.Runbook), T("Runbook")))
	}
	if len(links) > 0 {
		blocks = append(blocks, slack.NewContextBlock("", md(strings.Join(links, " · "))))
	}
	fallback := fmt.Sprintf(T("%s — SLI %s, budget left %s"), title, ratio(a.SLI), left)
	if m := mentions(n.Mention); m != "" && n.Kind != alerting.KindResolved {
		// Mentions notify only from the message text, not from attachments.
		fallback = m + " " + fallback
	}
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

func burn(f float64) string { return strconv.FormatFloat(f, 'f', 2, 64) + "×" }

// mentions renders page mentions in Slack's syntax ("Formatting text for
// app surfaces": <!here>, <!channel>, <!subteam^ID>, <@USER>).
func mentions(ms []string) string {
	var out []string
	for _, m := range ms {
		switch {
		case m == "@here" || m == "@channel":
			out = append(out, "<!"+m[1:]+">")
		case strings.HasPrefix(m, "S"):
			out = append(out, "<!subteam^"+m+">")
		case strings.HasPrefix(m, "U") || strings.HasPrefix(m, "W"):
			out = append(out, "<@"+m+">")
		}
	}
	return strings.Join(out, " ")
}

// japanese are the alert messages of services whose notify.language is ja.
var japanese = map[string]string{
	"SLO page":  "SLOページ",
	"%s%% (%s)": "%s%%（%s）",
	":white_check_mark: Resolved: %s has data again (as of %s)":                                                   ":white_check_mark: 解消: %s のデータが再開しました（%s 時点）",
	":white_check_mark: Fired and resolved: %s (%s) %s":                                                           ":white_check_mark: 発生・解消済み: %s（%s）%s",
	":white_check_mark: Resolved: %s (%s) %s":                                                                     ":white_check_mark: 解消: %s（%s）%s",
	":warning: [TICKET] %s has no data since %s: its logs stopped arriving, so its status and alerts are on hold": ":warning: [TICKET] %s は %s 以降のデータがありません。ログが届いていないため、状態とアラートを保留しています",
	":money_with_wings: %s has spent its error budget":                                                            ":money_with_wings: %s のエラーバジェットが尽きました",
	" still firing:":                                     " 継続中:",
	" firing again:":                                     " 再発:",
	"%s %s is burning its error budget (%s)":             "%s %s がエラーバジェットを急速に消費しています（%s）",
	"overspent: %s× the budget is spent":                 "予算超過（予算の%s倍を消費）",
	"*SLI*\n%s (objective %s over %s)":                   "*SLI*\n%s（目標 %s・%s）",
	"*Budget left*\n%s":                                  "*残りエラーバジェット*\n%s",
	"*Burn rate*\n%s over %s, %s over %s (threshold %s)": "*バーンレート*\n%s（%s）、%s（%s）、しきい値 %s",
	"*Budget spent in*\n%s at this rate":                 "*予算が尽きるまで*\nこのペースで%s",
	"*As of*\n":                                          "*時点*\n",
	"Dashboard":                                          "ダッシュボード",
	"Runbook":                                            "手順書",
	"%s — SLI %s, budget left %s":                        "%s — SLI %s、残りエラーバジェット %s",
}
