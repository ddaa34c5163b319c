package alb

import (
	"path"
	"regexp"
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
	case otherServiceRE.MatchString(key), otherServiceFileRE.MatchString(base) && !strings.Contains(base, "_elasticloadbalancing_"):
		// Another AWS service's logs under the same prefix (VPC flow logs,
		// CloudTrail, ...): never read, never counted as malformed.
		return false
	}
	return strings.HasSuffix(base, ".log.gz") || strings.HasSuffix(base, ".log") || strings.HasSuffix(base, ".gz")
}

var (
	// otherServiceRE matches AWSLogs/ACCOUNT/SERVICE/ folders of services
	// other than Elastic Load Balancing.
	otherServiceRE = regexp.MustCompile(`(^|/)AWSLogs/\d{12}/(?:[^/]+/)?(vpcflowlogs|CloudTrail|CloudTrail-Digest|Config|GuardDuty|network-firewall|route53resolver|waf|s3)/`)
	// otherServiceFileRE matches AWS-named log files (ACCOUNT_SERVICE_...).
	otherServiceFileRE = regexp.MustCompile(`^\d{12}_[A-Za-z0-9-]+_`)
)

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
