package redact

import (
	"bytes"
	"errors"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRedact(t *testing.T) {
	r := New("s3cr3t-routing-key", "abc") // "abc" is too short to mask
	for _, c := range []struct{ in, want string }{
		{`Post "https://hooks.slack.com/services/T000/B000/XXXXsecret": dial tcp`, `Post "https://hooks.slack.com/[REDACTED]": dial tcp`},
		{"token xoxb-1234-5678-abcdefgh used", "token [REDACTED] used"},
		{"alertmanager http://user:pa55word@am:9093/api", "alertmanager http://user:[REDACTED]@am:9093/api"},
		{"key s3cr3t-routing-key in a body", "key [REDACTED] in a body"},
		{"abc stays", "abc stays"},
		{"https://grafana.example.com/d/x?a=1", "https://grafana.example.com/d/x?a=1"},
	} {
		require.Equal(t, c.want, r.Redact(c.in))
	}
}

func TestHandler(t *testing.T) {
	var b bytes.Buffer
	r := New("planted-value-1")
	log := slog.New(r.Handler(slog.NewJSONHandler(&b, nil))).With("url", "http://u:planted-pass@h")
	log.Error("failed with planted-value-1", "err", errors.New("Post https://hooks.slack.com/services/T/B/planted-hook"),
		slog.Group("g", "token", "xoxb-planted-token-1"), "list", []string{"planted-value-1"})
	out := b.String()
	for _, s := range []string{"planted-value-1", "planted-pass", "planted-hook", "planted-token"} {
		require.NotContains(t, out, s)
	}
	require.Contains(t, out, "[REDACTED]")
}
