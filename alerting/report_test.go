package alerting

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestMonthReportRendersInEnglishAndJapanese: the monthly report message
// says which SLOs missed, how much budget each spent, the trend against
// the month before and the biggest spender, in both languages.
func TestMonthReportRendersInEnglishAndJapanese(t *testing.T) {
	tm, err := LoadTemplates("")
	require.NoError(t, err)
	f := func(v float64) *float64 { return &v }
	yes, no := true, false
	m := &MonthReport{Service: "mart-api", Month: "2026-10", Link: "https://slo.example.com/reports/mart-api/2026-10", SLOs: []MonthLine{
		{SLO: "availability", Objective: 0.9995, Met: &no, SLI: f(0.9941), Spent: f(11.7), PrevSpent: f(0.2), Top: "Oct 1 14:00–14:20 UTC, 62 bad events, 40% of the budget"},
		{SLO: "latency", Objective: 0.99, Met: &yes, SLI: f(0.995), Spent: f(0.5), PrevSpent: f(0.52)},
	}}
	en, err := tm.Digest(&Digest{Language: "en", At: time.Now(), Month: m})
	require.NoError(t, err)
	require.Contains(t, en, "*mart-api: SLO report for 2026-10* — 1 of 2 SLOs missed their objective")
	require.Contains(t, en, ":x: *availability* — SLI 99.41% (objective 99.95%), 1170% of the budget spent; worse than the month before (20% spent)")
	require.Contains(t, en, "biggest spender: Oct 1 14:00–14:20 UTC, 62 bad events, 40% of the budget")
	require.Contains(t, en, ":white_check_mark: *latency* — SLI 99.5% (objective 99%), 50% of the budget spent; about as the month before (52% spent)")
	require.Contains(t, en, "<https://slo.example.com/reports/mart-api/2026-10|The full report>")
	ja, err := tm.Digest(&Digest{Language: "ja", At: time.Now(), Month: m})
	require.NoError(t, err)
	require.Contains(t, ja, "2件中 1件が目標未達")
	require.Contains(t, ja, "エラーバジェット 1170% 消費、前月より悪化（前月 20% 消費）")
	require.Contains(t, ja, "最大の消費:")
}
