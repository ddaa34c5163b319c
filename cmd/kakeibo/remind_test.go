package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kakeibo-slo/kakeibo/alerting/slack/fakeslack"
)

func TestRemindDryRun(t *testing.T) {
	at := []string{"--at", "2026-10-02T00:00:00Z"}
	code, out, errOut := kakeibo(t, nil, append([]string{"remind", "--specs", "../../testdata/specs", "--alb-logs", "../../testdata/alb", "--dry-run"}, at...)...)
	require.Equal(t, exitOK, code, errOut)
	require.Contains(t, out, "# #mart (service mart-api, ja)\n*SLO違反あり: mart-api/availability（予算超過 12.4倍）*\n#mart・SLO 3件・2026-10-02 09:00 JST 時点\n"+
		":no_entry: デプロイ凍結中: mart-api: deploy frozen by the error budget policy (mart-api/availability: error budget exhausted (12.4× the budget spent over 30d))",
		"the digest says the policy freezes mart-api's deploys")
	require.Contains(t, out, "# #storefront (service web-storefront, en)\n*SLO violations: none*\n#storefront · 2 SLOs · as of 2026-10-02 02:00 CEST\n\n", "web-storefront's deploys are not frozen")
	require.Contains(t, out, ":x: *mart-api/availability* — 違反 — エラーバジェットの12.4倍を消費（予算超過）")

	// Without --at the digest is as of now: the bundled logs ended long ago.
	code, out, errOut = kakeibo(t, nil, "remind", "--specs", "../../testdata/specs", "--alb-logs", "../../testdata/alb", "--dry-run", "--channel", "#storefront")
	require.Equal(t, exitOK, code, errOut)
	require.Contains(t, out, "*SLO violations: none · 2 without current data*")
	require.Contains(t, out, "stale — no data since 2026-10-02 01:55 CEST")

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
	code, out, errOut := kakeibo(t, env, "remind", "--specs", "../../testdata/specs", "--alb-logs", "../../testdata/alb", "--channel", "#mart", "--at", "2026-10-02T00:00:00Z")
	require.Equal(t, exitOK, code, errOut)
	require.Empty(t, out)
	require.NotContains(t, errOut, "xoxb-remind-secret")
	require.Contains(t, errOut, "server_error", "the 500 is reported as a retry")
	msgs := f.Messages()
	require.Len(t, msgs, 1, "posted exactly once")
	require.Equal(t, f.ChannelID("#mart"), msgs[0].Channel)
	require.Equal(t, 2, f.Calls("chat.postMessage"))
	require.True(t, strings.HasPrefix(msgs[0].Text, "*SLO違反あり: mart-api/availability（予算超過 12.4倍）"), msgs[0].Text)
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
