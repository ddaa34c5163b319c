package alb_test

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/stretchr/testify/require"

	"github.com/kakeibo-slo/kakeibo/slo"
	"github.com/kakeibo-slo/kakeibo/sources/alb"
	"github.com/kakeibo-slo/kakeibo/sources/alb/albgen"
)

// BenchmarkBackfill reads the same objects (BENCH_DAYS days, default 7, of
// one two-node load balancer at BENCH_PER_MINUTE requests a minute, default
// 20) from a local
// directory, the baseline, and from a fake S3 that answers each GET after
// 50 ms, at several read concurrencies. Compare the ns/op of the S3 runs
// with the directory's, measured in the same run:
//
//	go test ./sources/alb -run '^$' -bench BenchmarkBackfill -benchtime 3x
func BenchmarkBackfill(b *testing.B) {
	days, perMinute := 7, 20
	if v := os.Getenv("BENCH_DAYS"); v != "" {
		_, _ = fmt.Sscan(v, &days)
	}
	if v := os.Getenv("BENCH_PER_MINUTE"); v != "" {
		_, _ = fmt.Sscan(v, &perMinute)
	}
	// BENCH_LIST_MS delays every LIST too (default 0): real S3 answers a
	// LIST in tens of milliseconds, which adds up over day folders.
	var listDelay time.Duration
	if v := os.Getenv("BENCH_LIST_MS"); v != "" {
		ms, err := strconv.Atoi(v)
		require.NoError(b, err, "BENCH_LIST_MS")
		listDelay = time.Duration(ms) * time.Millisecond
	}
	start := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	cfg := albgen.Example(start, perMinute)
	cfg.Duration, cfg.Traps, cfg.MalformedEvery, cfg.Incidents = time.Duration(days)*24*time.Hour, false, 0, nil
	cfg.LoadBalancers = cfg.LoadBalancers[1:] // web-prod: two nodes
	dir := b.TempDir()
	_, err := albgen.Write(cfg, dir)
	require.NoError(b, err)

	backend := s3mem.New()
	require.NoError(b, backend.CreateBucket("alb-logs"))
	objects := putTree(b, dir, "", func(key string, data []byte) {
		_, err := backend.PutObject("alb-logs", key, map[string]string{}, bytes.NewReader(data), int64(len(data)), nil)
		require.NoError(b, err)
	})
	fake := gofakes3.New(backend).Server()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && !r.URL.Query().Has("list-type") {
			time.Sleep(50 * time.Millisecond)
		} else if r.URL.Query().Has("list-type") {
			time.Sleep(listDelay)
		}
		fake.ServeHTTP(w, r)
	}))
	defer srv.Close()
	client := s3.New(s3.Options{Region: "ap-northeast-1", BaseEndpoint: aws.String(srv.URL), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider("AKIAEXAMPLE", "secret-for-tests", ""),
		HTTPClient:  &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 512}}})
	set, err := slo.LoadBytes("specs.yaml", []byte(`service: web
slos:
  - {name: availability, objective: 99.9, window: 30d, sli: {alb: {load_balancer: app/web-prod/9cd2662c6b66898b}}}
  - {name: latency, objective: 99, window: 30d, sli: {alb: {load_balancer: app/web-prod/9cd2662c6b66898b, latency: {threshold: 500ms}}}}
`))
	require.NoError(b, err)
	cls := alb.NewClassifier(set.Objectives())
	from, to := start, start.Add(cfg.Duration)
	run := func(b *testing.B, newSource func() alb.Source, workers int) {
		for b.Loop() {
			ing, err := alb.NewIngester(alb.IngestConfig{Source: newSource(), Store: alb.NewMemStore(), Classifier: cls, Workers: workers})
			require.NoError(b, err)
			st, err := ing.Ingest(b.Context(), from, to)
			require.NoError(b, err)
			require.EqualValues(b, objects, st.Objects)
		}
		b.ReportMetric(float64(objects), "objects")
	}
	b.Run("dir", func(b *testing.B) { run(b, func() alb.Source { return &alb.DirSource{Root: dir} }, 0) })
	for _, c := range []int{32, 256, 1024} {
		b.Run(fmt.Sprintf("s3-50ms-concurrency-%d", c), func(b *testing.B) {
			run(b, func() alb.Source {
				src, err := alb.NewS3Source(b.Context(), "s3://alb-logs", alb.S3Config{Client: client})
				require.NoError(b, err)
				return src
			}, c)
		})
	}
}
