package alb_test

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/stretchr/testify/require"

	"github.com/kakeibo-slo/kakeibo/sources/alb"
)

// BenchmarkS3ListManyLoadBalancers lists 3 day folders for 100 load
// balancers (300 LISTs by key prefix), every LIST answered after 20 ms as
// a remote S3 would, one LIST at a time (the baseline) and side by side
// (the default ListConcurrency).
func BenchmarkS3ListManyLoadBalancers(b *testing.B) {
	backend := s3mem.New()
	require.NoError(b, backend.CreateBucket("alb-logs"))
	base := "AWSLogs/123456789012/elasticloadbalancing/ap-northeast-1/"
	day := time.Date(2026, 10, 2, 0, 0, 0, 0, time.UTC)
	var lbs []string
	for i := range 100 {
		lb := fmt.Sprintf("app/lb%d/%016x", i, i)
		lbs = append(lbs, lb)
		for d := -1; d <= 1; d++ {
			at := day.AddDate(0, 0, d).Add(12 * time.Hour)
			key := fmt.Sprintf("%s%s123456789012_elasticloadbalancing_ap-northeast-1_app.lb%d.%016x_%s_10.0.0.1_x.log.gz",
				base, at.Format("2006/01/02/"), i, i, at.Format("20060102T1504Z"))
			_, err := backend.PutObject("alb-logs", key, map[string]string{}, bytes.NewReader(nil), 0, nil)
			require.NoError(b, err)
		}
	}
	fake := gofakes3.New(backend).Server()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Has("list-type") {
			time.Sleep(20 * time.Millisecond)
		}
		fake.ServeHTTP(w, r)
	}))
	defer srv.Close()
	client := s3.New(s3.Options{Region: "ap-northeast-1", BaseEndpoint: aws.String(srv.URL), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider("AKIAEXAMPLE", "secret-for-tests", "")})
	for _, c := range []int{1, alb.DefaultListConcurrency} {
		b.Run(fmt.Sprintf("lists-%d", c), func(b *testing.B) {
			for b.Loop() {
				src, err := alb.NewS3Source(b.Context(), "s3://alb-logs", alb.S3Config{Client: client})
				require.NoError(b, err)
				src.LoadBalancers, src.ListConcurrency = lbs, c
				src.Now = func() time.Time { return day.Add(12 * time.Hour) }
				n := 0
				require.NoError(b, src.List(b.Context(), day.Add(-36*time.Hour), day.Add(36*time.Hour), func(alb.Object) error { n++; return nil }))
				require.Equal(b, 300, n)
			}
		})
	}
}
