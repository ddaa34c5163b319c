package prometheus

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kakeibo-slo/kakeibo/slo"
)

func TestParseBytes(t *testing.T) {
	for in, want := range map[string]int64{"16MiB": 16 << 20, "512KiB": 512 << 10, "1GiB": 1 << 30, "2MB": 2e6, "1000": 1000, "64 B": 64} {
		got, err := ParseBytes(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	for _, bad := range []string{"", "0", "-1MiB", "16 MiBs", "lots"} {
		_, err := ParseBytes(bad)
		require.Error(t, err, bad)
	}
	require.Equal(t, "16 MiB", FormatBytes(16<<20))
	require.Equal(t, "1000 bytes", FormatBytes(1000))
}

// TestResponseSizeCap: an answer over max_response_size (from the config
// file) fails its SLO with the cap named, whether the server declares its
// length or streams it, while an SLO whose answers are small is measured.
func TestResponseSizeCap(t *testing.T) {
	big := `{"status":"success","data":{"resultType":"vector","result":[` +
		strings.Repeat(`{"metric":{"pod":"p"},"value":[1700000000,"1"]},`, 20000) +
		`{"metric":{},"value":[1700000000,"1"]}]}}`
	for _, declared := range []bool{true, false} {
		t.Run(fmt.Sprintf("content-length=%v", declared), func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_ = r.ParseForm()
				w.Header().Set("Content-Type", "application/json")
				if strings.Contains(r.Form.Get("query"), "big_total") {
					if declared {
						w.Header().Set("Content-Length", fmt.Sprint(len(big)))
					}
					_, _ = w.Write([]byte(big))
					return
				}
				_, _ = w.Write([]byte(`{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1700000000,"100"]}]}}`))
			}))
			defer srv.Close()
			cfgFile := filepath.Join(t.TempDir(), "prom.yaml")
			require.NoError(t, os.WriteFile(cfgFile, []byte("max_response_size: 512KiB\n"), 0o644))
			cfg := Config{URL: srv.URL}
			require.NoError(t, LoadConfigFile(cfgFile, &cfg))
			require.EqualValues(t, 512<<10, cfg.MaxResponseBytes)
			src, err := New(cfg)
			require.NoError(t, err)
			set, err := slo.LoadBytes("x.yaml", []byte(`service: x
slos:
  - name: big
    objective: 99
    window: 1d
    sli: {prometheus: {bad: 'sum(increase(big_total{code="500"}[{{.window}}]))', total: 'sum(increase(big_total[{{.window}}]))'}}
  - name: small
    objective: 99
    window: 1d
    sli: {prometheus: {bad: 'sum(increase(small_total{code="500"}[{{.window}}]))', total: 'sum(increase(small_total[{{.window}}]))'}}
`))
			require.NoError(t, err)
			require.Greater(t, len(big), 512<<10)
			in := src.Inputs(t.Context(), set.Objectives(), time.Unix(1700000000, 0))
			require.Len(t, in, 2)
			for o, i := range in {
				if o.Name == "big" {
					require.ErrorContains(t, i.Err, "larger than 512 KiB (max_response_size in --prometheus-config)")
				} else {
					require.NoError(t, i.Err)
					require.Equal(t, 100.0, i.Period.Total)
				}
			}
		})
	}
}
