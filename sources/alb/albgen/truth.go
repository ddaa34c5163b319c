package albgen

import (
	"math"
	"regexp"
	"slices"
	"strings"

	"github.com/kakeibo-slo/kakeibo/slo"
	"github.com/kakeibo-slo/kakeibo/sources/alb"
)

// Truth counts a tree's good and total events per SLI and UTC minute
// straight from the generated requests, with its own reading of the specs'
// ALB SLIs. It never formats or parses a log line, so it checks the parser,
// classifier and ingester rather than repeating them.
func Truth(cfg Config, objs []*slo.Objective) map[alb.BucketKey]alb.Count {
	out := map[alb.BucketKey]alb.Count{}
	Requests(cfg, func(r Request) {
		if r.Malformed {
			return
		}
		for _, o := range objs {
			if o.SLI.ALB == nil {
				continue
			}
			good, in := judge(o.SLI.ALB, r)
			if !in {
				continue
			}
			k := alb.BucketKey{SLI: o.ID(), Minute: r.Time.Unix() / 60}
			c := out[k]
			c.Total++
			if good {
				c.Good++
			}
			out[k] = c
		}
	})
	return out
}

func judge(a *slo.ALBSLI, r Request) (good, inScope bool) {
	if r.LoadBalancer != a.LoadBalancer {
		return false, false
	}
	if len(a.Hosts) > 0 && !slices.ContainsFunc(a.Hosts, func(h string) bool {
		if suffix, wild := strings.CutPrefix(h, "*"); wild {
			return strings.HasSuffix(strings.ToLower(r.Host), suffix)
		}
		return strings.EqualFold(h, r.Host)
	}) {
		return false, false
	}
	matches := func(res []*regexp.Regexp, s string) bool {
		return slices.ContainsFunc(res, func(re *regexp.Regexp) bool { return re.MatchString(s) })
	}
	if len(a.Paths) > 0 && !matches(a.Paths, r.Path) || matches(a.ExcludePaths, r.Path) || matches(a.ExcludeUserAgents, r.UserAgent) {
		return false, false
	}
	if len(a.RequestTypes) > 0 && !slices.Contains(a.RequestTypes, r.Type) {
		return false, false
	}
	within := func(rs []slo.StatusRange, code int) bool {
		return slices.ContainsFunc(rs, func(s slo.StatusRange) bool { return code >= s.From && code <= s.To })
	}
	if within(a.ExcludeStatus, r.ELBStatus) {
		return false, false
	}
	if a.Latency > 0 {
		if r.Type == "ws" || r.Type == "wss" {
			return false, false
		}
		if r.ELBStatus == 460 { // the client gave up waiting
			if a.LatencyClientClosedExcluded {
				return false, false
			}
			return false, true
		}
		if r.TargetTime < 0 && (r.ELBStatus < 500 || r.ELBStatus > 599) {
			return false, false // answered by the load balancer, not the service
		}
		ms := math.Round(r.TargetTime * 1000)
		return r.TargetTime >= 0 && ms <= float64(a.Latency.Milliseconds()), true
	}
	if r.ELBStatus == 0 {
		return false, false
	}
	bad := a.BadStatus
	if len(bad) == 0 {
		bad = []slo.StatusRange{{From: 500, To: 599}}
	}
	return !within(bad, r.ELBStatus), true
}
