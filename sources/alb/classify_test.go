package alb

import (
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
		14: {"good", "bad"},  // 460: not a server failure; no response measured
		15: {"bad", "bad"},   // target 500 in 0.153s: over 150ms
		16: {"bad", "good"},  // target 503 in 0.004s
		17: {"good", "bad"},  // WAF 403: availability good; no target time
		18: {"good", "bad"},  // redirect 301
		19: {"good", "bad"},  // malformed request 400
		20: {"good", "bad"},
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
