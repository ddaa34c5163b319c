package alb

import (
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestIsAccessLog(t *testing.T) {
	for key, want := range map[string]bool{
		"AWSLogs/123456789012/elasticloadbalancing/us-east-2/2026/10/01/123456789012_elasticloadbalancing_us-east-2_app.my-lb.50dc6c495c0c9188_20261001T0005Z_10.0.0.1_2a3b4c5d.log.gz": true,
		"logs/plain/app.log": true,
		"AWSLogs/123456789012/elasticloadbalancing/us-east-2/2026/10/01/conn_log_123456789012_elasticloadbalancing_us-east-2_app.my-lb.50dc6c495c0c9188_20261001T0005Z_10.0.0.1_x.log.gz": false,
		"AWSLogs/123456789012/elasticloadbalancing/us-east-2/2026/10/01/123456789012_elasticloadbalancing_us-east-2_conn_log.my-lb.50dc6c495c0c9188_20261001T0005Z_10.0.0.1_x.log.gz":     false,
		"AWSLogs/123456789012/elasticloadbalancing/us-east-2/2026/10/01/health_check_log_123456789012_elasticloadbalancing_us-east-2_app.my-lb.50dc6c495c0c9188_20261001T0005Z_x.log.gz":  false,
		"AWSLogs/123456789012/elasticloadbalancing/us-east-2/2026/10/01/123456789012_elasticloadbalancing_us-east-2_net.my-nlb.50dc6c495c0c9188_20261001T0005Z_a1b2c3d4.log.gz":           false,
		"AWSLogs/123456789012/ELBAccessLogTestFile":                                false,
		"AWSLogs/123456789012/elasticloadbalancing/us-east-2/2026/10/01/notes.txt": false,
	} {
		require.Equal(t, want, IsAccessLog(key), key)
	}
}

func TestParseKey(t *testing.T) {
	info := ParseKey("prefix/AWSLogs/123456789012/elasticloadbalancing/us-gov-west-1/2026/10/02/123456789012_elasticloadbalancing_us-gov-west-1_app.my-lb.50dc6c495c0c9188_20261001T2355Z_10.0.0.1_2a3b4c5d.log.gz")
	require.Equal(t, KeyInfo{
		Account: "123456789012", Region: "us-gov-west-1", LoadBalancer: "app/my-lb/50dc6c495c0c9188",
		End: time.Date(2026, 10, 1, 23, 55, 0, 0, time.UTC), Day: time.Date(2026, 10, 2, 0, 0, 0, 0, time.UTC), Node: "10.0.0.1",
	}, info)
	require.Equal(t, KeyInfo{}, ParseKey("some/dir/app.log.gz"))
}

func TestDayInRange(t *testing.T) {
	day := func(d int) time.Time { return time.Date(2026, 10, d, 0, 0, 0, 0, time.UTC) }
	from, to := day(10).Add(6*time.Hour), day(12).Add(6*time.Hour)
	for d, want := range map[int]bool{7: false, 8: false, 9: true, 10: true, 12: true, 13: true, 14: false} {
		require.Equal(t, want, dayInRange(day(d), from, to), "day %d", d)
	}
	require.True(t, dayInRange(time.Time{}, from, to), "no date folder: always a candidate")
	require.True(t, dayInRange(day(1), time.Time{}, time.Time{}), "open range")
}

func TestIsAccessLogSkipsOtherServices(t *testing.T) {
	for key, want := range map[string]bool{
		"AWSLogs/123456789012/elasticloadbalancing/ap-northeast-1/2026/10/01/123456789012_elasticloadbalancing_ap-northeast-1_app.x.50dc6c495c0c9188_20261001T0005Z_10.0.0.1_abc.log.gz": true,
		"AWSLogs/123456789012/vpcflowlogs/ap-northeast-1/2026/10/01/123456789012_vpcflowlogs_ap-northeast-1_fl-0123456789abcdef0_20261001T0005Z_abc.log.gz":                              false,
		"AWSLogs/123456789012/CloudTrail/ap-northeast-1/2026/10/01/123456789012_CloudTrail_ap-northeast-1_20261001T0005Z_abc.json.gz":                                                    false,
		"logs/plain-export.log":    true,
		"logs/plain-export.gz":     true,
		"logs/plain-export.log.gz": true,
		"logs/readme.txt":          false,
	} {
		require.Equal(t, want, IsAccessLog(key), key)
	}
}

// TestOtherServiceMatchersAgreeWithPatterns: the segment-wise matchers
// (listing asks them for every key) accept exactly what the patterns they
// replaced accept, on keys built from every tricky part.
func TestOtherServiceMatchersAgreeWithPatterns(t *testing.T) {
	keyRE := regexp.MustCompile(`(^|/)AWSLogs/\d{12}/(?:[^/]+/)?(vpcflowlogs|CloudTrail|CloudTrail-Digest|Config|GuardDuty|network-firewall|route53resolver|waf|s3)/`)
	fileRE := regexp.MustCompile(`^\d{12}_[A-Za-z0-9-]+_`)
	segs := []string{"AWSLogs", "123456789012", "12345678901", "1234567890123", "o-abc123", "vpcflowlogs", "CloudTrail", "elasticloadbalancing", "s3", "x", ""}
	var keys []string
	var build func(prefix string, depth int)
	build = func(prefix string, depth int) {
		keys = append(keys, prefix)
		if depth == 0 {
			return
		}
		for _, s := range segs {
			build(prefix+s+"/", depth-1)
			build(prefix+s, depth-1)
		}
	}
	build("", 4)
	for _, k := range keys { // 244k keys: a plain comparison, not require's reflection
		if want, got := keyRE.MatchString(k), otherServiceKey(k); want != got {
			t.Fatalf("otherServiceKey(%q) = %v, the pattern says %v", k, got, want)
		}
	}
	for _, b := range []string{"123456789012_CloudTrail_x.json.gz", "123456789012_elasticloadbalancing_a_b.log.gz", "123456789012__x", "123456789012_a", "12345678901_a_b",
		"123456789012_a-B9_", "123456789012_a.b_c", "x123456789012_a_b", "123456789012_vpcflowlogs_ap-northeast-1_fl-1_20261001T0000Z_hash.log.gz"} {
		require.Equal(t, fileRE.MatchString(b), otherServiceFile(b), "%q", b)
	}
}
