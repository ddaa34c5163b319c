// Package redact removes secrets from text on its way to logs, stored
// errors, metrics and pages: the values of known secret variables (Slack
// tokens, webhook URLs, routing keys, AWS keys), anything shaped like a
// Slack token or webhook URL, and the password of any URL.
package redact

import (
	"context"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"sync"
)

// Mask replaces a secret.
const Mask = "[REDACTED]"

// Redactor redacts text. The zero value redacts shapes only.
type Redactor struct {
	mu      sync.RWMutex
	secrets []string
}

// New returns a Redactor for these secret values (empty and very short
// values are ignored: they would mask ordinary text).
func New(secrets ...string) *Redactor {
	r := &Redactor{}
	r.Add(secrets...)
	return r
}

// Add learns more secret values.
func (r *Redactor) Add(secrets ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range secrets {
		if len(s) >= 6 && !slices.Contains(r.secrets, s) {
			r.secrets = append(r.secrets, s)
		}
	}
	// Longest first, so a URL is masked whole before a key inside it.
	slices.SortFunc(r.secrets, func(a, b string) int { return len(b) - len(a) })
}

var (
	slackTokenRE   = regexp.MustCompile(`xox[a-z]-[A-Za-z0-9-]{6,}`)
	slackWebhookRE = regexp.MustCompile(`hooks\.slack(?:-gov)?\.com/(?:services|workflows|triggers)/[A-Za-z0-9/_-]+`)
	// userinfoRE is the user:password@ part of a URL.
	userinfoRE = regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.-]*://)([^/@\s:"']*):([^/@\s"']*)@`)
)

// Redact returns s without secrets.
func (r *Redactor) Redact(s string) string {
	if r != nil {
		r.mu.RLock()
		for _, v := range r.secrets {
			if strings.Contains(s, v) {
				s = strings.ReplaceAll(s, v, Mask)
			}
		}
		r.mu.RUnlock()
	}
	s = slackTokenRE.ReplaceAllString(s, Mask)
	s = slackWebhookRE.ReplaceAllString(s, "hooks.slack.com/"+Mask)
	s = userinfoRE.ReplaceAllString(s, "${1}${2}:"+Mask+"@")
	return s
}

// Handler wraps h so that every message and attribute value of every
// record is redacted: no code path can log a secret by accident.
func (r *Redactor) Handler(h slog.Handler) slog.Handler { return &handler{r: r, next: h} }

type handler struct {
	r    *Redactor
	next slog.Handler
}

func (h *handler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

func (h *handler) Handle(ctx context.Context, rec slog.Record) error {
	out := slog.NewRecord(rec.Time, rec.Level, h.r.Redact(rec.Message), rec.PC)
	rec.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(h.attr(a))
		return true
	})
	return h.next.Handle(ctx, out)
}

func (h *handler) attr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, h.r.Redact(v.String()))
	case slog.KindGroup:
		var as []any
		for _, g := range v.Group() {
			as = append(as, h.attr(g))
		}
		return slog.Group(a.Key, as...)
	case slog.KindAny:
		switch x := v.Any().(type) {
		case error:
			return slog.String(a.Key, h.r.Redact(x.Error()))
		case interface{ String() string }:
			return slog.String(a.Key, h.r.Redact(x.String()))
		case []string:
			c := make([]string, len(x))
			for i, s := range x {
				c[i] = h.r.Redact(s)
			}
			return slog.Any(a.Key, c)
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}

func (h *handler) WithAttrs(as []slog.Attr) slog.Handler {
	red := make([]slog.Attr, len(as))
	for i, a := range as {
		red[i] = h.attr(a)
	}
	return &handler{r: h.r, next: h.next.WithAttrs(red)}
}

func (h *handler) WithGroup(name string) slog.Handler {
	return &handler{r: h.r, next: h.next.WithGroup(name)}
}
