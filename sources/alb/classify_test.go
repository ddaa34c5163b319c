package alb

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kakeibo-slo/kakeibo/slo"
)

func loadObjectives(t *testing.T, spec string) []*slo.Objective {
	t.Helper()
	set, err := slo.LoadBytes("test.yaml", []byte(spec))
	require.NoError(t, err)
	return set.Objectives()
}

// TestClassifySamples judges every sample entry with an availability and a
// latency SLI over the samples' main load balancer.
func TestClassifySamples(t *testing.T) {
	objs := loadObjectives(t, `
service: web
slos:
  - name: availability
    objective: 99.9
    window: 30d
    sli: {alb: {load_balancer: app/web-prod/9cd2662c6b66898b}}
  - name: latency
    objective: 99
    window: 30d
    sli: {alb: {load_balancer: app/web-prod/9cd2662c6b66898b, latency: {threshold: 150ms}}}
`)
	c := NewClassifier(objs)
	require.Equal(t, []string{"web/availability", "web/latency"}, c.IDs)

	type verdicts struct{ avail, latency string } // "good", "bad" or "" (out of scope)
	want := map[int]verdicts{
		10: {"good", "good"}, // h2 200, 0.010s
		11: {"bad", "bad"},   // ALB 504, target -1
		12: {"bad", "bad"},   // ALB 502, target -1
		13: {"bad", "bad"},   // ALB 503, no target
		14: {"good", "bad"},  // 460: the client gave up waiting: not a server failure, but slow
		15: {"bad", "bad"},   // target 500 in 0.153s: over 150ms
		16: {"bad", "good"},  // target 503 in 0.004s
		17: {"good", ""},     // WAF 403: answered by the load balancer itself
		18: {"good", ""},     // redirect 301 by a listener rule
		19: {"good", ""},     // malformed request 400, answered by the load balancer
		20: {"good", ""},
		21: {"good", "good"}, // 404
		22: {"good", "good"}, // IPv6 401
		23: {"good", "good"},
		24: {"good", "good"}, // grpcs
		25: {"good", "good"}, // health probe (no exclusion here)
		26: {"good", ""},     // wss: never in a latency SLI
		28: {"good", "bad"},  // 0.177s
		29: {"good", "bad"},  // slow upload 12.345s
		30: {"good", "good"},
	}
	lines := sampleLines(t)
	for i, line := range lines {
		n := i + 1
		var e Entry
		require.NoError(t, Parse([]byte(line), &e))
		got := verdicts{}
		for _, v := range c.Classify(&e, nil) {
			s := "bad"
			if v.Good {
				s = "good"
			}
			if v.SLI == 0 {
				got.avail = s
			} else {
				got.latency = s
			}
		}
		require.Equal(t, want[n], got, "sample %d: %s", n, line[:60])
	}
}

func TestClassifyScope(t *testing.T) {
	objs := loadObjectives(t, `
service: web
slos:
  - name: scoped
    objective: 99.9
    window: 30d
    sli:
      alb:
        load_balancer: app/web-prod/9cd2662c6b66898b
        hosts: [www.example.com, "*.api.example.com"]
        paths: ["^/api/"]
        exclude_paths: ["^/api/health$"]
        exclude_user_agents: ["Route53"]
        request_types: [https, h2]
`)
	c := NewClassifier(objs)
	base := sampleLines(t)[14] // https 500 GET https://www.example.com:443/api/recipes?page=2
	for _, tc := range []struct {
		name    string
		from    string
		to      string
		inScope bool
	}{
		{"in scope", "", "", true},
		{"other load balancer", "app/web-prod/9cd2662c6b66898b", "app/other/9cd2662c6b66898b", false},
		{"other host", "https://www.example.com:443/api", "https://shop.example.com:443/api", false},
		{"host case-insensitive", "https://www.example.com:443/api", "https://WWW.Example.com:443/api", true},
		{"wildcard subdomain", "https://www.example.com:443/api", "https://eu.api.example.com:443/api", true},
		{"wildcard does not match the bare domain", "https://www.example.com:443/api", "https://api.example.com:443/api", false},
		{"path not included", "/api/recipes", "/recipes", false},
		{"path excluded", "/api/recipes?page=2", "/api/health", false},
		{"query does not count as path", "/api/recipes?page=2", "/api/health?x=1", false},
		{"user agent excluded", `"Mozilla/5.0 (Linux; Android 14)`, `"Amazon-Route53-Health-Check-Service (`, false},
		{"request type not listed", "https 2026", "http 2026", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			line := base
			if tc.from != "" {
				line = replaceOnce(t, base, tc.from, tc.to)
			}
			var e Entry
			require.NoError(t, Parse([]byte(line), &e))
			got := c.Classify(&e, nil)
			if tc.inScope {
				require.Equal(t, []Verdict{{SLI: 0, Good: false}}, got)
			} else {
				require.Empty(t, got)
			}
		})
	}
}

func replaceOnce(t *testing.T, s, old, new string) string {
	t.Helper()
	i := indexOf(s, old)
	require.GreaterOrEqual(t, i, 0, "%q not in line", old)
	return s[:i] + new + s[i+len(old):]
}

func indexOf(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}

func TestClassifyLatencyBoundaries(t *testing.T) {
	objs := loadObjectives(t, `
service: web
slos:
  - {name: lat, objective: 99, window: 30d, sli: {alb: {load_balancer: app/web-prod/9cd2662c6b66898b, latency: {threshold: 153ms}}}}
`)
	c := NewClassifier(objs)
	base := sampleLines(t)[14] // target_processing_time 0.153
	for _, tc := range []struct {
		tpt  string
		good bool
	}{{"0.153", true}, {"0.154", false}, {"0.000", true}, {"-1", false}, {"0.1529999", true}} {
		line := replaceOnce(t, base, " 0.153 ", " "+tc.tpt+" ")
		var e Entry
		require.NoError(t, Parse([]byte(line), &e))
		require.Equal(t, []Verdict{{SLI: 0, Good: tc.good}}, c.Classify(&e, nil), tc.tpt)
	}
}

func TestClassifyDoesNotAllocate(t *testing.T) {
	objs := loadObjectives(t, `
service: web
slos:
  - {name: a, objective: 99, window: 30d, sli: {alb: {load_balancer: app/web-prod/9cd2662c6b66898b, hosts: [www.example.com], exclude_paths: ["^/healthz$"]}}}
  - {name: b, objective: 99, window: 30d, sli: {alb: {load_balancer: app/web-prod/9cd2662c6b66898b, latency: {threshold: 300ms}}}}
`)
	c := NewClassifier(objs)
	line := []byte(sampleLines(t)[9])
	var e Entry
	out := make([]Verdict, 0, 8)
	allocs := testing.AllocsPerRun(100, func() {
		_ = Parse(line, &e)
		out = c.Classify(&e, out[:0])
	})
	require.Zero(t, allocs)
	require.Len(t, out, 2)
}

// TestClassifyRulesTeamsCanSet checks each good/bad rule a spec can set
// against AWS's documented entry examples (testdata/samples.log), with the
// defaults and with custom rules.
func TestClassifyRulesTeamsCanSet(t *testing.T) {
	lines := sampleLines(t)
	verdict := func(n int, rule string) string {
		t.Helper()
		var e Entry
		require.NoError(t, Parse([]byte(lines[n-1]), &e))
		spec := fmt.Sprintf("service: s\nslos:\n  - name: x\n    objective: 99\n    window: 30d\n    sli: {alb: {load_balancer: %s%s}}\n", e.ELB(), rule)
		set, err := slo.LoadBytes("rules.yaml", []byte(spec))
		require.NoError(t, err, spec)
		vs := NewClassifier(set.Objectives()).Classify(&e, nil)
		switch {
		case len(vs) == 0:
			return "out"
		case vs[0].Good:
			return "good"
		}
		return "bad"
	}
	for _, c := range []struct {
		name   string
		sample int
		rule   string
		want   string
	}{
		{"default: 5xx is bad", 7, "", "bad"},
		{"default: 4xx is good", 21, "", "good"},
		{"default: 460 is good", 14, "", "good"},
		{"bad_status 4xx", 21, ", bad_status: [5xx, 4xx]", "bad"},
		{"bad_status 429 leaves 404 good", 21, ", bad_status: [5xx, \"429\"]", "good"},
		{"exclude_status 460", 14, ", exclude_status: [\"460\"]", "out"},
		{"exclude_status 4xx: WAF 403", 17, ", exclude_status: [4xx]", "out"},
		{"exclude_status 4xx keeps 5xx", 7, ", exclude_status: [4xx]", "bad"},
		{"latency default: redirect answered by the ALB", 18, ", latency: {threshold: 100ms}", "out"},
		{"latency default: fixed response / WAF 403", 17, ", latency: {threshold: 100ms}", "out"},
		{"latency default: 460, the client gave up waiting: slow", 14, ", latency: {threshold: 100ms}", "bad"},
		{"latency client_closed exclude: 460 out", 14, ", latency: {threshold: 100ms, client_closed: exclude}", "out"},
		{"latency client_closed slow, total measure: 460 slow", 14, ", latency: {threshold: 10s, measure: total, client_closed: slow}", "bad"},
		{"latency default: 502 without target time is bad", 12, ", latency: {threshold: 100ms}", "bad"},
		{"latency target: 48ms", 2, ", latency: {threshold: 100ms}", "good"},
		{"latency total: 86+48+37ms", 2, ", latency: {threshold: 100ms, measure: total}", "bad"},
		{"latency total within", 2, ", latency: {threshold: 200ms, measure: total}", "good"},
		{"methods: POST counted", 12, ", methods: [POST]", "bad"},
		{"methods: GET left out", 13, ", methods: [POST]", "out"},
		{"target_group by name", 16, ", target_group: web-prod-tg", "bad"},
		{"target_group by name, other group", 30, ", target_group: web-prod-tg", "out"},
		{"target_group by ARN", 30, ", target_group: \"arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:targetgroup/api-tg/2c3d4e5f60718293\"", "good"},
		{"target_group by ARN, other group", 16, ", target_group: \"arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:targetgroup/api-tg/2c3d4e5f60718293\"", "out"},
	} {
		t.Run(c.name, func(t *testing.T) {
			require.Equal(t, c.want, verdict(c.sample, c.rule))
		})
	}
}
