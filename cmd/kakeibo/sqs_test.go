package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/stretchr/testify/require"

	"github.com/kakeibo-slo/kakeibo/slo"
	"github.com/kakeibo-slo/kakeibo/sources/alb/sqsfake"
)

// TestServeWithSQSNotifications runs serve as deployed with
// --sqs-queue-url: it lists the bucket once for the history, then reads
// new objects from the S3 event notifications in the queue with no LIST,
// deletes every message once its objects are counted, and ends with the
// counts `kakeibo report` gives on the same logs.
func TestServeWithSQSNotifications(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	t.Parallel()
	var lists atomic.Int64
	fake := gofakes3.New(s3mem.New()).Server()
	s3srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && r.URL.Query().Has("list-type") {
			lists.Add(1)
		}
		fake.ServeHTTP(w, r)
	}))
	defer s3srv.Close()
	queue := sqsfake.Start()
	defer queue.Close()

	dir := t.TempDir()
	logs := filepath.Join(dir, "logs")
	writeLogs(t, logs, recentStart(), 2*time.Hour, 0.01)
	var files []string
	require.NoError(t, filepath.Walk(logs, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			files = append(files, p)
		}
		return err
	}))
	slices.Sort(files)
	require.Greater(t, len(files), 20)
	up := s3.New(s3.Options{Region: "ap-northeast-1", BaseEndpoint: aws.String(s3srv.URL), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider("AKIAEXAMPLE", "secret-for-tests", "")})
	_, err := up.CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: aws.String("alb-logs")})
	require.NoError(t, err)
	upload := func(paths []string, announce bool) {
		for _, p := range paths {
			rel, err := filepath.Rel(logs, p)
			require.NoError(t, err)
			data, err := os.ReadFile(p)
			require.NoError(t, err)
			key := "prod/" + filepath.ToSlash(rel)
			res, err := up.PutObject(t.Context(), &s3.PutObjectInput{Bucket: aws.String("alb-logs"), Key: aws.String(key), Body: bytes.NewReader(data)})
			require.NoError(t, err)
			if announce {
				queue.Send(fmt.Sprintf(`{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":"ap-northeast-1","eventName":"ObjectCreated:Put","s3":{"s3SchemaVersion":"1.0","bucket":{"name":"alb-logs","arn":"arn:aws:s3:::alb-logs"},"object":{"key":%q,"size":%d,"eTag":%q}}}]}`,
					key, len(data), aws.ToString(res.ETag)))
			}
		}
	}
	history, fresh := files[:len(files)/2], files[len(files)/2:]
	upload(history, false)

	specs := filepath.Join(dir, "specs")
	require.NoError(t, os.MkdirAll(specs, 0o755))
	spec, err := os.ReadFile("../../testdata/specs/mart-api.yaml")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(specs, "mart-api.yaml"), spec, 0o644))

	p := startServeEnv(t, []string{
		"AWS_ACCESS_KEY_ID=AKIAEXAMPLE", "AWS_SECRET_ACCESS_KEY=secret-for-tests", "AWS_REGION=ap-northeast-1",
		"AWS_EC2_METADATA_DISABLED=true", "AWS_CONFIG_FILE=" + filepath.Join(dir, "none"), "AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(dir, "none"),
		"AWS_ENDPOINT_URL_SQS=" + queue.Endpoint,
	}, "--specs", specs, "--data-dir", filepath.Join(dir, "data"),
		"--alb-logs", "s3://alb-logs/prod", "--s3-endpoint", s3srv.URL, "--s3-path-style", "--sqs-queue-url", queue.URL)
	p.waitFor(t, 60*time.Second, func() bool { return get(t, p.base+"/readyz") == "ready\n" }, "ready")
	listed := lists.Load()
	require.Positive(t, listed, "the history is listed")
	var before slo.Report
	require.NoError(t, json.Unmarshal([]byte(get(t, p.base+"/api/v1/slos")), &before))

	upload(fresh, true)

	// What report says on every log, counted from the directory.
	out, err := exec.Command(mustBin(t), "report", "--specs", specs, "--alb-logs", logs, "--format", "json", "--progress", "never").Output()
	require.NoError(t, err)
	var want slo.Report
	require.NoError(t, json.Unmarshal(out, &want))
	counts := func(r slo.Report) map[string][2]float64 {
		m := map[string][2]float64{}
		for _, s := range r.SLOs {
			m[s.Service+"/"+s.SLO] = [2]float64{s.Good, s.Total}
		}
		return m
	}
	require.Len(t, counts(want), 3)
	require.NotEqual(t, fmt.Sprint(counts(want)), fmt.Sprint(counts(before)), "the history alone counts less")
	var got slo.Report
	p.waitFor(t, 60*time.Second, func() bool {
		got = slo.Report{}
		return json.Unmarshal([]byte(get(t, p.base+"/api/v1/slos")), &got) == nil && fmt.Sprint(counts(got)) == fmt.Sprint(counts(want))
	}, "serve's counts equal report's on the same logs")
	p.waitFor(t, 30*time.Second, func() bool { return queue.Left() == 0 }, "every message deleted")
	require.Equal(t, listed, lists.Load(), "no LIST after the history")
	m := get(t, p.base+"/metrics")
	received, _ := metric(m, "kakeibo_alb_sqs_messages_received_total")
	deleted, _ := metric(m, "kakeibo_alb_sqs_messages_deleted_total")
	require.Equal(t, float64(len(fresh)), received)
	require.Equal(t, float64(len(fresh)), deleted)
	p.stop(t)
	require.NotContains(t, p.out.String(), `"level":"ERROR"`)
}

func mustBin(t *testing.T) string {
	t.Helper()
	bin, err := buildOnce()
	require.NoError(t, err)
	return bin
}
