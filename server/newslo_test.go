package server

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/kakeibo-slo/kakeibo/slo"
	"github.com/kakeibo-slo/kakeibo/sources/alb"
	"github.com/kakeibo-slo/kakeibo/sources/alb/albgen"
)

// TestAddingAnSLOKeepsTheOthersCadence: 1,000 SLOs run on logs in S3; one
// is added. Its history is read from S3 (held here until the test lets it
// go, as a slow bucket would) while the others go on: evaluations keep
// coming, logs that arrive meanwhile are ingested for them, and the new
// SLO says backfilling with its progress. Once its history is read, its
// counts are exactly those of the logs.
func TestAddingAnSLOKeepsTheOthersCadence(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret-for-tests")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))

	// S3, where GETs of objects that ended before holdBefore wait for gate.
	var holdBefore atomic.Int64
	gate := make(chan struct{})
	var held atomic.Int64
	s3api := gofakes3.New(s3mem.New()).Server()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && r.URL.Query().Get("list-type") == "" {
			if end := alb.ParseKey(r.URL.Path).End; !end.IsZero() && end.Unix() < holdBefore.Load() {
				held.Add(1)
				select {
				case <-gate:
				case <-r.Context().Done():
					return
				}
			}
		}
		s3api.ServeHTTP(w, r)
	}))
	defer srv.Close()
	up := s3.New(s3.Options{Region: "ap-northeast-1", BaseEndpoint: aws.String(srv.URL), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider("AKIAEXAMPLE", "secret-for-tests", "")})
	_, err := up.CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: aws.String("alb-logs")})
	require.NoError(t, err)
	put := func(cfg albgen.Config) {
		dir := t.TempDir()
		_, err := albgen.Write(cfg, dir)
		require.NoError(t, err)
		require.NoError(t, filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
			if err != nil || info.IsDir() {
				return err
			}
			rel, _ := filepath.Rel(dir, p)
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			_, err = up.PutObject(t.Context(), &s3.PutObjectInput{Bucket: aws.String("alb-logs"), Key: aws.String("prod/" + filepath.ToSlash(rel)), Body: bytes.NewReader(data)})
			return err
		}))
	}
	gen := func(from time.Time, d time.Duration) albgen.Config {
		cfg := albgen.Example(from, 20)
		cfg.Start, cfg.Duration, cfg.Traps, cfg.MalformedEvery, cfg.Seed = from, d, false, 0, uint64(from.Unix())
		cfg.LoadBalancers, cfg.Incidents = cfg.LoadBalancers[:1], nil
		return cfg
	}
	start := time.Now().UTC().Truncate(5 * time.Minute).Add(-4 * time.Hour)
	history := gen(start, 3*time.Hour)
	put(history)

	// 1,000 SLOs on the same load balancer, by host, and the bundled ones.
	specs := t.TempDir()
	var b strings.Builder
	b.WriteString("service: fleet\nslos:\n")
	for i := range 1000 {
		fmt.Fprintf(&b, "  - name: host-%04d\n    objective: 99.9\n    window: 30d\n    sli: {alb: {load_balancer: app/mart-api/50dc6c495c0c9188, hosts: [h%04d.fleet.example.com]}}\n", i, i)
	}
	require.NoError(t, os.WriteFile(filepath.Join(specs, "fleet.yaml"), []byte(b.String()), 0o644))
	spec, err := os.ReadFile("../testdata/specs/mart-api.yaml")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(specs, "mart-api.yaml"), spec, 0o644))

	s, err := New(Config{SpecPaths: []string{specs}, DataDir: t.TempDir(), ALBLogs: "s3://alb-logs/prod",
		S3:             alb.S3Config{Region: "ap-northeast-1", Endpoint: srv.URL, PathStyle: true},
		IngestInterval: 100 * time.Millisecond, EvalInterval: 100 * time.Millisecond, ReloadInterval: 50 * time.Millisecond,
		Registry: prometheus.NewRegistry()})
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	defer func() { cancel(); <-done }()
	require.Eventually(t, func() bool { return s.ready.Load() }, 60*time.Second, 20*time.Millisecond)

	// Add one SLO; from now on, the history it needs reads slowly.
	holdBefore.Store(start.Add(3*time.Hour + time.Minute).Unix())
	const added = "checkout-web/availability"
	require.NoError(t, os.WriteFile(filepath.Join(specs, "new.yaml"), []byte(`service: checkout-web
slos:
  - name: availability
    objective: 99
    window: 30d
    sli: {alb: {load_balancer: app/mart-api/50dc6c495c0c9188, hosts: [api.mart.example.com]}}
`), 0o644))
	result := func(id string) (slo.ReportSLO, time.Time) {
		snap := s.latest.Load()
		for _, r := range snap.report.SLOs {
			if r.Service+"/"+r.SLO == id {
				return r, snap.at
			}
		}
		return slo.ReportSLO{}, time.Time{}
	}
	require.Eventually(t, func() bool { r, _ := result(added); return r.Status == slo.StatusBackfilling }, 60*time.Second, 10*time.Millisecond)
	require.Eventually(t, func() bool { return held.Load() > 0 }, 60*time.Second, 10*time.Millisecond, "the backfill reads from S3")
	r, _ := result(added)
	require.Regexp(t, `^counting its history: \d+ of \d+ log objects read$`, r.Error)
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/?q=checkout-web&view=cards", nil))
	require.Contains(t, rec.Body.String(), "New SLO, counting its history: ", "the status page says so")

	// Meanwhile: new logs arrive and are ingested for the others, and
	// evaluations keep their cadence.
	w0, _, err := s.albDB.Watermark("app/mart-api/50dc6c495c0c9188")
	require.NoError(t, err)
	put(gen(start.Add(3*time.Hour), 30*time.Minute))
	_, at0 := result("mart-api/availability")
	cycles := 0
	last := at0
	require.Eventually(t, func() bool {
		w, _, _ := s.albDB.Watermark("app/mart-api/50dc6c495c0c9188")
		if _, at := result("mart-api/availability"); at.After(last) {
			cycles++
			last = at
		}
		return w >= w0+25 && cycles >= 5
	}, 60*time.Second, 10*time.Millisecond, "ingest and evaluation go on during the backfill")
	r, _ = result(added)
	require.Equal(t, slo.StatusBackfilling, r.Status, "still backfilling: its history is held")

	close(gate)
	require.Eventually(t, func() bool { r, _ := result(added); return r.Status != slo.StatusBackfilling }, 60*time.Second, 10*time.Millisecond)
	set, err := slo.Load(specs)
	require.NoError(t, err)
	var o *slo.Objective
	for _, x := range set.Objectives() {
		if x.ID() == added {
			o = x
		}
	}
	require.NotNil(t, o)
	// The truth of the two parts as written, up to where the evaluation
	// ends (the watermark).
	truth := func(before time.Time) (want alb.Count) {
		for _, cfg := range []albgen.Config{history, gen(start.Add(3*time.Hour), 30*time.Minute)} {
			for k, c := range albgen.Truth(cfg, []*slo.Objective{o}) {
				if alb.MinuteTime(k.Minute).Before(before) {
					want.Good += c.Good
					want.Total += c.Total
				}
			}
		}
		return want
	}
	deadline := time.Now().Add(30 * time.Second)
	for r, _ = result(added); r.Total != float64(truth(r.At).Total) && time.Now().Before(deadline); r, _ = result(added) {
		time.Sleep(10 * time.Millisecond)
	}
	want := truth(r.At)
	require.Positive(t, want.Total)
	require.Equal(t, float64(want.Total), r.Total, "the new SLO counts every entry once (at %s)", r.At)
	r, _ = result(added)
	require.Equal(t, float64(want.Good), r.Good)
}
