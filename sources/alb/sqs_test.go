package alb_test

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/stretchr/testify/require"

	"github.com/kakeibo-slo/kakeibo/slo"
	"github.com/kakeibo-slo/kakeibo/sources/alb"
	"github.com/kakeibo-slo/kakeibo/sources/alb/albgen"
	"github.com/kakeibo-slo/kakeibo/sources/alb/sqsfake"
)

// s3Event is an S3 event notification for one created object, as AWS
// documents it ("Event message structure", Amazon S3 User Guide): the key
// URL-encoded (here with its slashes kept, as S3 writes them, or encoded).
func s3Event(bucket, key string, size int64, etag string, encodeSlashes bool) string {
	enc := strings.NewReplacer(" ", "+", "=", "%3D").Replace(key)
	if encodeSlashes {
		enc = strings.ReplaceAll(enc, "/", "%2F")
	}
	return fmt.Sprintf(`{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":"ap-northeast-1","eventTime":"2026-10-02T00:00:01.000Z","eventName":"ObjectCreated:Put","userIdentity":{"principalId":"AWS:AIDAEXAMPLE"},"requestParameters":{"sourceIPAddress":"10.0.0.1"},"responseElements":{"x-amz-request-id":"R","x-amz-id-2":"I"},"s3":{"s3SchemaVersion":"1.0","configurationId":"alb-logs","bucket":{"name":%q,"ownerIdentity":{"principalId":"A"},"arn":"arn:aws:s3:::%s"},"object":{"key":%q,"size":%d,"eTag":%q,"sequencer":"0055AED6DCD90281E5"}}}]}`,
		bucket, bucket, enc, size, etag)
}

// snsWrapped is a notification that went through SNS to the queue.
func snsWrapped(event string) string {
	msg, _ := jsonString(event)
	return fmt.Sprintf(`{"Type":"Notification","MessageId":"n-1","TopicArn":"arn:aws:sns:ap-northeast-1:123456789012:alb-logs","Subject":"Amazon S3 Notification","Message":%s,"Timestamp":"2026-10-02T00:00:01.000Z","SignatureVersion":"1"}`, msg)
}

func jsonString(s string) (string, error) {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"', '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String(), nil
}

// TestSQSSource: after the first pass lists the bucket for the history,
// new objects come only from the queue's S3 event notifications: no LIST,
// every object counted once (duplicated and redelivered messages too), a
// message deleted only once its objects are in the ledger, one naming an
// object that cannot be read left in the queue, and messages naming
// nothing kakeibo reads (S3's test event, another bucket, a file that is
// not an access log) deleted. A process that stops between counting and
// deleting counts nothing twice when the messages come back.
func TestSQSSource(t *testing.T) {
	t.Parallel()
	var lists atomic.Int64
	var slow sync.Map // keys whose GET takes a while: still being read when their message comes
	fake := gofakes3.New(s3mem.New()).Server()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && r.URL.Query().Has("list-type") {
			lists.Add(1)
		}
		if _, ok := slow.Load(strings.TrimPrefix(r.URL.Path, "/alb-logs/")); ok && r.Method == http.MethodGet {
			time.Sleep(1500 * time.Millisecond)
		}
		fake.ServeHTTP(w, r)
	}))
	defer srv.Close()
	queue := sqsfake.Start()
	defer queue.Close()

	start := time.Date(2026, 10, 1, 22, 0, 0, 0, time.UTC)
	cfg := genConfig(start, 4*time.Hour)
	dir := t.TempDir()
	_, err := albgen.Write(cfg, dir)
	require.NoError(t, err)
	var files []string
	require.NoError(t, filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			files = append(files, p)
		}
		return err
	}))
	slices.Sort(files) // by day folder, then by key: by time per load balancer
	require.Greater(t, len(files), 60)

	creds := credentials.NewStaticCredentialsProvider("AKIAEXAMPLE", "secret-for-tests", "")
	up := s3.New(s3.Options{Region: "ap-northeast-1", BaseEndpoint: aws.String(srv.URL), UsePathStyle: true, Credentials: creds})
	_, err = up.CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: aws.String("alb-logs")})
	require.NoError(t, err)
	type put struct {
		key, etag string
		size      int64
	}
	upload := func(paths []string) []put {
		var out []put
		for _, p := range paths {
			rel, err := filepath.Rel(dir, p)
			require.NoError(t, err)
			data, err := os.ReadFile(p)
			require.NoError(t, err)
			key := "prod/" + filepath.ToSlash(rel)
			res, err := up.PutObject(t.Context(), &s3.PutObjectInput{Bucket: aws.String("alb-logs"), Key: aws.String(key), Body: bytes.NewReader(data)})
			require.NoError(t, err)
			out = append(out, put{key: key, etag: aws.ToString(res.ETag), size: int64(len(data))})
		}
		return out
	}
	history, fresh := files[:len(files)/2], files[len(files)/2:]
	historyPuts := upload(history)

	set, err := slo.LoadBytes("specs.yaml", []byte(testSpecs))
	require.NoError(t, err)
	cls := alb.NewClassifier(set.Objectives())
	store := alb.NewMemStore()
	// read is how many of the files are of load balancers the SLOs read
	// (the others are not even opened).
	isRead := func(p string) bool {
		return slices.Contains(cls.LoadBalancers(), alb.ParseKey(filepath.Base(p)).LoadBalancer)
	}
	read := func(paths []string) int {
		n := 0
		for _, p := range paths {
			if isRead(p) {
				n++
			}
		}
		require.Positive(t, n)
		return n
	}
	// want is what the files count, read from a directory of their own.
	want := func(paths []string) map[alb.BucketKey]alb.Count {
		d := t.TempDir()
		for _, p := range paths {
			rel, err := filepath.Rel(dir, p)
			require.NoError(t, err)
			data, err := os.ReadFile(p)
			require.NoError(t, err)
			require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(d, rel)), 0o755))
			require.NoError(t, os.WriteFile(filepath.Join(d, rel), data, 0o644))
		}
		s := alb.NewMemStore()
		ing, err := alb.NewIngester(alb.IngestConfig{Source: &alb.DirSource{Root: d}, Store: s, Classifier: cls})
		require.NoError(t, err)
		_, err = ing.Ingest(t.Context(), start, start.Add(cfg.Duration))
		require.NoError(t, err)
		return storeBuckets(t, s, cls.IDs, start.Add(-48*time.Hour), start.Add(48*time.Hour))
	}
	// The last three files read are announced after the others (below).
	var late []string
	for i := len(fresh) - 1; i >= 0 && len(late) < 3; i-- {
		if isRead(fresh[i]) {
			late = append(late, fresh[i])
			fresh = slices.Delete(fresh, i, i+1)
		}
	}
	sqsClient := sqs.New(sqs.Options{Region: "ap-northeast-1", BaseEndpoint: aws.String(queue.Endpoint), Credentials: creds})
	newSource := func() *alb.SQSSource {
		s3src, err := alb.NewS3Source(t.Context(), "s3://alb-logs/prod", alb.S3Config{Client: up})
		require.NoError(t, err)
		src, err := alb.NewSQSSource(t.Context(), s3src, queue.URL, "", sqsClient, nil)
		require.NoError(t, err)
		src.LoadBalancers = cls.LoadBalancers() // as serve sets it
		return src
	}
	src := newSource()
	ingest := func(src *alb.SQSSource) alb.Stats {
		t.Helper()
		ing, err := alb.NewIngester(alb.IngestConfig{Source: src, Store: store, Classifier: cls})
		require.NoError(t, err)
		st, err := ing.Ingest(t.Context(), start, start.Add(cfg.Duration))
		require.NoError(t, err)
		return st
	}

	logFile := func(key string) bool { return alb.IsAccessLog(key) && alb.InLayout(key) && isRead(key) }
	nothingToRead := 3 // the test event, another bucket, not an access log: below
	// Objects that came before the first pass are both listed and in the
	// queue: read once.
	for _, p := range historyPuts[:8] {
		slow.Store(p.key, true)
		queue.Send(s3Event("alb-logs", p.key, p.size, p.etag, false))
		if !logFile(p.key) {
			nothingToRead++
		}
	}

	// First pass: the history, listed, and the queue's first messages.
	st := ingest(src)
	require.Equal(t, read(history), int(st.Objects))
	require.Positive(t, lists.Load())
	require.Equal(t, want(history), storeBuckets(t, store, cls.IDs, start.Add(-48*time.Hour), start.Add(48*time.Hour)), "objects both listed and announced counted once")

	// New objects, announced in every shape a queue delivers.
	lists.Store(0)
	puts := upload(fresh)
	for i, p := range puts {
		event := s3Event("alb-logs", p.key, p.size, p.etag, i%5 == 1)
		switch i % 4 {
		case 0:
			queue.Send(event)
		case 1:
			queue.Send(snsWrapped(event))
		case 2:
			queue.SendDuplicate(event)
			if !logFile(p.key) {
				nothingToRead++
			}
		case 3:
			// Two records in one message: this object and the one before,
			// which has a message of its own too.
			prev := puts[i-1]
			other := s3Event("alb-logs", prev.key, prev.size, prev.etag, false)
			queue.Send(strings.TrimSuffix(event, "]}") + "," + strings.TrimPrefix(other, `{"Records":[`))
			if logFile(prev.key) {
				continue
			}
		}
		if !logFile(p.key) {
			nothingToRead++ // a connection log, a Network Load Balancer's, a load balancer no SLO reads
		}
	}
	queue.Send(`{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2026-10-02T00:00:00.000Z","Bucket":"alb-logs","RequestId":"R","HostId":"H"}`)
	queue.Send(s3Event("other-bucket", "prod/AWSLogs/123456789012/elasticloadbalancing/ap-northeast-1/2026/10/01/x.log.gz", 10, `"e"`, false))
	queue.Send(s3Event("alb-logs", "prod/AWSLogs/123456789012/ELBAccessLogTestFile", 10, `"e"`, false))
	missing := "prod/AWSLogs/123456789012/elasticloadbalancing/ap-northeast-1/2026/10/02/123456789012_elasticloadbalancing_ap-northeast-1_app.mart-api.50dc6c495c0c9188_20261002T0100Z_10.0.0.9_gone.log.gz"
	queue.Send(s3Event("alb-logs", missing, 100, `"e"`, false))

	st = ingest(src)
	require.Equal(t, read(fresh), int(st.Objects), "each new object read once")
	require.Equal(t, 1, int(st.Failed), "the object that is not there")
	require.Zero(t, lists.Load(), "no LIST once the history is read")

	// The next pass deletes what is in the ledger: the message of the
	// missing object stays.
	st = ingest(src)
	require.Zero(t, st.Objects)
	require.Zero(t, lists.Load())
	require.Equal(t, 1, queue.Left(), "only the unreadable object's message is left")
	received, deleted, ignored := src.Stats()
	require.Equal(t, nothingToRead, int(ignored), "test event, other bucket, nothing the SLOs read")
	require.Equal(t, received-1, deleted)

	// A process that counted objects and stopped before deleting their
	// messages: the messages come back to the next process, which lists
	// the history once more, then finds the objects in the ledger.
	for _, p := range upload(late) {
		queue.Send(s3Event("alb-logs", p.key, p.size, p.etag, false))
	}
	st = ingest(src)
	require.Equal(t, read(late), int(st.Objects))
	queue.Redeliver() // their visibility timeout passes: src is gone
	src = newSource()
	st = ingest(src)
	require.Zero(t, st.Objects, "counted once")
	st = ingest(src)
	require.Zero(t, st.Objects)
	require.Equal(t, 1, queue.Left(), "the late objects' messages deleted; the missing object's still there")

	require.Equal(t, truth(t, cfg, set.Objectives()), storeBuckets(t, store, cls.IDs, start.Add(-48*time.Hour), start.Add(48*time.Hour)), "every entry counted exactly once")
}

// TestS3ReadsWhileListing: GETs begin with the first LIST page of the
// oldest day folder that has objects, while that day's later pages and the
// later day folders are still being listed (one LIST at a time here, 50
// keys a page, each page answered after 100 ms), and the counts are exact.
func TestS3ReadsWhileListing(t *testing.T) {
	t.Parallel()
	type list struct {
		prefix string
		at     time.Time
	}
	var mu sync.Mutex
	var lists []list
	var firstGet time.Time
	fake := gofakes3.New(s3mem.New()).Server()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && r.URL.Query().Has("list-type") {
			mu.Lock()
			lists = append(lists, list{r.URL.Query().Get("prefix"), time.Now()})
			mu.Unlock()
			time.Sleep(100 * time.Millisecond)
		} else if r.Method == http.MethodGet {
			mu.Lock()
			if firstGet.IsZero() {
				firstGet = time.Now()
			}
			mu.Unlock()
		}
		fake.ServeHTTP(w, r)
	}))
	defer srv.Close()

	start := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	cfg := albgen.Example(start, 5)
	cfg.Duration, cfg.Traps, cfg.Incidents = 48*time.Hour, false, nil
	cfg.LoadBalancers = cfg.LoadBalancers[:1] // mart-api, one node: 288 objects a day
	dir := t.TempDir()
	_, err := albgen.Write(cfg, dir)
	require.NoError(t, err)
	client, put := logBucket(t, srv.URL)
	putTree(t, dir, "", put)

	set, err := slo.LoadBytes("specs.yaml", []byte(testSpecs))
	require.NoError(t, err)
	cls := alb.NewClassifier(set.Objectives())
	src, err := alb.NewS3Source(t.Context(), "s3://alb-logs/", alb.S3Config{Client: client})
	require.NoError(t, err)
	src.LoadBalancers, src.ListConcurrency, src.PageSize = cls.LoadBalancers(), 1, 50
	store := alb.NewMemStore()
	ing, err := alb.NewIngester(alb.IngestConfig{Source: src, Store: store, Classifier: cls})
	require.NoError(t, err)
	_, err = ing.Ingest(t.Context(), start, start.Add(cfg.Duration))
	require.NoError(t, err)

	mu.Lock()
	defer mu.Unlock()
	var firstDay []time.Time // the LIST pages of 2026/10/01, mart-api's prefix
	for _, l := range lists {
		if strings.Contains(l.prefix, "2026/10/01/") && strings.Contains(l.prefix, "mart-api") {
			firstDay = append(firstDay, l.at)
		}
	}
	require.GreaterOrEqual(t, len(firstDay), 6, "288 keys, 50 a page")
	require.False(t, firstGet.IsZero())
	require.True(t, firstGet.Before(firstDay[len(firstDay)-1]), "the first GET (%s) before the first day's last page (%s)",
		firstGet.Format("15:04:05.000"), firstDay[len(firstDay)-1].Format("15:04:05.000"))
	require.True(t, firstGet.Before(lists[len(lists)-1].at), "and before the last LIST")
	require.Equal(t, truth(t, cfg, set.Objectives()), storeBuckets(t, store, cls.IDs, start.Add(-48*time.Hour), start.Add(96*time.Hour)))
}
