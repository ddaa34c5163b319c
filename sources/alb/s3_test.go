package alb_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
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

// TestS3Source runs the real aws-sdk-go-v2 client against gofakes3 over
// HTTP, with a custom endpoint and path-style addressing as for an
// S3-compatible store, and checks counts against the generator's truth.
func TestS3Source(t *testing.T) {
	var mu sync.Mutex
	var listed []string // prefix + "|" + delimiter of every ListObjectsV2
	fake := gofakes3.New(s3mem.New()).Server()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && r.URL.Query().Has("list-type") {
			mu.Lock()
			listed = append(listed, r.URL.Query().Get("prefix")+"|"+r.URL.Query().Get("delimiter"))
			mu.Unlock()
		}
		fake.ServeHTTP(w, r)
	}))
	defer srv.Close()

	// Credentials come from the environment, as in production (the default chain).
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret-for-tests")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))

	start := time.Date(2026, 10, 1, 22, 0, 0, 0, time.UTC)
	cfg := genConfig(start, 4*time.Hour)
	dir := t.TempDir()
	_, err := albgen.Write(cfg, dir)
	require.NoError(t, err)
	// A far older day that must not be listed: were it read, counts would double.
	old := albgen.Example(time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC), 5)
	old.Duration = time.Hour
	_, err = albgen.Write(old, dir)
	require.NoError(t, err)

	up := s3.New(s3.Options{
		Region: "ap-northeast-1", BaseEndpoint: aws.String(srv.URL), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider("AKIAEXAMPLE", "secret-for-tests", ""),
	})
	_, err = up.CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: aws.String("alb-logs")})
	require.NoError(t, err)
	n := putTree(t, dir, "prod/", func(key string, data []byte) {
		_, err := up.PutObject(t.Context(), &s3.PutObjectInput{Bucket: aws.String("alb-logs"), Key: aws.String(key), Body: bytes.NewReader(data)})
		require.NoError(t, err)
	})
	require.Greater(t, n, 100)

	src, err := alb.NewSource(t.Context(), "s3://alb-logs/prod", alb.S3Config{Region: "ap-northeast-1", Endpoint: srv.URL, PathStyle: true})
	require.NoError(t, err)
	set, err := slo.LoadBytes("specs.yaml", []byte(testSpecs))
	require.NoError(t, err)
	cls := alb.NewClassifier(set.Objectives())
	store := alb.NewMemStore()
	ing, err := alb.NewIngester(alb.IngestConfig{Source: src, Store: store, Classifier: cls})
	require.NoError(t, err)
	st, err := ing.Ingest(t.Context(), start, start.Add(cfg.Duration))
	require.NoError(t, err)
	require.Positive(t, st.Objects)

	want := truth(t, cfg, set.Objectives())
	require.Equal(t, want, storeBuckets(t, store, cls.IDs, start.Add(-48*time.Hour), start.Add(48*time.Hour)))
	require.Empty(t, storeBuckets(t, store, cls.IDs, old.Start, old.Start.Add(2*time.Hour)), "September was never read")

	// Only the needed day folders were listed (plus a day of slack each
	// side), and never the bucket as a whole.
	mu.Lock()
	defer mu.Unlock()
	base := "prod/AWSLogs/123456789012/elasticloadbalancing/ap-northeast-1/"
	var days []string
	for _, l := range listed {
		prefix, delim, _ := strings.Cut(l, "|")
		if delim == "" {
			require.True(t, strings.HasPrefix(prefix, base+"2026/"), "recursive listing of %q", prefix)
			days = append(days, strings.TrimPrefix(prefix, base))
		}
	}
	require.ElementsMatch(t, []string{"2026/09/30/", "2026/10/01/", "2026/10/02/", "2026/10/03/"}, days, "listed side by side: in any order")
}

// TestS3RegionIsFound: with no region anywhere, the bucket's region is
// asked with HeadBucket (S3 answers x-amz-bucket-region), instead of
// failing with "Invalid region".
func TestS3RegionIsFound(t *testing.T) {
	fake := gofakes3.New(s3mem.New()).Server()
	heads := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodHead {
			heads++
			w.Header().Set("X-Amz-Bucket-Region", "eu-west-1")
		}
		fake.ServeHTTP(w, r)
	}))
	defer srv.Close()
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret-for-tests")
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	up := s3.New(s3.Options{Region: "eu-west-1", BaseEndpoint: aws.String(srv.URL), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider("AKIAEXAMPLE", "secret-for-tests", "")})
	_, err := up.CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: aws.String("alb-logs")})
	require.NoError(t, err)
	src, err := alb.NewS3Source(t.Context(), "s3://alb-logs/prod", alb.S3Config{Endpoint: srv.URL, PathStyle: true})
	require.NoError(t, err)
	require.Equal(t, 1, heads)
	require.Equal(t, "eu-west-1", src.Region())
	require.NoError(t, src.List(t.Context(), time.Time{}, time.Time{}, func(alb.Object) error { return nil }))
}
