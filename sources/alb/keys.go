package alb

import (
	"path"
	"strings"
	"time"
)

// KeyInfo is what an access log object's name says, for names following
// AWS's scheme:
//
//	bucket[/prefix]/AWSLogs/ACCOUNT/elasticloadbalancing/REGION/yyyy/mm/dd/
//	  ACCOUNT_elasticloadbalancing_REGION_app.NAME.ID_ENDTIME_NODEIP_RANDOM.log.gz
type KeyInfo struct {
	Account, Region string
	// LoadBalancer as the log's elb field writes it: app/NAME/ID.
	LoadBalancer string
	// End closes the 5-minute interval the file covers (ENDTIME, e.g. 20140215T2340Z).
	End time.Time
	// Day is the delivery date from the yyyy/mm/dd folders (zero when absent).
	Day time.Time
	// Node is the load balancer node (NODEIP) that wrote the file.
	Node string
}

// IsAccessLog says whether an object holds ALB access log entries. The same
// folders hold connection logs, health check logs, NLB logs and AWS's test
// file, which are skipped.
func IsAccessLog(key string) bool {
	base := path.Base(key)
	switch {
	case strings.Contains(base, "conn_log"),
		strings.Contains(base, "health_check_log"),
		strings.Contains(base, "_net."),
		strings.Contains(key, "ELBAccessLogTestFile"):
		return false
	case otherServiceKey(key), otherServiceFile(base) && !strings.Contains(base, "_elasticloadbalancing_"):
		// Another AWS service's logs under the same prefix (VPC flow logs,
		// CloudTrail, ...): never read, never counted as malformed.
		return false
	}
	return strings.HasSuffix(base, ".log.gz") || strings.HasSuffix(base, ".log") || strings.HasSuffix(base, ".gz")
}

// otherServices are the AWSLogs/ACCOUNT/SERVICE/ folders of AWS services
// other than Elastic Load Balancing that may share a log bucket.
var otherServices = map[string]bool{
	"vpcflowlogs": true, "CloudTrail": true, "CloudTrail-Digest": true, "Config": true, "GuardDuty": true,
	"network-firewall": true, "route53resolver": true, "waf": true, "s3": true,
}

// otherServiceKey says whether key lies in another service's folder,
// AWSLogs/ACCOUNT/SERVICE/... or AWSLogs/ACCOUNT/ORG-OR-REGION/SERVICE/....
// Keys are checked a segment at a time (every listing asks for every key,
// so no regular expression).
func otherServiceKey(key string) bool {
	parts := strings.Split(key, "/")
	for i := 0; i+3 < len(parts); i++ {
		if parts[i] != "AWSLogs" || !isAccountID(parts[i+1]) {
			continue
		}
		if otherServices[parts[i+2]] || (parts[i+2] != "" && i+4 < len(parts) && otherServices[parts[i+3]]) {
			return true
		}
	}
	return false
}

// otherServiceFile says whether a file is named as AWS names its services'
// log files, ACCOUNT_SERVICE_...
func otherServiceFile(base string) bool {
	if len(base) < 14 || !isAccountID(base[:12]) || base[12] != '_' {
		return false
	}
	rest := base[13:]
	end := strings.IndexByte(rest, '_')
	if end <= 0 {
		return false
	}
	for _, c := range rest[:end] {
		if !(c == '-' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

// isAccountID says whether s is an AWS account ID: twelve digits.
func isAccountID(s string) bool {
	if len(s) != 12 {
		return false
	}
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// InLayout says whether a key is where and as AWS writes access logs to
// S3: .../AWSLogs/ACCOUNT/elasticloadbalancing/REGION/yyyy/mm/dd/ with a
// file name that names the same account and region, a load balancer and
// an interval. A copy elsewhere in the bucket (a backup/ folder, an export)
// would count its requests twice; S3 listings skip it.
func InLayout(key string) bool {
	parts := strings.Split(key, "/")
	n := len(parts)
	if n < 8 || parts[n-8] != "AWSLogs" || parts[n-6] != "elasticloadbalancing" {
		return false
	}
	info := ParseKey(key)
	return info.Account == parts[n-7] && info.Region == parts[n-5] && !info.Day.IsZero() &&
		info.LoadBalancer != "" && !info.End.IsZero()
}

// ParseKey reads what an object key tells; fields it cannot find stay zero.
func ParseKey(key string) KeyInfo {
	var info KeyInfo
	dir, base := path.Split(key)
	parts := strings.Split(strings.TrimSuffix(dir, "/"), "/")
	if n := len(parts); n >= 3 {
		if d, err := time.Parse("2006/01/02", strings.Join(parts[n-3:], "/")); err == nil {
			info.Day = d
		}
	}
	name := strings.TrimSuffix(strings.TrimSuffix(base, ".gz"), ".log")
	f := strings.Split(name, "_")
	// ACCOUNT elasticloadbalancing REGION app.NAME.ID ENDTIME NODEIP RANDOM
	if len(f) < 6 || f[1] != "elasticloadbalancing" {
		return info
	}
	info.Account, info.Region = f[0], f[2]
	if lb := strings.SplitN(f[3], ".", 3); len(lb) == 3 {
		info.LoadBalancer = lb[0] + "/" + lb[1] + "/" + lb[2]
	}
	if end, err := time.Parse("20060102T1504Z", f[4]); err == nil {
		info.End = end
	}
	info.Node = f[5]
	return info
}

// dayInRange says whether a delivery day may hold entries of [from, to):
// folders are delivery dates, so a day of slack is allowed on each side.
// Zero bounds are open.
func dayInRange(day, from, to time.Time) bool {
	if day.IsZero() {
		return true
	}
	if !from.IsZero() && day.Add(48*time.Hour).Before(from) {
		return false
	}
	if !to.IsZero() && day.After(to.Add(24*time.Hour)) {
		return false
	}
	return true
}

// endInRange says whether a file whose interval ended at end may hold
// entries at or after from: entries are logged in the file of the interval
// they end in, so an hour of margin covers requests that ran long.
func endInRange(end, from time.Time) bool {
	return end.IsZero() || from.IsZero() || !end.Before(from.Add(-time.Hour))
}
