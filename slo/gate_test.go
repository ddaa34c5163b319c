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
