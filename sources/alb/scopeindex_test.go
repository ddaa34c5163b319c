package alb

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kakeibo-slo/kakeibo/slo"
)

// entryLine is an ALB log line with the given request and answer.
func entryLine(method, host, path string, status int, targetTime string) string {
	return fmt.Sprintf(`https 2026-10-01T00:05:01.391066Z app/shop/0123456789abcdef 198.51.100.99:46000 10.0.10.4:8080 0.000 %s 0.000 %d %d 300 8000 "%s https://%s:443%s HTTP/1.1" "Mozilla/5.0" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:targetgroup/tg/13adb34fe2cf989a "Root=1-65f26b09-0a1b2c3d4e5f60718293a4b5" "%s" "session-reused" 10 2026-10-01T00:05:01.391066Z "forward" "-" "-" "10.0.10.4:8080" "%d" "-" "-" TID_0f1e2d3c4b5a69788796a5b4c3d2e1f0 "-" "-" "-"`,
		targetTime, status, status, method, host, path, host, status)
}

// scopeSpecs writes n SLOs on one load balancer, cycling through every kind
// of scope the index treats differently.
func scopeSpecs(n int) string {
	hosts := []string{``, `hosts: [api.shop.example.com]`, `hosts: ["*.shop.example.com"]`, `hosts: [api.other.example.com, "*.example.org"]`}
	paths := []string{``, `paths: ["^/api/"]`, `paths: ["^/api/v1/", "^/healthz$"]`, `paths: ["/cart"]`, `paths: ["^/(a|b)/"]`, `exclude_paths: ["^/healthz$"]`}
	methods := []string{``, `methods: [POST]`}
	var b strings.Builder
	b.WriteString("service: shop\nslos:\n")
	for i := range n {
		var scope []string
		for _, s := range []string{hosts[i%len(hosts)], paths[(i/len(hosts))%len(paths)], methods[(i/7)%len(methods)]} {
			if s != "" {
				scope = append(scope, s)
			}
		}
		if i%3 == 0 {
			scope = append(scope, "latency: {threshold: 300ms}")
		}
		fmt.Fprintf(&b, "  - {name: s%d, objective: 99, window: 7d, sli: {alb: {load_balancer: app/shop/0123456789abcdef, %s}}}\n", i, strings.Join(scope, ", "))
	}
	return b.String()
}

// TestScopeIndexAgreesWithScan: with enough SLOs on a load balancer to be
// indexed, every entry gets exactly the verdicts, in the same order, that
// trying every SLI gives.
func TestScopeIndexAgreesWithScan(t *testing.T) {
	set, err := slo.LoadBytes("shop.yaml", []byte(scopeSpecs(96)))
	require.NoError(t, err)
	cls := NewClassifier(set.Objectives())
	idx := cls.index["app/shop/0123456789abcdef"]
	require.True(t, idx.indexed)
	scan := &scopeIndex{all: idx.all}
	var cache lbCache
	checked, matched := 0, 0
	for _, method := range []string{"GET", "POST"} {
		for _, host := range []string{"api.shop.example.com", "API.Shop.Example.COM", "x.shop.example.com", "shop.example.com", "api.other.example.com", "a.b.example.org", "example.org", "elsewhere.example.net"} {
			for _, path := range []string{"/", "/api", "/api/", "/api/v1/items?x=1", "/healthz", "/healthz/x", "/shop/cart/1", "/a/b", "/b/", "/c/"} {
				for _, status := range []int{200, 404, 503} {
					for _, tt := range []string{"0.050", "0.900", "-1"} {
						var e Entry
						require.NoError(t, Parse([]byte(entryLine(method, host, path, status, tt)), &e))
						got := cls.classify(&e, nil, &cache)
						want := (&Classifier{IDs: cls.IDs, index: map[string]*scopeIndex{"app/shop/0123456789abcdef": scan}}).classify(&e, nil, nil)
						require.Equal(t, want, got, "%s %s%s %d %s", method, host, path, status, tt)
						require.True(t, slices.IsSortedFunc(got, func(a, b Verdict) int { return a.SLI - b.SLI }))
						checked++
						matched += len(got)
					}
				}
			}
		}
	}
	t.Logf("%d entries, %d verdicts", checked, matched)
	require.Greater(t, matched, checked, "the scopes overlap: most entries count in several SLOs")
}

// BenchmarkClassifyScale classifies entries on one load balancer carrying
// 1, 100 or 10,000 SLOs, one service each (its own host; half with a path
// filter, a third latency SLOs), as organizations put many services behind
// one ALB. A tenth of the entries are for a host no SLO reads. The cost
// per line should not grow with the SLO count.
func BenchmarkClassifyScale(b *testing.B) {
	for _, n := range []int{1, 100, 10000} {
		b.Run(fmt.Sprintf("slos=%d", n), func(b *testing.B) {
			dir := writeScaleSpecs(b, n, "app/shop/0123456789abcdef", "^/api/")
			set, err := slo.Load(dir)
			require.NoError(b, err)
			cls := NewClassifier(set.Objectives())
			entries := make([]Entry, 1000)
			for i := range entries {
				host := fmt.Sprintf("svc%d.shop.example.com", (i*7919)%n)
				if i%10 == 0 {
					host = "nobody.example.com"
				}
				require.NoError(b, Parse([]byte(entryLine("GET", host, "/api/items", 200, "0.050")), &entries[i]))
			}
			var cache lbCache
			var out []Verdict
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				out = cls.classify(&entries[i%len(entries)], out[:0], &cache)
				i++
			}
		})
	}
}

// writeScaleSpecs writes n ALB SLOs on one load balancer into a new
// directory, 100 to a service file as teams write them: one host each
// (svcN.shop.example.com), every other one also filtered on pathPrefix,
// every third a latency SLO. It returns the directory.
func writeScaleSpecs(tb testing.TB, n int, lb, pathPrefix string) string {
	tb.Helper()
	dir := tb.TempDir()
	for f := 0; f*100 < n; f++ {
		var spec strings.Builder
		fmt.Fprintf(&spec, "service: svc%d\nslos:\n", f)
		for i := f * 100; i < min(n, (f+1)*100); i++ {
			scope := fmt.Sprintf("hosts: [svc%d.shop.example.com]", i)
			if i%2 == 0 {
				scope += fmt.Sprintf(", paths: [%q]", pathPrefix)
			}
			if i%3 == 0 {
				scope += ", latency: {threshold: 300ms}"
			}
			fmt.Fprintf(&spec, "  - {name: s%d, objective: 99, window: 7d, sli: {alb: {load_balancer: %s, %s}}}\n", i, lb, scope)
		}
		require.NoError(tb, os.WriteFile(filepath.Join(dir, fmt.Sprintf("svc%d.yaml", f)), []byte(spec.String()), 0o644))
	}
	return dir
}
