package alb

import (
	"bufio"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// sampleLines reads testdata/samples.log (a copy of the shared reference
// samples: AWS documentation examples and constructed edge cases).
func sampleLines(t testing.TB) []string {
	f, err := os.Open("testdata/samples.log")
	require.NoError(t, err)
	defer f.Close()
	var lines []string
	s := bufio.NewScanner(f)
	s.Buffer(make([]byte, 64<<10), 1<<20)
	for s.Scan() {
		if l := s.Text(); l != "" && !strings.HasPrefix(l, "#") {
			lines = append(lines, l)
		}
	}
	require.NoError(t, s.Err())
	return lines
}

func TestParseSamples(t *testing.T) {
	type want struct {
		typ, elb                 string
		time                     string
		fields, extra            int
		elbStatus, targetStatus  int
		reqT, targetT, respT     Timing
		method, host, port, path string
		query, version           string
		clientIP, clientPort     string
		targetIP, targetPort     string
		userAgent                string
		field29                  string // conn_trace_id, when present
	}
	webProd := "app/web-prod/9cd2662c6b66898b"
	myLB := "app/my-loadbalancer/50dc6c495c0c9188"
	cases := []want{
		{typ: "http", elb: myLB, time: "2018-07-02T22:23:00.186641Z", fields: 29, elbStatus: 200, targetStatus: 200, reqT: 0, targetT: 1000, respT: 0,
			method: "GET", host: "www.example.com", port: "80", path: "/", version: "HTTP/1.1", clientIP: "192.168.131.39", clientPort: "2817", targetIP: "10.0.0.1", targetPort: "80", userAgent: "curl/7.46.0"},
		{typ: "https", elb: myLB, fields: 29, elbStatus: 200, targetStatus: 200, reqT: 86000, targetT: 48000, respT: 37000, method: "GET", host: "www.example.com", port: "443", path: "/"},
		{typ: "h2", elb: myLB, fields: 29, elbStatus: 200, targetStatus: 200, targetT: 2000, method: "GET", host: "10.0.2.105", port: "773", path: "/", version: "HTTP/2.0"},
		{typ: "ws", elb: myLB, fields: 29, elbStatus: 101, targetStatus: 101, reqT: 1000, targetT: 3000, host: "10.0.0.30", path: "/"},
		{typ: "wss", elb: myLB, fields: 29, elbStatus: 101, targetStatus: 101, targetT: 1000, host: "10.0.0.30", port: "443"},
		{typ: "http", elb: myLB, time: "2018-11-30T22:23:00.186641Z", fields: 29, elbStatus: 200, targetStatus: 200, targetT: 1000, targetIP: "-"},
		{typ: "http", elb: myLB, fields: 29, elbStatus: 502, targetStatus: NoStatus, targetT: 1000, targetIP: "-"},
		{typ: "http", elb: myLB, fields: 30, elbStatus: 200, targetStatus: 200, targetT: 1000, field29: "TID_1234abcd5678ef90"},
		{typ: "http", elb: myLB, fields: 33, elbStatus: 200, targetStatus: 200, targetT: 1000, field29: "TID_1234abcd5678ef90"},
		{typ: "h2", elb: webProd, time: "2026-07-09T23:00:00.412907Z", fields: 34, elbStatus: 200, targetStatus: 200, reqT: 1000, targetT: 10000, method: "GET", host: "www.example.com", port: "443", path: "/recipes/123", query: "from=top", version: "HTTP/2.0"},
		{typ: "https", elb: webProd, fields: 33, elbStatus: 504, targetStatus: NoStatus, reqT: NotMeasured, targetT: NotMeasured, respT: NotMeasured, path: "/reports/monthly"},
		{typ: "https", elb: webProd, fields: 33, elbStatus: 502, targetStatus: NoStatus, reqT: NotMeasured, targetT: NotMeasured, respT: NotMeasured, method: "POST", path: "/api/orders"},
		{typ: "https", elb: webProd, fields: 33, elbStatus: 503, targetStatus: NoStatus, reqT: NotMeasured, targetT: NotMeasured, respT: NotMeasured, targetIP: "-"},
		{typ: "h2", elb: webProd, fields: 33, elbStatus: 460, targetStatus: NoStatus, reqT: NotMeasured, targetT: NotMeasured, respT: NotMeasured, method: "POST", path: "/api/upload"},
		{typ: "https", elb: webProd, fields: 33, elbStatus: 500, targetStatus: 500, targetT: 153000, path: "/api/recipes", query: "page=2"},
		{typ: "https", elb: webProd, fields: 33, elbStatus: 503, targetStatus: 503, targetT: 4000, path: "/api/cart"},
		{typ: "https", elb: webProd, fields: 33, elbStatus: 403, targetStatus: NoStatus, reqT: NotMeasured, targetT: NotMeasured, respT: NotMeasured, path: "/wp-login.php"},
		{typ: "http", elb: webProd, fields: 33, elbStatus: 301, targetStatus: NoStatus, reqT: NotMeasured, targetT: NotMeasured, respT: NotMeasured, path: "/login", query: "next=%2Fhome"},
		// "- http://www.example.com:80- -": method "-", port "80-", version "-".
		{typ: "http", elb: webProd, fields: 33, elbStatus: 400, targetStatus: NoStatus, reqT: NotMeasured, targetT: NotMeasured, respT: NotMeasured,
			method: "-", host: "www.example.com", port: "80-", path: "", version: "-", userAgent: "-"},
		// "- - - " (trailing space inside the quotes).
		{typ: "https", elb: webProd, fields: 33, elbStatus: 400, targetStatus: NoStatus, reqT: NotMeasured, targetT: NotMeasured, respT: NotMeasured,
			method: "-", host: "", path: "-", version: "-"},
		// "GET http://...:80/ HTTP/1.0 " (stray space before the closing quote).
		{typ: "http", elb: webProd, fields: 33, elbStatus: 404, targetStatus: 404, reqT: 1000, targetT: 7000,
			method: "GET", host: "web-prod-1234567890.ap-northeast-1.elb.amazonaws.com", port: "80", path: "/", version: "HTTP/1.0"},
		// IPv6 without brackets: split at the last colon.
		{typ: "h2", elb: webProd, fields: 33, elbStatus: 401, targetStatus: 401, targetT: 3000, host: "api.example.com", path: "/v1/alerts/me",
			clientIP: "2001:db8:4538:1:bcf4:5264:e01c:f215", clientPort: "50718", targetIP: "2001:db8:10::2a", targetPort: "8080"},
		// Escapes stay escaped in the raw fields.
		{typ: "https", elb: webProd, fields: 33, elbStatus: 200, targetStatus: 200, targetT: 21000, path: "/search", query: `q=\x22tofu\x22&lang=ja`,
			userAgent: `Mozilla/5.0 (compatible; \x22QuoteBot\x22/1.0; +https://bot.example/) UpstreamClient(Apache-HttpClient/5.0.3 \x5C(Java/21.0.4\x5C)) \xE6\x97\xA5`},
		{typ: "grpcs", elb: webProd, fields: 33, elbStatus: 200, targetStatus: 200, targetT: 12000, method: "POST", host: "grpc.example.com", path: "/helloworld.Greeter/SayHello"},
		{typ: "http", elb: webProd, fields: 33, elbStatus: 200, targetStatus: 200, targetT: 2000, path: "/healthz",
			userAgent: "Amazon-Route53-Health-Check-Service (ref 8c6a3f2e-1b4d-4c1e-9a7b-0d2f5e6a7b8c; report http://amzn.to/1vsZADi)"},
		{typ: "wss", elb: webProd, time: "2026-03-14T05:30:12.000101Z", fields: 33, elbStatus: 101, targetStatus: 101, targetT: 4000, host: "ws.example.com", path: "/cable"},
		// The 2020 27-field shape.
		{typ: "https", elb: "app/legacy-alb/278a3c7472bb5054", fields: 27, elbStatus: 200, targetStatus: 200, reqT: 2000, targetT: 217000, method: "HEAD", path: "/packages"},
		{typ: "h2", elb: webProd, fields: 33, elbStatus: 200, targetStatus: 200, targetT: 177000},
		{typ: "https", elb: webProd, fields: 33, elbStatus: 201, targetStatus: 201, targetT: 12345000, respT: 1000, method: "POST", path: "/api/photos"},
		{typ: "https", elb: webProd, fields: 33, elbStatus: 200, targetStatus: 200, targetT: 8000, host: "m.example.com", path: "/v1/items", query: "id=7"},
	}
	lines := sampleLines(t)
	require.Len(t, lines, len(cases))
	for i, line := range lines {
		w := cases[i]
		var e Entry
		require.NoError(t, Parse([]byte(line), &e), "sample %d", i+1)
		require.Equal(t, w.typ, string(e.Type()), "sample %d", i+1)
		require.Equal(t, w.elb, string(e.ELB()), "sample %d", i+1)
		require.Equal(t, w.fields, e.NumFields(), "sample %d", i+1)
		if w.fields == 34 {
			require.Equal(t, "203.0.113.17", string(e.Field(FieldNodeIP)))
		}
		require.Equal(t, w.extra, e.Extra)
		require.Equal(t, w.elbStatus, e.ELBStatusCode(), "sample %d", i+1)
		require.Equal(t, w.targetStatus, e.TargetStatusCode(), "sample %d", i+1)
		require.Equal(t, w.reqT, e.RequestProcessingTime(), "sample %d", i+1)
		require.Equal(t, w.targetT, e.TargetProcessingTime(), "sample %d", i+1)
		require.Equal(t, w.respT, e.ResponseProcessingTime(), "sample %d", i+1)
		if w.time != "" {
			want, err := time.Parse(time.RFC3339Nano, w.time)
			require.NoError(t, err)
			require.Equal(t, want.UnixMicro(), e.UnixMicro(), "sample %d", i+1)
			require.Equal(t, want.Unix()/60, e.Minute())
		}
		r := e.Request()
		check := func(name, want string, got []byte) {
			if want != "" {
				require.Equal(t, want, string(got), "sample %d %s", i+1, name)
			}
		}
		check("method", w.method, r.Method)
		check("host", w.host, r.Host)
		check("port", w.port, r.Port)
		check("path", w.path, r.Path)
		check("query", w.query, r.Query)
		check("version", w.version, r.Version)
		check("user agent", w.userAgent, e.UserAgent())
		check("conn_trace_id", w.field29, e.Field(FieldConnTraceID))
		ip, port := e.Client()
		check("client ip", w.clientIP, ip)
		check("client port", w.clientPort, port)
		if w.targetIP == "-" {
			ip, _ := e.Target()
			require.Nil(t, ip, "sample %d: target -", i+1)
		} else {
			ip, port = e.Target()
			check("target ip", w.targetIP, ip)
			check("target port", w.targetPort, port)
		}
		if w.fields < 30 {
			require.Nil(t, e.Field(FieldConnTraceID), "sample %d: an old entry has no conn_trace_id", i+1)
		}
	}
}

func TestParseUnknownTrailingFields(t *testing.T) {
	lines := sampleLines(t)
	line := lines[9] + ` "new-field" another 42`
	var e Entry
	require.NoError(t, Parse([]byte(line), &e))
	require.Equal(t, 34, e.NumFields())
	require.Equal(t, 3, e.Extra)
	require.Equal(t, "203.0.113.17", string(e.Field(FieldNodeIP)))
}

func TestParseMalformed(t *testing.T) {
	good := sampleLines(t)[0]
	fields := strings.Split(good, " ")
	replace := func(i int, v string) string {
		f := append([]string(nil), fields...)
		f[i] = v
		return strings.Join(f, " ")
	}
	for _, tc := range []struct {
		name string
		line string
		want *ParseError
	}{
		{"empty", "", ErrTooFewFields},
		{"truncated", good[:120], ErrTooFewFields},
		{"unterminated quote", good[:strings.Index(good, `"curl`)+3], ErrUnterminatedQuote},
		{"garbage after a quote", strings.Replace(good, `"curl/7.46.0"`, `"curl/7.46.0"x`, 1), ErrBadQuoting},
		{"bad time", replace(1, "2018-07-02 22:23:00"), ErrBadTime},
		{"month 13", replace(1, "2018-13-02T22:23:00.186641Z"), ErrBadTime},
		{"February 30", replace(1, "2018-02-30T22:23:00.186641Z"), ErrBadTime},
		{"no Z", replace(1, "2018-07-02T22:23:00.186641"), ErrBadTime},
		{"bad status", replace(8, "2x0"), ErrBadStatus},
		{"bad target status", replace(9, "20"), ErrBadStatus},
		{"bad timing", replace(6, "0.0.1"), ErrBadTiming},
		{"negative timing other than -1", replace(6, "-0.5"), ErrBadTiming},
		{"not a log line", "hello world", ErrTooFewFields},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var e Entry
			require.Equal(t, tc.want, Parse([]byte(tc.line), &e))
		})
	}
}

func TestParseTimeWithoutFraction(t *testing.T) {
	us, ok := parseTime([]byte("2026-03-14T03:12:45Z"))
	require.True(t, ok)
	require.Equal(t, time.Date(2026, 3, 14, 3, 12, 45, 0, time.UTC).UnixMicro(), us)
	us, ok = parseTime([]byte("1969-12-31T23:59:00.5Z"))
	require.True(t, ok)
	require.Equal(t, int64(-59_500_000), us)
}

func TestUnescape(t *testing.T) {
	require.Equal(t, `q="tofu" \ 日`, string(Unescape(nil, []byte(`q=\x22tofu\x22 \x5C \xE6\x97\xA5`))))
	require.Equal(t, `\x2`, string(Unescape(nil, []byte(`\x2`))))
	require.Equal(t, `\xZZ`, string(Unescape(nil, []byte(`\xZZ`))))
}

func TestParseDoesNotAllocate(t *testing.T) {
	line := []byte(sampleLines(t)[9])
	var e Entry
	allocs := testing.AllocsPerRun(100, func() {
		if err := Parse(line, &e); err != nil {
			t.Fatal(err)
		}
		_ = e.Request()
	})
	require.Zero(t, allocs)
}

func BenchmarkParse(b *testing.B) {
	lines := sampleLines(b)
	var total int64
	for _, l := range lines {
		total += int64(len(l))
	}
	bl := make([][]byte, len(lines))
	for i, l := range lines {
		bl[i] = []byte(l)
	}
	b.SetBytes(total)
	b.ReportAllocs()
	var e Entry
	for b.Loop() {
		for _, l := range bl {
			_ = Parse(l, &e)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, l := range sampleLines(f) {
		f.Add([]byte(l))
	}
	f.Add([]byte(`http 2018-07-02T22:23:00Z a "`))
	f.Fuzz(func(t *testing.T, line []byte) {
		var e Entry
		err := Parse(line, &e)
		if err != nil {
			if _, ok := err.(*ParseError); !ok {
				t.Fatalf("error of type %T", err)
			}
			return
		}
		if e.NumFields() < MinFields || e.NumFields() > int(NumFields) {
			t.Fatalf("%d fields", e.NumFields())
		}
		r := e.Request()
		_ = Unescape(nil, r.Path)
		e.Client()
		e.Target()
		if t := e.TargetProcessingTime(); t < Absent {
			panic("timing below Absent")
		}
	})
}

// TestQuoteEndShortFields: the closing quote of empty and one-character
// quoted fields (found without a search) and of escaped ones.
func TestQuoteEndShortFields(t *testing.T) {
	for _, tc := range []struct {
		field string // from the opening quote
		end   int    // index of the closing quote in field, -1: none
	}{
		{`""`, 1},
		{`"" x`, 1},
		{`"-"`, 2},
		{`"-" "x"`, 2},
		{`"\""`, 3},
		{`"\"`, -1},
		{`"\\"`, 3},
		{`"\\\""`, 5},
		{`"ab"`, 3},
		{`"a\"b" c`, 5},
		{`"`, -1},
		{`"a`, -1},
	} {
		line := []byte("x " + tc.field)
		want := tc.end
		if want >= 0 {
			want += 2
		}
		require.Equal(t, want, quoteEnd(line, 3), "%s", tc.field)
	}
}
