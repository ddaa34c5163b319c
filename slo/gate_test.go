package slo_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kakeibo-slo/kakeibo/slo"
)

func TestGate(t *testing.T) {
	now := time.Date(2026, 10, 2, 0, 0, 0, 0, time.UTC)
	left := func(v float64) *float64 { return &v }
	rep := []slo.ReportSLO{
		{Service: "shop", SLO: "availability", Window: "30d", Status: slo.StatusOK, ErrorBudget: slo.ReportBudget{Remaining: left(0.08)}},
		{Service: "shop", SLO: "latency", Window: "30d", Status: slo.StatusNoData},
		{Service: "cart", SLO: "availability", Window: "30d", Status: slo.StatusViolated, ErrorBudget: slo.ReportBudget{Remaining: left(-2)}},
	}
	svc := &slo.Service{Name: "shop"}
	d := slo.Gate(svc, rep, "deploy", nil, now)
	require.True(t, d.Open, "no policy: nothing freezes")
	require.Contains(t, d.Notes[0], "no error budget policy")

	svc.Policy = &slo.Policy{FreezeBelow: 0, AppliesTo: []string{"deploy"}}
	d = slo.Gate(svc, rep, "deploy", nil, now)
	require.True(t, d.Open, "8% left is not exhausted")
	require.Contains(t, d.Notes, "shop/latency: no budget figure (no_data): not judged")

	svc.Policy.FreezeBelow = 0.10
	d = slo.Gate(svc, rep, "deploy", nil, now)
	require.False(t, d.Open)
	require.Equal(t, []string{"shop/availability: 8% of the error budget left over 30d, below the policy's 10%"}, d.Frozen)
	require.True(t, slo.Gate(svc, rep, "migrate", nil, now).Open, "the policy applies to deploys only")

	cart := &slo.Service{Name: "cart", Policy: &slo.Policy{AppliesTo: []string{"deploy"}}}
	d = slo.Gate(cart, rep, "deploy", nil, now)
	require.False(t, d.Open)
	require.Equal(t, []string{"cart/availability: error budget exhausted (3× the budget spent over 30d)"}, d.Frozen)

	ov := slo.GateOverride{Service: "cart", Action: "deploy", CreatedBy: "ana", Reason: "the fix", Until: now.Add(time.Hour)}
	d = slo.Gate(cart, rep, "deploy", []slo.GateOverride{ov}, now)
	require.True(t, d.Open)
	require.Equal(t, "ana", d.Override.CreatedBy)
	require.NotEmpty(t, d.Frozen, "what is overridden still shows")
	require.False(t, slo.Gate(cart, rep, "deploy", []slo.GateOverride{ov}, now.Add(time.Hour)).Open, "an override ends")
	other := ov
	other.Service = "shop"
	require.False(t, slo.Gate(cart, rep, "deploy", []slo.GateOverride{other}, now).Open, "another service's override")
}

func TestPolicySpec(t *testing.T) {
	set, err := slo.LoadBytes("shop.yaml", []byte(`service: shop
policy: {freeze_below: 10, applies_to: [deploy, migrate]}
slos:
  - {name: a, objective: 99, window: 7d, sli: {alb: {load_balancer: app/shop/0123456789abcdef}}}
`))
	require.NoError(t, err)
	require.Equal(t, &slo.Policy{FreezeBelow: 0.1, AppliesTo: []string{"deploy", "migrate"}}, set.Services[0].Policy)
	_, err = slo.LoadBytes("bad.yaml", []byte(`service: shop
policy: {freeze_below: 100, applies_to: ["Deploy Now"], freeze: true}
slos:
  - {name: a, objective: 99, window: 7d, sli: {alb: {load_balancer: app/shop/0123456789abcdef}}}
`))
	require.Error(t, err)
	for _, want := range []string{"bad.yaml:2:24: service \"shop\": policy.freeze_below: 100", "policy.applies_to[0]", "freeze"} {
		require.Contains(t, err.Error(), want)
	}
}

func TestCorrectionSpec(t *testing.T) {
	base := "service: shop\nslos:\n  - {name: a, objective: 99, window: 7d, sli: {alb: {load_balancer: app/shop/0123456789abcdef}}}\n  - {name: b, objective: 99, window: 7d, sli: {alb: {load_balancer: app/shop/0123456789abcdef}}}\n"
	set, err := slo.LoadBytes("ok.yaml", []byte(base+`corrections:
  - {from: "2026-10-01T14:00:00Z", to: "2026-10-01T14:30:00Z", slos: [a], count_as: good, reason: probe storm, author: ana}
  - {from: "2026-10-02T00:00:00+09:00", to: "2026-10-02T01:00:00+09:00", reason: maintenance, author: ken}
`))
	require.NoError(t, err)
	a, b := set.Objectives()[0], set.Objectives()[1]
	require.Len(t, a.Corrections, 2)
	require.Equal(t, slo.CorrectionGood, a.Corrections[0].CountAs)
	require.Equal(t, time.Date(2026, 10, 1, 15, 0, 0, 0, time.UTC), a.Corrections[1].From, "in UTC")
	require.Len(t, b.Corrections, 1, "no slos: every SLO")
	require.Equal(t, slo.CorrectionExcluded, b.Corrections[0].CountAs)

	_, err = slo.LoadBytes("bad.yaml", []byte(base+`corrections:
  - {from: yesterday, to: "2026-10-01T14:30:00Z", reason: r, author: a}
  - {from: "2026-10-01T15:00:00Z", to: "2026-10-01T14:00:00Z", reason: r, author: a}
  - {from: "2026-10-01T14:00:00Z", to: "2026-10-01T15:00:00Z", count_as: bad, slos: [c]}
  - {from: "2026-10-03T14:00:00Z", to: "2026-10-03T15:00:00Z", reason: r, author: a}
  - {from: "2026-10-03T14:30:00Z", to: "2026-10-03T16:00:00Z", reason: r, author: a}
`))
	require.Error(t, err)
	for _, want := range []string{
		`corrections[0].from: "yesterday": want an RFC 3339 time`, "corrections[1]: to is not after from",
		`corrections[2].count_as: "bad"`, "corrections[2]: reason and author are required", `corrections[2].slos: "c" is not an SLO`,
		"corrections[4]: overlaps another correction of a",
	} {
		require.Contains(t, err.Error(), want)
	}
	require.Regexp(t, `bad\.yaml:\d+:\d+: service "shop": corrections\[0\]`, err.Error(), "positioned")
}
