package alb

import (
	"bytes"
	"strings"

	"github.com/kakeibo-slo/kakeibo/slo"
)

// Classifier decides, for every ALB-backed SLI, whether an entry is in its
// scope and whether it is good. Entries are looked up by load balancer once,
// so one pass over a line serves every SLI that reads that load balancer.
type Classifier struct {
	// IDs are the SLIs' objective IDs ("service/slo"); a Verdict's SLI
	// indexes this slice.
	IDs  []string
	byLB map[string][]*matcher
	// index holds, per load balancer, its SLIs by host and path prefix
	// (see scopeIndex).
	index map[string]*scopeIndex
}

// lbCache remembers the last load balancer looked up: a log file holds
// one load balancer's entries, so the map lookup happens once per file.
// Each reader goroutine has its own.
type lbCache struct {
	elb []byte
	idx *scopeIndex
	// host and candidates are scratch space for scopeIndex.candidates.
	host       []byte
	candidates []*matcher
}

func (c *Classifier) lookup(elb []byte, cache *lbCache) *scopeIndex {
	if cache != nil && cache.elb != nil && bytes.Equal(elb, cache.elb) {
		return cache.idx
	}
	idx := c.index[string(elb)] // no allocation: the conversion is only a map key
	if cache != nil {
		cache.elb = append(cache.elb[:0], elb...)
		cache.idx = idx
	}
	return idx
}

// Verdict is one SLI's judgement of one entry.
type Verdict struct {
	SLI  int
	Good bool
}

type matcher struct {
	index               int
	hosts               [][]byte // exact, lowercase
	hostSuffixes        [][]byte // from "*.example.com": ".example.com"
	paths, excludePaths []textMatcher
	excludeUserAgents   []textMatcher
	types               uint8 // bit set of request types; 0 means all
	methods             [][]byte
	targetGroup         []byte // an ARN, or "targetgroup/NAME/" for a name
	bad, exclude        []slo.StatusRange
	latency             bool
	total               bool
	closedExcluded      bool // 460s out of latency scope instead of slow
	threshold           Timing
}

const (
	typeHTTP uint8 = 1 << iota
	typeHTTPS
	typeH2
	typeGRPCS
	typeWS
	typeWSS
	typeOther
)

func typeBit(t []byte) uint8 {
	switch string(t) {
	case "http":
		return typeHTTP
	case "https":
		return typeHTTPS
	case "h2":
		return typeH2
	case "grpcs":
		return typeGRPCS
	case "ws":
		return typeWS
	case "wss":
		return typeWSS
	}
	return typeOther
}

// NewClassifier builds a classifier for the objectives with an ALB SLI;
// others are ignored.
func NewClassifier(objs []*slo.Objective) *Classifier {
	c := &Classifier{byLB: map[string][]*matcher{}}
	for _, o := range objs {
		a := o.SLI.ALB
		if a == nil {
			continue
		}
		m := &matcher{
			index:             len(c.IDs),
			paths:             textMatchers(a.Paths),
			excludePaths:      textMatchers(a.ExcludePaths),
			excludeUserAgents: textMatchers(a.ExcludeUserAgents),
		}
		for _, h := range a.Hosts {
			h = strings.ToLower(h)
			if rest, ok := strings.CutPrefix(h, "*"); ok {
				m.hostSuffixes = append(m.hostSuffixes, []byte(rest))
			} else {
				m.hosts = append(m.hosts, []byte(h))
			}
		}
		for _, t := range a.RequestTypes {
			m.types |= typeBit([]byte(t))
		}
		for _, meth := range a.Methods {
			m.methods = append(m.methods, []byte(meth))
		}
		switch {
		case strings.HasPrefix(a.TargetGroup, "arn:"):
			m.targetGroup = []byte(a.TargetGroup)
		case a.TargetGroup != "":
			m.targetGroup = []byte("targetgroup/" + a.TargetGroup + "/")
		}
		m.bad, m.exclude = a.BadStatus, a.ExcludeStatus
		if len(m.bad) == 0 {
			m.bad = []slo.StatusRange{{From: 500, To: 599}}
		}
		if a.Latency > 0 {
			m.latency, m.total, m.closedExcluded = true, a.LatencyTotal, a.LatencyClientClosedExcluded
			m.threshold = Timing(a.Latency.Microseconds())
		}
		c.IDs = append(c.IDs, o.ID())
		c.byLB[a.LoadBalancer] = append(c.byLB[a.LoadBalancer], m)
	}
	c.buildIndex()
	return c
}

func (c *Classifier) buildIndex() {
	c.index = make(map[string]*scopeIndex, len(c.byLB))
	for lb, ms := range c.byLB {
		c.index[lb] = newScopeIndex(ms)
	}
}

// Only returns a classifier for some of the SLIs (by ID).
func (c *Classifier) Only(ids []string) *Classifier {
	keep := map[string]bool{}
	for _, id := range ids {
		keep[id] = true
	}
	out := &Classifier{byLB: map[string][]*matcher{}}
	for lb, ms := range c.byLB {
		for _, m := range ms {
			if !keep[c.IDs[m.index]] {
				continue
			}
			cp := *m
			cp.index = len(out.IDs)
			out.IDs = append(out.IDs, c.IDs[m.index])
			out.byLB[lb] = append(out.byLB[lb], &cp)
		}
	}
	out.buildIndex()
	return out
}

// LoadBalancers lists the load balancers some SLI reads.
func (c *Classifier) LoadBalancers() []string {
	out := make([]string, 0, len(c.byLB))
	for lb := range c.byLB {
		out = append(out, lb)
	}
	return out
}

// Classify appends a verdict for every SLI whose scope holds the entry.
//
// Scope: the load balancer, then the SLI's filters (request types, hosts,
// paths, user agents, methods, target group); an elb_status_code in
// exclude_status is out of scope.
//
// Availability: bad when elb_status_code, the status the client got, is in
// bad_status (default 5xx), so target 5xx and ALB-generated 502/503/504
// (target status "-") both count; by default 4xx and 460 (client closed the
// connection) do not. An entry whose elb_status_code is "-" got no response
// to judge and is out of scope.
//
// Latency: good when the measured time (target_processing_time, or with
// measure: total the sum of request, target and response processing time)
// is at most the threshold. A 460 (the client closed the connection before
// the response: it waited and gave up, usually on the slowest requests) is
// slow, or out of scope with client_closed: exclude. Another request the
// load balancer answered itself, without a target (a redirect, a fixed
// response, a WAF or authentication denial: -1 target time and a status
// that is not 5xx) says nothing about the service's speed and is out of
// scope; -1 with a 5xx (the target did not answer) is bad. WebSocket entries (ws, wss) describe
// whole connections and are never counted.
func (c *Classifier) Classify(e *Entry, out []Verdict) []Verdict {
	return c.classify(e, out, nil)
}

func (c *Classifier) classify(e *Entry, out []Verdict, cache *lbCache) []Verdict {
	idx := c.lookup(e.ELB(), cache)
	if idx == nil {
		return out
	}
	var req Request
	parsedReq := false
	ms := idx.all
	if idx.indexed {
		req, parsedReq = e.Request(), true
		ms = idx.candidates(&req, cache)
	}
	typ := typeBit(e.Type())
	for _, m := range ms {
		if m.types != 0 && m.types&typ == 0 {
			continue
		}
		if m.latency && typ&(typeWS|typeWSS) != 0 {
			continue
		}
		status := e.ELBStatusCode()
		if !m.latency && status == NoStatus {
			continue
		}
		if inRanges(m.exclude, status) {
			continue
		}
		clientClosed := status == StatusClientClosed
		if m.latency && clientClosed && m.closedExcluded {
			continue
		}
		if m.latency && !clientClosed && e.TargetProcessingTime() == NotMeasured && !(status >= 500 && status <= 599) {
			continue // answered by the load balancer itself
		}
		if len(m.hosts)+len(m.hostSuffixes)+len(m.paths)+len(m.excludePaths)+len(m.methods) > 0 && !parsedReq {
			req, parsedReq = e.Request(), true
		}
		if !m.inScope(e, &req) {
			continue
		}
		var good bool
		if m.latency {
			t := e.TargetProcessingTime()
			if m.total {
				t = totalTime(e)
			}
			good = t >= 0 && t <= m.threshold && !clientClosed
		} else {
			good = !inRanges(m.bad, status)
		}
		out = append(out, Verdict{SLI: m.index, Good: good})
	}
	return out
}

func inRanges(rs []slo.StatusRange, code int) bool {
	for _, r := range rs {
		if r.Contains(code) {
			return true
		}
	}
	return false
}

// totalTime is request + target + response processing time; not measured
// when any part is not.
func totalTime(e *Entry) Timing {
	a, b, c := e.RequestProcessingTime(), e.TargetProcessingTime(), e.ResponseProcessingTime()
	if a < 0 || b < 0 || c < 0 {
		return NotMeasured
	}
	return a + b + c
}

func (m *matcher) inScope(e *Entry, req *Request) bool {
	if len(m.methods) > 0 {
		ok := false
		for _, meth := range m.methods {
			ok = ok || bytes.Equal(meth, req.Method)
		}
		if !ok {
			return false
		}
	}
	if m.targetGroup != nil {
		tg := e.Field(FieldTargetGroupARN)
		if m.targetGroup[0] == 'a' && !bytes.Equal(tg, m.targetGroup) || m.targetGroup[0] != 'a' && !bytes.Contains(tg, m.targetGroup) {
			return false
		}
	}
	if len(m.hosts)+len(m.hostSuffixes) > 0 && !m.hostMatches(req.Host) {
		return false
	}
	if len(m.paths) > 0 && !anyMatch(m.paths, req.Path) {
		return false
	}
	if anyMatch(m.excludePaths, req.Path) {
		return false
	}
	if anyMatch(m.excludeUserAgents, e.UserAgent()) {
		return false
	}
	return true
}

func (m *matcher) hostMatches(host []byte) bool {
	for _, h := range m.hosts {
		if bytes.EqualFold(h, host) {
			return true
		}
	}
	for _, s := range m.hostSuffixes {
		if len(host) > len(s) && bytes.EqualFold(s, host[len(host)-len(s):]) {
			return true
		}
	}
	return false
}
