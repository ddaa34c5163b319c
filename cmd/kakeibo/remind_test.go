package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kakeibo-slo/kakeibo/alerting/slack/fakeslack"
)

func TestRemindDryRun(t *testing.T) {
	code, out, errOut := kakeibo(t, nil, "remind", "--specs", "../../testdata/specs", "--alb-logs", "../../testdata/alb", "--dry-run")
	require.Equal(t, exitOK, code, errOut)
	require.Contains(t, out, "# #mart (service mart-api, ja)\n*3件中2件のSLOに注意が必要です*")
	require.Contains(t, out, "# #storefront (service web-storefront, en)\n*All 2 SLOs are kept*")
	require.Contains(t, out, ":x: *mart-api/availability*")

	code, out, _ = kakeibo(t, nil, "remind", "--specs", "../../testdata/specs", "--alb-logs", "../../testdata/alb", "--dry-run", "--channel", "#storefront")
	require.Equal(t, exitOK, code)
	require.NotContains(t, out, "#mart")

	code, _, errOut = kakeibo(t, nil, "remind", "--specs", "../../testdata/specs", "--dry-run", "--channel", "#nowhere")
	require.Equal(t, exitFail, code)
	require.Contains(t, errOut, "no reminders configured for #nowhere")
}

// TestRemindPostsToSlack posts through the real slack-go client to a fake
// Slack that answers the first post with HTTP 500 (storing nothing): the
// one-shot command retries through the dispatcher and posts exactly once.
func TestRemindPostsToSlack(t *testing.T) {
	f := fakeslack.New(t, "xoxb-remind-secret", "mart", "storefront")
	f.FailPosts(1, 500, 0, "")
	env := map[string]string{"SLACK_BOT_TOKEN": "xoxb-remind-secret", "SLACK_API_URL": f.APIURL()}
	code, out, errOut := kakeibo(t, env, "remind", "--specs", "../../testdata/specs", "--alb-logs", "../../testdata/alb", "--channel", "#mart")
	require.Equal(t, exitOK, code, errOut)
	require.Empty(t, out)
	require.NotContains(t, errOut, "xoxb-remind-secret")
	require.Contains(t, errOut, "server_error", "the 500 is reported as a retry")
	msgs := f.Messages()
	require.Len(t, msgs, 1, "posted exactly once")
	require.Equal(t, f.ChannelID("#mart"), msgs[0].Channel)
	require.Equal(t, 2, f.Calls("chat.postMessage"))
	require.True(t, strings.HasPrefix(msgs[0].Text, "*3件中2件のSLOに注意が必要です*"), msgs[0].Text)
}

// TestRemindPermanentFailure: a revoked token fails the run at once with
// the reason, without the token.
func TestRemindPermanentFailure(t *testing.T) {
	f := fakeslack.New(t, "xoxb-remind-secret", "mart", "storefront")
	f.Revoke("token_revoked")
	env := map[string]string{"SLACK_BOT_TOKEN": "xoxb-remind-secret", "SLACK_API_URL": f.APIURL()}
	code, _, errOut := kakeibo(t, env, "remind", "--specs", "../../testdata/specs", "--alb-logs", "../../testdata/alb", "--channel", "#mart")
	require.Equal(t, exitFail, code, errOut)
	require.Contains(t, errOut, "not delivered")
	require.Contains(t, errOut, "token_revoked")
	require.NotContains(t, errOut, "xoxb-remind-secret")
	require.Empty(t, f.Messages())
}
