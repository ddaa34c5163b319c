package prometheus

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kakeibo-slo/kakeibo/slo"
)

// TestConfigFileAndDedup checks that the http_config block reaches the
// server (bearer token, X-Scope-OrgID header), that queries shared by SLOs
// and windows run once, and that the token never shows in errors.
func TestConfigFileAndDedup(t *testing.T) {
	var mu sync.Mutex
	queries := map[string]int{}
	var auth, tenant string
	fail := false
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		mu.Lock()
		queries[r.Form.Get("query")]++
		auth, tenant = r.Header.Get("Authorization"), r.Header.Get("X-Scope-OrgID")
		f := fail
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if f {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"status":"error","errorType":"unavailable","error":"overloaded"}`))
			return
		}
		_, _ = w.Write([]byte(`{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1700000000,"100"]}]}}`))
	}))
	defer srv.Close()

	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "token"), []byte("s3cr3t-token\n"), 0o600))
	cfgPath := filepath.Join(dir, "prom.yaml")
	require.NoError(t, os.WriteFile(cfgPath, []byte(`
authorization:
  credentials_file: token
http_headers:
  X-Scope-OrgID:
    values: [tenant-a]
timeout: 5s
concurrency: 2
`), 0o600))
	cfg := Config{URL: srv.URL}
	require.NoError(t, LoadConfigFile(cfgPath, &cfg))
	require.Equal(t, 5*time.Second, cfg.Timeout)
	src, err := New(cfg)
	require.NoError(t, err)

	set, err := slo.LoadBytes("x.yaml", []byte(`
service: s
slos:
  - {name: a, objective: 99, window: 30d, sli: {prometheus: {good: 'sum(increase(g[{{.window}}]))', total: 'sum(increase(t[{{.window}}]))'}}}
  - {name: b, objective: 99.9, window: 30d, sli: {prometheus: {good: 'sum(increase(g[{{.window}}]))', total: 'sum(increase(t[{{.window}}]))'}}}
`))
	require.NoError(t, err)
	at := time.Date(2026, 10, 2, 0, 0, 0, 0, time.UTC)
	in := src.Inputs(t.Context(), set.Objectives(), at)
	for _, o := range set.Objectives() {
		require.NoError(t, in[o].Err)
		require.Equal(t, slo.Counts{Good: 100, Total: 100}, in[o].Period)
	}
	require.Equal(t, "Bearer s3cr3t-token", auth)
	require.Equal(t, "tenant-a", tenant)
	// 8 windows (7 alert windows and the 30d period) × good and total, and
	// the newest sample of the total's series (where the data ends), once each.
	require.Len(t, queries, 17)
	require.Contains(t, queries, "max(timestamp(t))")
	for q, n := range queries {
		require.Equal(t, 1, n, q)
	}

	mu.Lock()
	fail = true
	mu.Unlock()
	in = src.Inputs(t.Context(), set.Objectives(), at)
	for _, o := range set.Objectives() {
		require.Error(t, in[o].Err)
		require.NotContains(t, in[o].Err.Error(), "s3cr3t")
		require.Equal(t, slo.StatusNoData, slo.Evaluate(o, at, in[o]).Status)
	}
}

func TestLoadConfigFileRejectsUnknownKeys(t *testing.T) {
	p := filepath.Join(t.TempDir(), "prom.yaml")
	require.NoError(t, os.WriteFile(p, []byte("bearer_tokn: x\n"), 0o600))
	require.ErrorContains(t, LoadConfigFile(p, &Config{}), "bearer_tokn")
}
