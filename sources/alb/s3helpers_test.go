package alb_test

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/require"
)

// failedRequests is n mart-api entries answered 500 by the target, all at
// 2026-10-01 hhmm (UTC), as log text.
func failedRequests(hhmm string, n int) string {
	hm := hhmm[:2] + ":" + hhmm[2:]
	line := fmt.Sprintf(`h2 2026-10-01T%[1]s:00.000000Z app/mart-api/50dc6c495c0c9188 10.1.1.1:1 10.0.0.1:80 0.001 0.002 0.000 500 500 1 1 "GET https://api.mart.example.com:443/v1/items HTTP/2.0" "ua" - - - "-" "-" "-" 0 2026-10-01T%[1]s:00.000000Z "forward" "-" "-" "10.0.0.1:80" "500" "-" "-"`, hm)
	return strings.Repeat(line+"\n", n)
}

// gzipped compresses text as one gzip member.
func gzipped(t *testing.T, text string) []byte {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	_, err := w.Write([]byte(text))
	require.NoError(t, err)
	require.NoError(t, w.Close())
	return b.Bytes()
}

// logBucket makes the bucket alb-logs on the S3 API at url (path-style,
// test credentials) and returns a client and a function that puts an
// object into it.
func logBucket(t *testing.T, url string) (*s3.Client, func(key string, data []byte)) {
	t.Helper()
	up := s3.New(s3.Options{Region: "ap-northeast-1", BaseEndpoint: aws.String(url), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider("AKIAEXAMPLE", "secret-for-tests", "")})
	_, err := up.CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: aws.String("alb-logs")})
	require.NoError(t, err)
	return up, func(key string, data []byte) {
		_, err := up.PutObject(t.Context(), &s3.PutObjectInput{Bucket: aws.String("alb-logs"), Key: aws.String(key), Body: bytes.NewReader(data)})
		require.NoError(t, err)
	}
}

// putTree uploads every file below dir under prefix with put, keyed by its
// path (as ALB writes AWSLogs/...), and returns how many it put.
func putTree(tb testing.TB, dir, prefix string, put func(key string, data []byte)) int {
	tb.Helper()
	n := 0
	require.NoError(tb, filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		require.NoError(tb, err)
		data, err := os.ReadFile(p)
		require.NoError(tb, err)
		put(prefix+filepath.ToSlash(rel), data)
		n++
		return nil
	}))
	return n
}
