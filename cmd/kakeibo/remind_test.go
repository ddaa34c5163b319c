package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
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

// TestRemindPostsToSlack posts through the real slack-go client to an HTTP
// server speaking chat.postMessage.
func TestRemindPostsToSlack(t *testing.T) {
	var mu sync.Mutex
	var posts []map[string]string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		mu.Lock()
		posts = append(posts, map[string]string{"path": r.URL.Path, "channel": r.Form.Get("channel"), "text": r.Form.Get("text"), "token": r.Form.Get("token")})
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ok":true,"channel":"C1","ts":"1.2"}`))
	}))
	defer srv.Close()
	env := map[string]string{"SLACK_BOT_TOKEN": "xoxb-remind-secret", "SLACK_API_URL": srv.URL + "/api/"}
	code, out, errOut := kakeibo(t, env, "remind", "--specs", "../../testdata/specs", "--alb-logs", "../../testdata/alb", "--channel", "#mart")
	require.Equal(t, exitOK, code, errOut)
	require.Empty(t, out)
	require.NotContains(t, errOut, "xoxb-remind-secret")
	require.Len(t, posts, 1)
	require.Equal(t, "/api/chat.postMessage", posts[0]["path"])
	require.Equal(t, "#mart", posts[0]["channel"])
	require.Equal(t, "xoxb-remind-secret", posts[0]["token"])
	require.True(t, strings.HasPrefix(posts[0]["text"], "*3件中2件のSLOに注意が必要です*"), posts[0]["text"])
}
