// Package alb reads AWS Application Load Balancer access logs: it parses
// entries, classifies them as good or bad events of ALB-backed SLIs, reads log
// objects from a directory or S3, and keeps per-minute counts and a ledger of
// ingested objects.
package alb

import "bytes"

// Field is the position of a field in an entry, as documented by AWS
// ("Access logs for your Application Load Balancer"). New fields are only
// ever added at the end; fields past NumFields are ignored.
type Field int

const (
	FieldType Field = iota
	FieldTime
	FieldELB
	FieldClient
	FieldTarget
	FieldRequestProcessingTime
	FieldTargetProcessingTime
	FieldResponseProcessingTime
	FieldELBStatusCode
	FieldTargetStatusCode
	FieldReceivedBytes
	FieldSentBytes
	FieldRequest
	FieldUserAgent
	FieldSSLCipher
	FieldSSLProtocol
	FieldTargetGroupARN
	FieldTraceID
	FieldDomainName
	FieldChosenCertARN
	FieldMatchedRulePriority
	FieldRequestCreationTime
	FieldActionsExecuted
	FieldRedirectURL
	FieldErrorReason
	FieldTargetPortList
	FieldTargetStatusCodeList
	FieldClassification
	FieldClassificationReason
	FieldConnTraceID
	FieldTransformedHost
	FieldTransformedURI
	FieldRequestTransformStatus
	// FieldNodeIP is an undocumented unquoted IP address seen since 2026,
	// apparently the load balancer node's.
	FieldNodeIP
	// NumFields is how many fields kakeibo knows.
	NumFields
)

// MinFields is the fewest fields an entry may have: the 2018 format.
const MinFields = 25

// Entry is one parsed log line. Its fields point into the line it was parsed
// from (quotes stripped, escapes kept): copy what must outlive the line.
type Entry struct {
	// line and the [start, end) of each field in it: offsets, not slices,
	// so that parsing writes no pointers (a pointer written to the heap
	// costs a write barrier while the garbage collector runs).
	line  []byte
	spans [NumFields][2]int32
	n     int
	// Extra counts fields past the known ones, which are ignored.
	Extra int

	unixMicros   int64
	elbStatus    int
	targetStatus int
	timings      [3]Timing
}

// Field returns a field's raw bytes, or nil when the entry is too old to have it.
func (e *Entry) Field(f Field) []byte {
	return e.field(f)
}

// field returns field f, or nil when the entry does not have it.
func (e *Entry) field(f Field) []byte {
	if int(f) >= e.n {
		return nil
	}
	sp := e.spans[f]
	return e.line[sp[0]:sp[1]:sp[1]]
}

// NumFields is how many known fields the entry has (25 to 34).
func (e *Entry) NumFields() int { return e.n }

// Type is the entry type: http, https, h2, grpcs, ws or wss (others are kept as written).
func (e *Entry) Type() []byte { return e.field(FieldType) }

// UnixMicro is the entry's time (when the response was sent; for WebSockets
// when the connection closed) in microseconds since the Unix epoch.
func (e *Entry) UnixMicro() int64 { return e.unixMicros }

// Minute is the UTC minute of the entry's time, in minutes since the epoch.
func (e *Entry) Minute() int64 { return floorDiv(e.unixMicros, 60e6) }

// ELB is the load balancer, e.g. app/my-loadbalancer/50dc6c495c0c9188.
func (e *Entry) ELB() []byte { return e.field(FieldELB) }

// ELBStatusCode is the status the load balancer sent, or NoStatus for "-".
func (e *Entry) ELBStatusCode() int { return e.elbStatus }

// TargetStatusCode is the status the target sent, or NoStatus for "-"
// (the target did not answer: ALB-generated 502/503/504/460, redirects, WAF).
func (e *Entry) TargetStatusCode() int { return e.targetStatus }

// RequestProcessingTime, TargetProcessingTime and ResponseProcessingTime are
// the three timings of the entry.
func (e *Entry) RequestProcessingTime() Timing  { return e.timings[0] }
func (e *Entry) TargetProcessingTime() Timing   { return e.timings[1] }
func (e *Entry) ResponseProcessingTime() Timing { return e.timings[2] }

// Client splits client:port at the last colon: ALB writes IPv6 addresses
// without brackets, so net.SplitHostPort would fail.
func (e *Entry) Client() (ip, port []byte) { return splitHostPort(e.field(FieldClient)) }

// Target splits target:port like Client; both are nil for "-".
func (e *Entry) Target() (ip, port []byte) { return splitHostPort(e.field(FieldTarget)) }

// UserAgent is the raw user agent (escapes kept).
func (e *Entry) UserAgent() []byte { return e.field(FieldUserAgent) }

// Request splits the request line.
func (e *Entry) Request() Request { return splitRequest(e.field(FieldRequest)) }

// NoStatus stands for a status code logged as "-".
const NoStatus = 0

// StatusClientClosed is the elb_status_code ALB logs when the client closed
// the connection before the load balancer could respond (460).
const StatusClientClosed = 460

// Timing is a processing time in microseconds. ALB logs -1 when it could not
// measure (not dispatched, connection closed, timeout): that is NotMeasured,
// never a duration. Absent stands for a field logged as "-".
type Timing int64

const (
	NotMeasured Timing = -1
	Absent      Timing = -2
)

// Measured says whether t is a real duration.
func (t Timing) Measured() bool { return t >= 0 }

// Request is a request line split into parts; a part is "-" or empty when
// the line was malformed ("- - - ", "- http://host:80- -").
type Request struct {
	Method, URL, Version []byte
	Scheme, Host, Port   []byte
	Path, Query          []byte
}

func splitRequest(b []byte) Request {
	var r Request
	b = bytes.TrimRight(b, " ") // a stray space before the closing quote happens
	sp := bytes.IndexByte(b, ' ')
	if sp < 0 {
		r.Method = b
		return r
	}
	r.Method, b = b[:sp], b[sp+1:]
	if sp := bytes.LastIndexByte(b, ' '); sp >= 0 {
		r.URL, r.Version = b[:sp], b[sp+1:]
	} else {
		r.URL = b
	}
	u := r.URL
	i := bytes.Index(u, []byte("://"))
	if i < 0 {
		r.Path = u
		return r
	}
	r.Scheme, u = u[:i], u[i+3:]
	end := len(u) // the host and port end at the path or the query
	for k, c := range u {
		if c == '/' || c == '?' {
			end = k
			break
		}
	}
	hostport := u[:end]
	u = u[end:]
	if c := bytes.LastIndexByte(hostport, ':'); c >= 0 && bytes.IndexByte(hostport, ']') < c {
		r.Host, r.Port = hostport[:c], hostport[c+1:]
	} else {
		r.Host = hostport
	}
	if q := bytes.IndexByte(u, '?'); q >= 0 {
		r.Path, r.Query = u[:q], u[q+1:]
	} else {
		r.Path = u
	}
	return r
}

func splitHostPort(b []byte) (host, port []byte) {
	if len(b) == 0 || (len(b) == 1 && b[0] == '-') {
		return nil, nil
	}
	i := bytes.LastIndexByte(b, ':')
	if i < 0 {
		return b, nil
	}
	return b[:i], b[i+1:]
}

// Unescape decodes ALB's \xHH escapes (\x22 for ", \x5C for \) in a quoted
// field, appending to dst.
func Unescape(dst, b []byte) []byte {
	for i := 0; i < len(b); i++ {
		if b[i] == '\\' && i+3 < len(b) && b[i+1] == 'x' {
			if h, ok := unhex(b[i+2]); ok {
				if l, ok := unhex(b[i+3]); ok {
					dst = append(dst, h<<4|l)
					i += 3
					continue
				}
			}
		}
		dst = append(dst, b[i])
	}
	return dst
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}
