package alb

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// S3Config holds the settings of an S3 source beyond the URL. Credentials
// come from the default chain (environment, shared config, ECS task role,
// EC2 instance profile) and are never part of this struct.
type S3Config struct {
	Region string
	// Endpoint, when set, points at an S3-compatible store (MinIO, ...).
	Endpoint string
	// PathStyle addresses buckets as endpoint/bucket instead of bucket.endpoint.
	PathStyle bool
	// Client, when set, is used as is (tests).
	Client *s3.Client
}

// S3Source lists and reads access logs in an S3 bucket.
type S3Source struct {
	client *s3.Client
	bucket string
	prefix string
}

// NewS3Source returns a source for s3://bucket/prefix.
func NewS3Source(ctx context.Context, location string, cfg S3Config) (*S3Source, error) {
	u, err := url.Parse(location)
	if err != nil || u.Scheme != "s3" || u.Host == "" {
		return nil, fmt.Errorf("alb logs: %q is not an s3://bucket/prefix URL", location)
	}
	client := cfg.Client
	if client == nil {
		var opts []func(*config.LoadOptions) error
		if cfg.Region != "" {
			opts = append(opts, config.WithRegion(cfg.Region))
		}
		awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
		if err != nil {
			return nil, fmt.Errorf("alb logs: aws config: %w", err)
		}
		client = s3.NewFromConfig(awsCfg, func(o *s3.Options) {
			if cfg.Endpoint != "" {
				o.BaseEndpoint = aws.String(cfg.Endpoint)
			}
			o.UsePathStyle = cfg.PathStyle
		})
	}
	prefix := strings.TrimPrefix(u.Path, "/")
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	return &S3Source{client: client, bucket: u.Host, prefix: prefix}, nil
}

func (s *S3Source) String() string { return "s3://" + s.bucket + "/" + s.prefix }

var yearPrefixRE = regexp.MustCompile(`(^|/)\d{4}/$`)

// List walks down the bucket one folder level at a time. Once it reaches the
// year folders of the date layout, it lists only the day folders the range
// needs (plus a day of slack each side: folders are delivery dates), so a
// 30-day backfill does not list a bucket's whole history.
func (s *S3Source) List(ctx context.Context, from, to time.Time, fn func(Object) error) error {
	if from.IsZero() || to.IsZero() {
		return s.listAll(ctx, s.prefix, fn)
	}
	return s.walk(ctx, s.prefix, from, to, fn, 0)
}

func (s *S3Source) walk(ctx context.Context, prefix string, from, to time.Time, fn func(Object) error, depth int) error {
	if depth > 8 {
		return s.listAll(ctx, prefix, fn)
	}
	var dirs []string
	years := false
	p := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{
		Bucket: aws.String(s.bucket), Prefix: aws.String(prefix), Delimiter: aws.String("/"),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("list s3://%s/%s: %w", s.bucket, prefix, err)
		}
		for _, cp := range page.CommonPrefixes {
			d := aws.ToString(cp.Prefix)
			if yearPrefixRE.MatchString(d) {
				years = true
				continue
			}
			dirs = append(dirs, d)
		}
		for _, o := range page.Contents {
			if err := s.emit(o.Key, o.Size, o.ETag, from, to, fn); err != nil {
				return err
			}
		}
	}
	if years {
		for day := from.UTC().Truncate(24*time.Hour).AddDate(0, 0, -1); !day.After(to.Add(24 * time.Hour)); day = day.AddDate(0, 0, 1) {
			if err := s.listAll(ctx, prefix+day.Format("2006/01/02/"), fn); err != nil {
				return err
			}
		}
	}
	for _, d := range dirs {
		if err := s.walk(ctx, d, from, to, fn, depth+1); err != nil {
			return err
		}
	}
	return nil
}

func (s *S3Source) listAll(ctx context.Context, prefix string, fn func(Object) error) error {
	p := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{Bucket: aws.String(s.bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("list s3://%s/%s: %w", s.bucket, prefix, err)
		}
		for _, o := range page.Contents {
			if err := s.emit(o.Key, o.Size, o.ETag, time.Time{}, time.Time{}, fn); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *S3Source) emit(key *string, size *int64, etag *string, from, to time.Time, fn func(Object) error) error {
	k := aws.ToString(key)
	if !IsAccessLog(k) {
		return nil
	}
	info := ParseKey(k)
	if !dayInRange(info.Day, from, to) {
		return nil
	}
	return fn(Object{Key: k, Size: aws.ToInt64(size), ETag: strings.Trim(aws.ToString(etag), `"`), Info: info})
}

func (s *S3Source) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)})
	if err != nil {
		return nil, fmt.Errorf("get s3://%s/%s: %w", s.bucket, key, err)
	}
	return out.Body, nil
}
