// Package albgen writes synthetic ALB access log trees with known contents,
// laid out like the S3 bucket ALB delivers to. Its requests are plain
// structs, so tests can compute the truth about them without going through
// the parser they check.
package albgen

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// LoadBalancer is one ALB and its traffic.
type LoadBalancer struct {
	// Name as logged: app/NAME/ID.
	Name string
	// Nodes are the IPs of the load balancer's nodes; each writes one file
	// per 5 minutes.
	Nodes []string
	// PerMinute is the mean number of requests per minute.
	PerMinute int
	// Hosts requests go to; a few go to other hosts as well.
	Hosts []string
	// Paths requests ask for; "/healthz" probes are added.
	Paths []string
}

// Incident makes a load balancer misbehave for a while.
type Incident struct {
	LoadBalancer string
	From, To     time.Time
	// ErrorRatio of requests get a 5xx.
	ErrorRatio float64
	// SlowRatio of requests take SlowTime (plus jitter) at the target.
	SlowRatio float64
	SlowTime  time.Duration
}

// Config describes a log tree.
type Config struct {
	Account, Region string
	Start           time.Time
	Duration        time.Duration
	LoadBalancers   []LoadBalancer
	Incidents       []Incident
	Seed            uint64
	// MalformedEvery makes one line in N malformed (0: none).
	MalformedEvery int
	// CleanBaseline leaves out the few server errors (0.02% of requests)
	// of an ordinary day: outside incidents nothing fails, for tests whose
	// baseline must not spend a strict objective's budget by chance.
	CleanBaseline bool
	// Traps adds what real buckets hold besides access logs (connection and
	// health check logs, NLB logs, the test file, an empty object) and
	// varies the encoding (several gzip members, plain .log files).
	Traps bool
}

// Request is one generated log entry.
type Request struct {
	LoadBalancer string
	Node         string
	Time         time.Time
	Type         string // http, https, h2, grpcs, ws, wss
	Method       string
	Host, Path   string
	Query        string
	UserAgent    string // as logged (escapes kept)
	ClientIP     string
	ELBStatus    int     // 0 when logged as "-"
	TargetStatus int     // 0 when logged as "-"
	TargetTime   float64 // seconds; -1 when not measured
	// Fields is the entry's field count: 27, 29, 30, 33 or 34.
	Fields int
	// Malformed lines are written broken; no parser can count them.
	Malformed bool
}

const interval = 5 * time.Minute

// Requests calls fn for every request of the tree, interval by interval.
func Requests(cfg Config, fn func(Request)) {
	for start := cfg.Start.Truncate(interval); start.Before(cfg.Start.Add(cfg.Duration)); start = start.Add(interval) {
		for i := range cfg.LoadBalancers {
			for _, r := range cfg.interval(i, start) {
				fn(r)
			}
		}
	}
}

// interval generates one load balancer's requests of one 5-minute interval;
// the same inputs always give the same requests.
func (cfg Config) interval(lbIndex int, start time.Time) []Request {
	lb := cfg.LoadBalancers[lbIndex]
	h := fnv.New64a()
	fmt.Fprintf(h, "%d/%s/%d", cfg.Seed, lb.Name, start.Unix())
	rng := rand.New(rand.NewPCG(cfg.Seed, h.Sum64()))
	end := cfg.Start.Add(cfg.Duration)
	var out []Request
	for m := range 5 {
		minute := start.Add(time.Duration(m) * time.Minute)
		if minute.Before(cfg.Start) || !minute.Before(end) {
			continue
		}
		n := lb.PerMinute/2 + rng.IntN(lb.PerMinute+1)
		for range n {
			t := minute.Add(time.Duration(rng.Int64N(int64(time.Minute)/1000) * 1000))
			out = append(out, cfg.request(rng, lb, t))
		}
	}
	// Entries are written in time order, as ALB does.
	sortByTime(out)
	for i := range out {
		out[i].Node = lb.Nodes[i%len(lb.Nodes)]
		if cfg.MalformedEvery > 0 && rng.IntN(cfg.MalformedEvery) == 0 {
			out[i].Malformed = true
		}
	}
	return out
}

func (cfg Config) request(rng *rand.Rand, lb LoadBalancer, t time.Time) Request {
	r := Request{LoadBalancer: lb.Name, Time: t, Method: "GET", Fields: 33,
		Host: lb.Hosts[rng.IntN(len(lb.Hosts))], Path: lb.Paths[rng.IntN(len(lb.Paths))],
		UserAgent: "Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/125.0",
		ClientIP:  fmt.Sprintf("198.51.100.%d", rng.IntN(250)+1)}
	switch x := rng.Float64(); {
	case x < 0.70:
		r.Type = "https"
	case x < 0.90:
		r.Type = "h2"
	case x < 0.95:
		r.Type = "http"
	case x < 0.97:
		r.Type = "grpcs"
		r.Method = "POST"
	case x < 0.985:
		r.Type = "ws"
	default:
		r.Type = "wss"
	}
	switch x := rng.Float64(); {
	case x < 0.03:
		r.Host = "other.example.org" // out of every scope
	case x < 0.05:
		r.Path = "/healthz"
		r.UserAgent = "Amazon-Route53-Health-Check-Service (ref 8c6a3f2e; report http://amzn.to/1vsZADi)"
	case x < 0.06:
		r.UserAgent = `Mozilla/5.0 (compatible; \x22QuoteBot\x22/1.0) \x5C(Java\x5C) \xE6\x97\xA5`
	}
	if rng.Float64() < 0.1 {
		r.Query = fmt.Sprintf("page=%d&q=\\x22tofu\\x22", rng.IntN(9))
	}
	if rng.Float64() < 0.05 {
		r.ClientIP = fmt.Sprintf("2001:db8:4538:1:bcf4:5264:e01c:%x", rng.IntN(0xffff))
	}
	switch x := rng.Float64(); {
	case x < 0.01:
		r.Fields = 27
	case x < 0.06:
		r.Fields = 29
	case x < 0.08:
		r.Fields = 30
	case x < 0.18:
		r.Fields = 34
	}

	// Latency: most requests are quick; a few are slow even on a good day.
	r.TargetTime = math.Round(rng.ExpFloat64()*0.04*1000) / 1000
	if rng.Float64() < 0.002 {
		r.TargetTime = 1 + math.Round(rng.Float64()*3000)/1000
	}
	errorRatio, slow := 0.0002, Incident{}
	if cfg.CleanBaseline {
		errorRatio = 0
	}
	for _, inc := range cfg.Incidents {
		if inc.LoadBalancer == lb.Name && !t.Before(inc.From) && t.Before(inc.To) {
			errorRatio = max(errorRatio, inc.ErrorRatio)
			slow = inc
		}
	}
	if slow.SlowRatio > 0 && rng.Float64() < slow.SlowRatio {
		r.TargetTime = slow.SlowTime.Seconds() + math.Round(rng.Float64()*500)/1000
	}

	r.ELBStatus, r.TargetStatus = 200, 200
	if r.Type == "ws" || r.Type == "wss" {
		r.ELBStatus, r.TargetStatus = 101, 101
	}
	switch x := rng.Float64(); {
	case x < errorRatio:
		switch rng.IntN(4) {
		case 0: // target error, passed through
			r.ELBStatus, r.TargetStatus = 500, 500
		case 1: // target said 503
			r.ELBStatus, r.TargetStatus = 503, 503
		default: // ALB-generated: no target response
			r.ELBStatus, r.TargetStatus, r.TargetTime = []int{502, 503, 504}[rng.IntN(3)], 0, -1
		}
	case x < errorRatio+0.02:
		r.ELBStatus, r.TargetStatus = 404, 404
	case x < errorRatio+0.021:
		r.ELBStatus, r.TargetStatus, r.TargetTime = 460, 0, -1 // client went away
	}
	return r
}

func sortByTime(rs []Request) {
	slices.SortStableFunc(rs, func(a, b Request) int { return a.Time.Compare(b.Time) })
}

// Summary counts what Write wrote.
type Summary struct {
	Files, Lines, Malformed int
	Bytes                   int64 // uncompressed
}

// Write writes the tree under dir, in AWS's layout:
// AWSLogs/ACCOUNT/elasticloadbalancing/REGION/yyyy/mm/dd/ACCOUNT_elasticloadbalancing_REGION_app.NAME.ID_ENDTIME_NODEIP_RANDOM.log.gz
// Files land in the folder of their delivery date (3 minutes after the
// interval ends), so entries just before midnight sit in the next day's folder.
func Write(cfg Config, dir string) (Summary, error) {
	var sum Summary
	var buf bytes.Buffer
	n := 0
	for start := cfg.Start.Truncate(interval); start.Before(cfg.Start.Add(cfg.Duration)); start = start.Add(interval) {
		end := start.Add(interval)
		for i, lb := range cfg.LoadBalancers {
			byNode := map[string][]Request{}
			for _, r := range cfg.interval(i, start) {
				byNode[r.Node] = append(byNode[r.Node], r)
			}
			for _, node := range lb.Nodes {
				buf.Reset()
				for _, r := range byNode[node] {
					writeLine(&buf, r)
					sum.Lines++
					if r.Malformed {
						sum.Malformed++
					}
				}
				if buf.Len() == 0 {
					continue
				}
				n++
				style := plainGzip
				if cfg.Traps {
					style = []encoding{plainGzip, plainGzip, plainGzip, twoMembers, plainGzip, plainGzip, plainGzip, plainLog, plainGzip, plainGzip}[n%10]
				}
				name := cfg.objectName(lb.Name, end, node, n, "")
				if err := writeObject(filepath.Join(dir, name), buf.Bytes(), style); err != nil {
					return sum, err
				}
				sum.Files++
				sum.Bytes += int64(buf.Len())
				if cfg.Traps && n%7 == 0 {
					// Neighbours that are not access logs but hold lines that
					// would count if read by mistake.
					for _, kind := range []string{"conn_log", "health_check_log"} {
						trap := cfg.objectName(lb.Name, end, node, n, kind)
						if err := writeObject(filepath.Join(dir, trap), buf.Bytes(), plainGzip); err != nil {
							return sum, err
						}
					}
					nlb := strings.Replace(cfg.objectName(lb.Name, end, node, n, ""), "_app.", "_net.", 1)
					if err := writeObject(filepath.Join(dir, nlb), buf.Bytes(), plainGzip); err != nil {
						return sum, err
					}
				}
			}
		}
	}
	if cfg.Traps && len(cfg.LoadBalancers) > 0 {
		base := filepath.Join(dir, "AWSLogs", cfg.Account)
		if err := writeObject(filepath.Join(base, "ELBAccessLogTestFile"), []byte("Enable AccessLog for ELB: "+cfg.LoadBalancers[0].Name+"\n"), plainLog); err != nil {
			return sum, err
		}
		empty := cfg.objectName(cfg.LoadBalancers[0].Name, cfg.Start.Truncate(interval).Add(interval), "10.0.0.99", 0, "")
		if err := writeObject(filepath.Join(dir, empty), nil, emptyObject); err != nil {
			return sum, err
		}
	}
	return sum, nil
}

func (cfg Config) objectName(lb string, end time.Time, node string, n int, kind string) string {
	delivered := end.Add(3 * time.Minute).UTC()
	lbName := strings.ReplaceAll(lb, "/", ".")
	name := fmt.Sprintf("%s_elasticloadbalancing_%s_%s_%s_%s_%08x.log.gz", cfg.Account, cfg.Region, lbName, end.UTC().Format("20060102T1504Z"), node, uint32(n)*2654435761)
	if kind != "" {
		name = kind + "_" + name
	}
	return filepath.Join("AWSLogs", cfg.Account, "elasticloadbalancing", cfg.Region, delivered.Format("2006/01/02"), name)
}

type encoding int

const (
	plainGzip encoding = iota
	twoMembers
	plainLog
	emptyObject
)

// gzipWriters are reused: a compressor's state is large, and tests write
// thousands of small objects.
var gzipWriters = sync.Pool{New: func() any {
	zw, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed)
	return zw
}}

func writeObject(path string, data []byte, enc encoding) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	var out bytes.Buffer
	switch enc {
	case emptyObject:
	case plainLog:
		path = strings.TrimSuffix(path, ".gz")
		out.Write(data)
	case twoMembers:
		half := bytes.IndexByte(data[len(data)/2:], '\n') + len(data)/2 + 1
		for _, part := range [][]byte{data[:half], data[half:]} {
			zw := gzip.NewWriter(&out)
			zw.Write(part)
			zw.Close()
		}
	default:
		zw := gzipWriters.Get().(*gzip.Writer)
		zw.Reset(&out)
		zw.Write(data)
		zw.Close()
		gzipWriters.Put(zw)
	}
	return os.WriteFile(path, out.Bytes(), 0o644)
}

// writeLine formats a request as ALB does, in the field count it asks for.
func writeLine(b *bytes.Buffer, r Request) {
	if r.Malformed {
		// A line cut short in the middle of the user agent.
		fmt.Fprintf(b, "%s %s %s %s:443 - -1 -1 -1 %d - 0 0 \"GET https://%s:443%s HTTP/1.1\" \"%s\n",
			r.Type, r.Time.UTC().Format("2006-01-02T15:04:05.000000Z"), r.LoadBalancer, r.ClientIP, r.ELBStatus, r.Host, r.Path, r.UserAgent)
		return
	}
	status := func(s int) string {
		if s == 0 {
			return "-"
		}
		return strconv.Itoa(s)
	}
	timing := func(t float64) string {
		if t < 0 {
			return "-1"
		}
		return strconv.FormatFloat(t, 'f', 3, 64)
	}
	reqT, respT := "0.000", "0.000"
	target := "10.0.10.4:8080"
	if r.TargetTime < 0 {
		reqT, respT = "-1", "-1"
		if r.ELBStatus == 503 {
			target = "-"
		}
	}
	scheme, port := "https", 443
	if r.Type == "http" || r.Type == "ws" {
		scheme, port = "http", 80
	}
	url := fmt.Sprintf("%s://%s:%d%s", scheme, r.Host, port, r.Path)
	if r.Query != "" {
		url += "?" + r.Query
	}
	version := "HTTP/1.1"
	if r.Type == "h2" || r.Type == "grpcs" {
		version = "HTTP/2.0"
	}
	ts := r.Time.UTC().Format("2006-01-02T15:04:05.000000Z")
	fmt.Fprintf(b, `%s %s %s %s:%d %s %s %s %s %s %s %d %d "%s %s %s" "%s" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:targetgroup/tg/13adb34fe2cf989a "Root=1-65f26b09-0a1b2c3d4e5f60718293a4b5" "%s" "session-reused" 10 %s "forward" "-" "-" "%s" "%s"`,
		r.Type, ts, r.LoadBalancer, r.ClientIP, 40000+r.Time.Nanosecond()%20000, target, reqT, timing(r.TargetTime), respT,
		status(r.ELBStatus), status(r.TargetStatus), 300+r.Time.Nanosecond()%500, 1000+r.Time.Nanosecond()%9000,
		r.Method, url, version, r.UserAgent, r.Host, ts, target, status(r.TargetStatus))
	if r.Fields >= 29 {
		b.WriteString(` "-" "-"`)
	}
	if r.Fields >= 30 {
		b.WriteString(" TID_0f1e2d3c4b5a69788796a5b4c3d2e1f0")
	}
	if r.Fields >= 33 {
		b.WriteString(` "-" "-" "-"`)
	}
	if r.Fields >= 34 {
		b.WriteString(" 203.0.113.17")
	}
	b.WriteByte('\n')
}

// Example is the bundled example: a day of two load balancers, mart-api with
// a 20-minute outage at 14:00 and web-prod with a slow hour at 10:00 (UTC),
// matching the specs in testdata/specs.
func Example(start time.Time, perMinute int) Config {
	day := start.Truncate(24 * time.Hour)
	return Config{
		Account: "123456789012", Region: "ap-northeast-1",
		Start: day, Duration: 24 * time.Hour, Seed: 1, MalformedEvery: 5000, Traps: true,
		LoadBalancers: []LoadBalancer{
			{Name: "app/mart-api/50dc6c495c0c9188", Nodes: []string{"10.0.1.11"}, PerMinute: perMinute,
				Hosts: []string{"api.mart.example.com"}, Paths: []string{"/v1/items", "/v1/cart", "/v1/orders", "/v1/users/me"}},
			{Name: "app/web-prod/9cd2662c6b66898b", Nodes: []string{"10.0.2.21", "10.0.2.22"}, PerMinute: perMinute,
				Hosts: []string{"www.example.com", "m.shop.example.com"}, Paths: []string{"/", "/recipes/123", "/recipes/456", "/static/app.js", "/search"}},
		},
		Incidents: []Incident{
			{LoadBalancer: "app/mart-api/50dc6c495c0c9188", From: day.Add(14 * time.Hour), To: day.Add(14*time.Hour + 20*time.Minute), ErrorRatio: 0.4},
			{LoadBalancer: "app/web-prod/9cd2662c6b66898b", From: day.Add(10 * time.Hour), To: day.Add(11 * time.Hour), SlowRatio: 0.3, SlowTime: 1200 * time.Millisecond},
		},
	}
}
