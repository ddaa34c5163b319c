package main

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/kakeibo-slo/kakeibo/server"
)

// TestGateOnBundledData: on the bundled day, mart-api has spent its budget
// and its policy freezes deploys: kakeibo gate exits 1 with the reason,
// reading the logs itself or asking a running kakeibo; web-storefront's
// deploys may go ahead; an override recorded with kakeibo gate override
// (who, why, how long) lets mart-api's through, shows on the status page,
// and needs the API token.
func TestGateOnBundledData(t *testing.T) {
	env := map[string]string{}
	code, stdout, _ := kakeibo(t, env, "gate", "mart-api", "--specs", "../../testdata/specs", "--alb-logs", "../../testdata/alb", "--progress", "never")
	require.Equal(t, exitFail, code)
	require.Contains(t, stdout, "mart-api: deploy is frozen by the error budget policy")
	require.Contains(t, stdout, "frozen: mart-api/availability: error budget exhausted (12.4× the budget spent over 30d)")
	code, stdout, _ = kakeibo(t, env, "gate", "web-storefront", "--specs", "../../testdata/specs", "--alb-logs", "../../testdata/alb", "--progress", "never")
	require.Equal(t, exitOK, code, stdout)
	require.Contains(t, stdout, "web-storefront: deploy may go ahead")

	// A running kakeibo on the bundled day.
	base := bundledDayServer(t, "../../testdata/specs", "gate-token")

	env = map[string]string{"KAKEIBO_URL": base, "USER": "ana"}
	code, stdout, _ = kakeibo(t, env, "gate", "mart-api")
	require.Equal(t, exitFail, code)
	require.Contains(t, stdout, "error budget exhausted")
	require.Contains(t, get(t, base+"/"), "Deploys of mart-api are frozen by its error budget policy")
	code, _, stderr := kakeibo(t, env, "gate", "nope")
	require.Equal(t, exitUsage, code, "cannot decide")
	require.Contains(t, stderr, "no service nope")

	code, _, stderr = kakeibo(t, env, "gate", "override", "mart-api", "--for", "2h", "--reason", "deploying the fix for the 14:00 outage")
	require.Equal(t, exitFail, code, "no token")
	require.Contains(t, stderr, "401")
	env["KAKEIBO_API_TOKEN"] = "gate-token"
	code, _, stderr = kakeibo(t, env, "gate", "override", "mart-api", "--for", "2h")
	require.Equal(t, exitUsage, code, "a reason is required")
	code, stdout, stderr = kakeibo(t, env, "gate", "override", "mart-api", "--for", "2h", "--reason", "deploying the fix for the 14:00 outage")
	require.Equal(t, exitOK, code, stderr)
	require.Contains(t, stdout, "mart-api: deploy overridden until 2026-10-02T02:00:00Z")
	code, stdout, _ = kakeibo(t, env, "gate", "mart-api")
	require.Equal(t, exitOK, code, stdout)
	require.Contains(t, stdout, "may go ahead: the policy is overridden until 2026-10-02T02:00:00Z by ana (deploying the fix for the 14:00 outage)")
	require.Contains(t, get(t, base+"/"), "The error budget policy of mart-api is overridden until 2026-10-02 02:00 UTC")
}

// bundledDayServer runs the service in-process on the bundled day's logs
// with the given specs, its clock at the day's end, until the test ends,
// and returns its base URL once it is ready.
func bundledDayServer(t *testing.T, specs, apiToken string) string {
	t.Helper()
	addr := freePort(t)
	srv, err := server.New(server.Config{SpecPaths: []string{specs}, DataDir: t.TempDir(), ALBLogs: "../../testdata/alb",
		Listen: addr, Registry: prometheus.NewRegistry(), APIToken: apiToken, IngestInterval: time.Second, EvalInterval: time.Second,
		Now: func() time.Time { return time.Date(2026, 10, 2, 0, 0, 0, 0, time.UTC) }})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done; srv.Close() })
	base := "http://" + addr
	require.Eventually(t, func() bool {
		resp, err := http.Get(base + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	}, 60*time.Second, 50*time.Millisecond)
	return base
}
