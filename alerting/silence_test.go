package alerting

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kakeibo-slo/kakeibo/slo"
)

func TestParseMatcher(t *testing.T) {
	for in, want := range map[string]Matcher{
		"service=shop":         {Name: "service", Op: "=", Value: "shop"},
		`slo!="availability"`:  {Name: "slo", Op: "!=", Value: "availability"},
		"team=~pay.*":          {Name: "team", Op: "=~", Value: "pay.*"},
		" severity !~ ticket ": {Name: "severity", Op: "!~", Value: "ticket"},
		"tier=":                {Name: "tier", Op: "=", Value: ""},
	} {
		got, err := ParseMatcher(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	for _, bad := range []string{"", "=shop", "service", "1x=y", "team=~(", "service==shop"} {
		_, err := ParseMatcher(bad)
		require.Error(t, err, bad)
	}
	labels := map[string]string{"service": "shop", "slo": "availability", "severity": "page", "team": "payments"}
	for s, want := range map[string]bool{
		"service=shop": true, "service=shop2": false, "team=~pay.*": true, "team=~pay": false,
		"severity!=page": false, "severity!~tick.*": true, "region=": true, "region!=": false,
	} {
		mt, err := ParseMatcher(s)
		require.NoError(t, err)
		require.Equal(t, want, Silence{Matchers: []Matcher{mt}}.Matches(labels), s)
	}
}

func TestSilenceValidate(t *testing.T) {
	t0 := time.Date(2026, 10, 1, 12, 0, 0, 0, time.UTC)
	ok := Silence{Matchers: []Matcher{{Name: "service", Op: "=", Value: "shop"}}, StartsAt: t0, EndsAt: t0.Add(h), CreatedBy: "ana", Comment: "CHG-1"}
	require.NoError(t, ok.Validate())
	for name, change := range map[string]func(*Silence){
		"no matchers": func(s *Silence) { s.Matchers = nil },
		"bad op":      func(s *Silence) { s.Matchers = []Matcher{{Name: "service", Op: "==", Value: "x"}} },
		"backwards":   func(s *Silence) { s.EndsAt = s.StartsAt.Add(-m) },
		"no end":      func(s *Silence) { s.EndsAt = time.Time{} },
		"no author":   func(s *Silence) { s.CreatedBy = " " },
		"no comment":  func(s *Silence) { s.Comment = "" },
	} {
		s := ok
		change(&s)
		require.Error(t, s.Validate(), name)
	}
	require.Equal(t, SilencePending, ok.State(t0.Add(-time.Second)))
	require.Equal(t, SilenceActive, ok.State(t0))
	require.Equal(t, SilenceExpired, ok.State(t0.Add(h)))
}

// muteStep is one evaluation as the engine makes it: Step, then Mute.
func muteStep(states map[string]AlertState, o *slo.Objective, at time.Time, burn map[time.Duration]float64, silences []Silence) (map[string]AlertState, []string) {
	next, out := Step(states, []slo.Result{result(o, at, 0.0001, burn)}, testRoutes, at)
	out = Mute(next, out, silences, at)
	return next, kinds(out)
}

func TestMute(t *testing.T) {
	o := testObjective()
	t0 := time.Date(2026, 10, 1, 12, 0, 0, 0, time.UTC)
	onlyPage1h := map[time.Duration]float64{5 * m: 0.02, h: 0.02}
	shop := func(from, to time.Time) []Silence {
		return []Silence{{ID: "s1", Matchers: []Matcher{{Name: "service", Op: "=", Value: "shop"}}, StartsAt: from, EndsAt: to, CreatedBy: "ana", Comment: "db upgrade"}}
	}

	t.Run("firing under a silence is told once when it ends", func(t *testing.T) {
		sil := shop(t0, t0.Add(6*h))
		states, out := muteStep(nil, o, t0, pageBurn, sil)
		require.Empty(t, out, "silenced: nothing sent")
		require.True(t, states["shop/availability#page"].Unannounced)
		require.Equal(t, "s1", states["shop/availability#page"].SilencedBy)
		for _, at := range []time.Duration{h, 4*h + m, 5 * h} { // a repeat falls due at 4h: still nothing
			states, out = muteStep(states, o, t0.Add(at), pageBurn, sil)
			require.Empty(t, out, at)
		}
		states, out = muteStep(states, o, t0.Add(6*h), pageBurn, sil)
		require.Equal(t, []string{"firing page-1h, page-6h #page"}, out, "one message when the silence ends, still firing")
		states, out = muteStep(states, o, t0.Add(6*h+m), pageBurn, sil)
		require.Empty(t, out)
		_, out = muteStep(states, o, t0.Add(7*h), nil, sil)
		require.Equal(t, []string{"resolved page-1h, page-6h #page"}, out, "a told incident resolves as usual")
	})

	t.Run("an incident that fired and ended inside the silence is never told", func(t *testing.T) {
		sil := shop(t0, t0.Add(6*h))
		states, out := muteStep(nil, o, t0, onlyPage1h, sil)
		require.Empty(t, out)
		states, out = muteStep(states, o, t0.Add(m), nil, sil)
		require.Empty(t, out, "its resolve is not sent either")
		states, out = muteStep(states, o, t0.Add(2*m), onlyPage1h, sil)
		require.Empty(t, out, "a reopen inside the silence")
		states, out = muteStep(states, o, t0.Add(3*m), nil, sil)
		require.Empty(t, out)
		_, out = muteStep(states, o, t0.Add(6*h+m), nil, sil)
		require.Empty(t, out, "nothing after the end: it is over")
	})

	t.Run("an open incident goes quiet, and its resolve still closes it", func(t *testing.T) {
		states, out := muteStep(nil, o, t0, pageBurn, nil)
		require.Equal(t, []string{"firing page-1h, page-6h #page"}, out)
		sil := shop(t0.Add(h), t0.Add(10*h))
		states, out = muteStep(states, o, t0.Add(4*h+m), pageBurn, sil)
		require.Empty(t, out, "the repeat is held")
		require.True(t, states["shop/availability#page"].Muted)
		require.False(t, states["shop/availability#page"].Unannounced)
		_, out = muteStep(states, o, t0.Add(5*h), nil, sil)
		require.Equal(t, []string{"resolved page-1h, page-6h #page"}, out)
	})

	t.Run("an open incident muted, then the silence is expired early", func(t *testing.T) {
		states, _ := muteStep(nil, o, t0, pageBurn, nil)
		sil := shop(t0.Add(h), t0.Add(10*h))
		states, out := muteStep(states, o, t0.Add(4*h+m), pageBurn, sil)
		require.Empty(t, out)
		sil[0].EndsAt = t0.Add(4*h + 2*m) // kakeibo silence expire
		states, out = muteStep(states, o, t0.Add(4*h+2*m), pageBurn, sil)
		require.Equal(t, []string{"repeat page-1h, page-6h #page"}, out, "one still-firing reply with the newest numbers")
		require.False(t, states["shop/availability#page"].Muted)
		_, out = muteStep(states, o, t0.Add(4*h+3*m), pageBurn, sil)
		require.Empty(t, out)
	})

	t.Run("matchers decide", func(t *testing.T) {
		ticketsOnly := []Silence{{ID: "s2", Matchers: []Matcher{{Name: "severity", Op: "=", Value: "ticket"}}, StartsAt: t0, EndsAt: t0.Add(h), CreatedBy: "a", Comment: "c"}}
		_, out := muteStep(nil, o, t0, pageBurn, ticketsOnly)
		require.Equal(t, []string{"firing page-1h, page-6h #page"}, out, "a page is not a ticket")
		other := shop(t0, t0.Add(h))
		other[0].Matchers[0].Value = "cart"
		_, out = muteStep(nil, o, t0, pageBurn, other)
		require.Len(t, out, 1)
		pending := shop(t0.Add(m), t0.Add(h))
		_, out = muteStep(nil, o, t0, pageBurn, pending)
		require.Len(t, out, 1, "a silence that has not started mutes nothing")
	})
}

func TestParseRoute(t *testing.T) {
	for in, want := range map[string]Target{
		"slack:#ops":                                 {Via: ViaSlack, Channel: "#ops"},
		"slack:C0123?token_env=OPS_SLACK_TOKEN":      {Via: ViaSlack, Channel: "C0123", TokenEnv: "OPS_SLACK_TOKEN"},
		"pagerduty:PD_OPS_KEY":                       {Via: ViaPagerDuty, KeyEnv: "PD_OPS_KEY"},
		"webhook:OPS_HOOK_URL?secret_env=OPS_SECRET": {Via: ViaWebhook, KeyEnv: "OPS_HOOK_URL", SecretEnv: "OPS_SECRET"},
	} {
		got, err := ParseRoute(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	for _, bad := range []string{"", "#ops", "slack:", "email:ops@example.com", "webhook:https://hooks.example.com/x",
		"pagerduty:R0UT1NGKEY-with-dash", "slack:#ops?token=xoxb-1", "slack:#ops?token_env=", "pagerduty:PD?secret_env=X"} {
		_, err := ParseRoute(bad)
		require.Error(t, err, bad)
	}
	own := Target{Via: ViaSlack, Channel: "#ops", TokenEnv: "OPS_SLACK_TOKEN"}
	require.Equal(t, "slack:$OPS_SLACK_TOKEN", own.NotifierKey(), "its own notifier")
	require.Equal(t, "slack", Target{Channel: "#a"}.NotifierKey())
	require.Equal(t, "slack:#ops($OPS_SLACK_TOKEN)", own.String())
}
