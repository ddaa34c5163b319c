package alb_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/require"
)

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
