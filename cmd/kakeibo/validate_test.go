package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// kakeibo runs the command in-process with a fixed environment.
func kakeibo(t *testing.T, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	getenv := func(k string) string { return env[k] }
	code = run(t.Context(), append([]string{"kakeibo"}, args...), &out, &errOut, getenv)
	return code, out.String(), errOut.String()
}

func TestValidateExamples(t *testing.T) {
	code, out, errOut := kakeibo(t, nil, "validate", "../../testdata/specs")
	require.Equal(t, exitOK, code, errOut)
	// The OpenSLO example has no routes: its page and ticket alerts are
	// warned about (two SLOs), and nothing else is.
	require.Equal(t, 4, strings.Count(out, "search-openslo.yaml:"), out)
	require.Equal(t, 4, strings.Count(out, "alerts but the service has no notify."), out)
	require.Contains(t, errOut, "ok: 4 services, 10 SLOs")

	code, _, errOut = kakeibo(t, nil, "validate", "--strict", "../../testdata/specs")
	require.Equal(t, exitFail, code)
	require.Contains(t, errOut, "4 warnings (--strict makes them errors)")
	code, _, errOut = kakeibo(t, nil, "validate", "--strict", "../../testdata/specs/mart-api.yaml")
	require.Equal(t, exitOK, code, errOut)
}

func TestValidateVerboseExplainsTheSLO(t *testing.T) {
	code, out, _ := kakeibo(t, nil, "validate", "-v", "../../testdata/specs/mart-api.yaml")
	require.Equal(t, exitOK, code)
	require.Contains(t, out, "mart-api/availability")
	require.Contains(t, out, "objective  99.95% over a rolling 30d")
	require.Contains(t, out, "21m36s of full outage per 30d")
	require.Regexp(t, `page-1h\s+page\s+burn > 14.4\s+over 1h and 5m`, out)
	require.Regexp(t, `ticket-3d\s+ticket\s+burn > 1\s+over 3d and 6h`, out)
	require.Contains(t, out, "20m9.6s (28 days) to 22m19.2s (31 days) of full outage a month")
}

func TestValidateErrors(t *testing.T) {
	code, out, errOut := kakeibo(t, nil, "validate", "../../slo/testdata/all-errors")
	require.Equal(t, exitFail, code)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 9)
	require.True(t, strings.HasPrefix(lines[2], `../../slo/testdata/all-errors/a.yaml:10:5: slos[0]: unknown key "objectiv"`), lines[2])
	require.Contains(t, errOut, "9 errors in 2 files")
}

func TestValidateGitHubAnnotations(t *testing.T) {
	code, out, _ := kakeibo(t, nil, "validate", "--format", "github", "../../slo/testdata/invalid/objective-out-of-range.bad.yaml")
	require.Equal(t, exitFail, code)
	require.Equal(t,
		"::error file=../../slo/testdata/invalid/objective-out-of-range.bad.yaml,line=5,col=16::slo \"availability\": objective must be in (0, 100), got 1000\n",
		out)
}

func TestValidateJSON(t *testing.T) {
	code, out, _ := kakeibo(t, map[string]string{"KAKEIBO_FORMAT": "json"}, "validate", "../../slo/testdata/invalid/cron-bad.bad.yaml")
	require.Equal(t, exitFail, code)
	var got struct {
		Valid    bool
		Problems []struct {
			File, Severity, Message string
			Line, Col               int
		}
	}
	require.NoError(t, json.Unmarshal([]byte(out), &got))
	require.False(t, got.Valid)
	require.Len(t, got.Problems, 1)
	require.Equal(t, 6, got.Problems[0].Line)
	require.Equal(t, 17, got.Problems[0].Col)
	require.Equal(t, "error", got.Problems[0].Severity)

	code, out, _ = kakeibo(t, nil, "validate", "--format=json", "../../testdata/specs/checkout.yaml")
	require.Equal(t, exitOK, code)
	var ok struct {
		Valid bool
		SLOs  []struct {
			Service, SLO string
			Alerts       []struct {
				Name      string
				Threshold float64
			}
		}
	}
	require.NoError(t, json.Unmarshal([]byte(out), &ok))
	require.True(t, ok.Valid)
	require.Equal(t, "requests", ok.SLOs[0].SLO)
	require.Equal(t, 14.4, ok.SLOs[0].Alerts[0].Threshold, "28d keeps the page at burn 14.4")
}

func TestValidateUsage(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"no paths", nil, []string{"validate"}, "give at least one spec file"},
		{"bad format", nil, []string{"validate", "--format", "xml", "x.yaml"}, `--format "xml"`},
		{"bad flag", nil, []string{"validate", "--nope"}, "flag provided but not defined"},
		{"missing path", nil, []string{"validate", "no/such/dir"}, "no such file"},
		{"bad env value", map[string]string{"KAKEIBO_VERBOSE": "maybe"}, []string{"validate", "x.yaml"}, "KAKEIBO_VERBOSE"},
		{"unknown command", nil, []string{"frobnicate"}, `unknown command "frobnicate"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := kakeibo(t, tc.env, tc.args...)
			require.Equal(t, exitUsage, code)
			require.Contains(t, errOut, tc.want)
		})
	}
}

func TestValidateSpecsFromEnvironment(t *testing.T) {
	code, _, errOut := kakeibo(t, map[string]string{"KAKEIBO_SPECS": "../../testdata/specs"}, "validate")
	require.Equal(t, exitOK, code, errOut)
}

func TestHelp(t *testing.T) {
	code, out, _ := kakeibo(t, nil, "validate", "--help")
	require.Equal(t, exitOK, code)
	require.Contains(t, out, "env KAKEIBO_FORMAT")
	require.Contains(t, out, "Exit status: 0 valid, 1 invalid specs (or warnings with --strict), 2 usage error")

	code, out, _ = kakeibo(t, nil, "--help")
	require.Equal(t, exitOK, code)
	require.Contains(t, out, "validate")
}

func TestValidateWarnsAboutWebhookMode(t *testing.T) {
	env := map[string]string{"SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T0/B0/x"}
	code, out, _ := kakeibo(t, env, "validate", "../../testdata/specs/mart-api.yaml")
	require.Equal(t, exitOK, code)
	require.Contains(t, out, "SLACK_WEBHOOK_URL without SLACK_BOT_TOKEN: every message goes to the webhook's one channel, not to the 3 channels the specs name (#mart-alerts, #mart-sre, #mart)")
	require.NotContains(t, out, "hooks.slack.com")
	env["SLACK_BOT_TOKEN"] = "xoxb-x"
	_, out, _ = kakeibo(t, env, "validate", "../../testdata/specs/mart-api.yaml")
	require.NotContains(t, out, "SLACK_WEBHOOK_URL")
}

// TestRulesSaysWarnings: `rules` reports the loader's warnings, which
// concern the alerts it writes (here: the OpenSLO example's pages have no
// route), beside its notes.
func TestRulesSaysWarnings(t *testing.T) {
	code, out, errOut := kakeibo(t, nil, "rules", "--specs", "../../testdata/specs")
	require.Equal(t, exitOK, code, errOut)
	require.Contains(t, out, "groups:")
	require.Contains(t, errOut, `search-openslo.yaml:`)
	require.Contains(t, errOut, `warning: service "search" slo "availability": has page alerts but the service has no notify.page route`)
	require.Contains(t, errOut, "skipped: ALB-backed SLOs are evaluated by kakeibo serve")
}
