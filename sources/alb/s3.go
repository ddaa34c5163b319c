package alb

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go/logging"
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
	// LoadBalancers, when set, limits listing to these load balancers'
	// keys (app/NAME/ID): each day folder is listed by key prefix per load
	// balancer, not whole.
	LoadBalancers []string
	// Now is the clock that decides which day folders are closed.
	Now func() time.Time

	mu     sync.Mutex
	closed map[string]bool // closed day folders listed once
	// fullyListed is when each load balancer's key prefix in an open day
	// folder was last listed whole; in between, it is listed from the
	// keys of the last LateFiles (see listDay).
	fullyListed map[string]time.Time
	// outsideLayout counts listed log files outside AWS's key layout,
	// which are skipped (see InLayout).
	outsideLayout atomic.Int64
	// ListConcurrency is how many LISTs run at once (default
	// DefaultListConcurrency): the day folders and load balancer prefixes
	// of a listing are listed side by side, not one after another.
	ListConcurrency int
	// PageSize is how many keys a LIST page asks for (0: S3's default and
	// maximum, 1,000).
	PageSize    int32
	listSemOnce sync.Once
	listSem     *turns
}

// DefaultListConcurrency is how many LISTs an S3 listing runs at once.
const DefaultListConcurrency = 16

// Steady listing of an open day folder: a load balancer's keys there are
// listed whole at most every FullListEvery; in between, a LIST starts after
// the keys of files whose interval ended more than LateFiles ago (AWS names
// a file by its interval's end, so its keys sort by time), which returns
// the last hour's files instead of the whole day's. A file that lands more
// than LateFiles after its interval is found by the next whole listing.
const (
	FullListEvery = 15 * time.Minute
	LateFiles     = time.Hour
)

// Reopen has the day folder of a key listed again, whole (an object in it
// could not be read yet).
func (s *S3Source) Reopen(key string) {
	folder := key[:strings.LastIndexByte(key, '/')+1]
	s.mu.Lock()
	delete(s.closed, folder)
	for p := range s.fullyListed {
		if strings.HasPrefix(p, folder) {
			delete(s.fullyListed, p)
		}
	}
	s.mu.Unlock()
}

func (s *S3Source) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// dayClosed says whether no more files can arrive in a day folder: ALB
// delivers a file within minutes of its interval's end, so an hour after
// the day ends (UTC), the folder is complete.
func (s *S3Source) dayClosed(day time.Time) bool {
	return day.Add(25 * time.Hour).Before(s.now())
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
		if awsCfg.Region == "" {
			// No region given: ask the bucket (HeadBucket answers with
			// x-amz-bucket-region from any region).
			region, err := bucketRegion(ctx, awsCfg, u.Host, cfg)
			if err != nil {
				return nil, fmt.Errorf("alb logs: the region of bucket %s is not set and could not be found (%v): set --s3-region or AWS_REGION", u.Host, err)
			}
			awsCfg.Region = region
		}
		client = s3.NewFromConfig(awsCfg, func(o *s3.Options) {
			if cfg.Endpoint != "" {
				o.BaseEndpoint = aws.String(cfg.Endpoint)
			}
			o.UsePathStyle = cfg.PathStyle
			// The SDK would print "Response has no supported checksum"
			// to stderr, outside kakeibo's JSON log.
			o.DisableLogOutputChecksumValidationSkipped = true
			o.Logger = logging.Nop{}
		})
	}
	prefix := strings.TrimPrefix(u.Path, "/")
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	return &S3Source{client: client, bucket: u.Host, prefix: prefix, closed: map[string]bool{}, fullyListed: map[string]time.Time{}}, nil
}

// OutsideLayout is how many listed log files were skipped because their
// keys are not where AWS writes access logs (see InLayout).
func (s *S3Source) OutsideLayout() int64 { return s.outsideLayout.Load() }

func (s *S3Source) String() string { return "s3://" + s.bucket + "/" + s.prefix }

var yearPrefixRE = regexp.MustCompile(`(^|/)\d{4}/$`)

// List walks down the bucket one folder level at a time. Once it reaches the
// year folders of the date layout, it lists only the day folders the range
// needs (plus a day of slack each side: folders are delivery dates), so a
// 30-day backfill does not list a bucket's whole history.
func (s *S3Source) List(ctx context.Context, from, to time.Time, fn func(Object) error) error {
	if from.IsZero() || to.IsZero() {
		return s.listAll(ctx, s.prefix, from, to, fn)
	}
	// LISTs run side by side; fn sees one object at a time.
	var mu sync.Mutex
	one := func(o Object) error {
		mu.Lock()
		defer mu.Unlock()
		return fn(o)
	}
	return s.walk(ctx, s.prefix, from, to, one, 0)
}

// parallel runs jobs side by side and returns the first error; a failed
// job cancels the others. The LISTs they make take turns (listTurn), at
// most ListConcurrency at once over the whole listing, nested or not.
func (s *S3Source) parallel(ctx context.Context, jobs []func(context.Context) error) error {
	if len(jobs) == 1 {
		return jobs[0](ctx)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	for _, job := range jobs {
		wg.Go(func() {
			if err := job(ctx); err != nil {
				once.Do(func() { first = err; cancel(err) })
			}
		})
	}
	wg.Wait()
	return first
}

// listTurn waits for one of the ListConcurrency LIST slots; done gives it
// back. Waiting LISTs take turns oldest day folder first (listPriority),
// so the first day of a listing is complete first and read meanwhile.
func (s *S3Source) listTurn(ctx context.Context) (done func(), err error) {
	s.listSemOnce.Do(func() {
		n := s.ListConcurrency
		if n <= 0 {
			n = DefaultListConcurrency
		}
		s.listSem = &turns{free: n}
	})
	prio, _ := ctx.Value(listPriority{}).(int64)
	if err := s.listSem.acquire(ctx, prio); err != nil {
		return nil, err
	}
	return s.listSem.release, nil
}

// listPriority orders waiting LISTs (a context value, lowest first: a day
// folder's Unix time; folders above the days are 0).
type listPriority struct{}

// turns is a semaphore whose waiters are served lowest priority value
// first, then in arrival order.
type turns struct {
	mu      sync.Mutex
	free    int
	waiting []*turnWaiter
}

type turnWaiter struct {
	prio  int64
	ready chan struct{}
}

func (t *turns) acquire(ctx context.Context, prio int64) error {
	t.mu.Lock()
	if t.free > 0 && len(t.waiting) == 0 {
		t.free--
		t.mu.Unlock()
		return nil
	}
	w := &turnWaiter{prio: prio, ready: make(chan struct{})}
	i, _ := slices.BinarySearchFunc(t.waiting, prio+1, func(w *turnWaiter, p int64) int { return cmp.Compare(w.prio, p) })
	t.waiting = slices.Insert(t.waiting, i, w)
	t.mu.Unlock()
	select {
	case <-w.ready:
		return nil
	case <-ctx.Done():
		t.mu.Lock()
		if i := slices.Index(t.waiting, w); i >= 0 {
			t.waiting = slices.Delete(t.waiting, i, i+1)
			t.mu.Unlock()
			return ctx.Err()
		}
		t.mu.Unlock()
		t.release() // granted meanwhile: give it on
		return ctx.Err()
	}
}

func (t *turns) release() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.waiting) > 0 {
		w := t.waiting[0]
		t.waiting = t.waiting[1:]
		close(w.ready)
		return
	}
	t.free++
}

func (s *S3Source) walk(ctx context.Context, prefix string, from, to time.Time, fn func(Object) error, depth int) error {
	if depth > 8 {
		return s.listAll(ctx, prefix, from, to, fn)
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
		// The day folders are listed side by side, and their objects handed
		// to fn a day after another, oldest first (dayQueue): reading starts
		// with the first page of the first day, in time order.
		var days []time.Time
		for day := from.UTC().Truncate(24*time.Hour).AddDate(0, 0, -1); !day.After(to.Add(24 * time.Hour)); day = day.AddDate(0, 0, 1) {
			days = append(days, day)
		}
		q := &dayQueue{fn: fn, days: make([]queuedDay, len(days))}
		var jobs []func(context.Context) error
		for i, day := range days {
			q.days[i].done = make(chan struct{})
			jobs = append(jobs, func(ctx context.Context) error {
				// Older days take their LIST turns first (listTurn).
				ctx = context.WithValue(ctx, listPriority{}, day.Unix())
				if err := s.listDay(ctx, prefix, day, from, to, func(o Object) error { return q.add(i, o) }); err != nil {
					return err
				}
				close(q.days[i].done)
				return nil
			})
		}
		jobs = append(jobs, q.run)
		if err := s.parallel(ctx, jobs); err != nil {
			return err
		}
	}
	for _, d := range dirs {
		if err := s.walk(ctx, d, from, to, fn, depth+1); err != nil {
			return err
		}
	}
	return nil
}

// dayQueue hands the objects of day folders listed side by side to fn in
// day order. The oldest day not complete yet (the head) passes its objects
// on as its pages arrive: a load balancer's keys come in time order, and
// watermarks are per load balancer. A later day's objects wait until it is
// the head, then go oldest first.
type dayQueue struct {
	fn       func(Object) error
	mu       sync.Mutex
	head     int
	flushing bool // the head's waiting objects are being handed on
	days     []queuedDay
}

type queuedDay struct {
	objs []Object
	done chan struct{} // the day is listed
}

func (q *dayQueue) add(day int, o Object) error {
	q.mu.Lock()
	if day != q.head || q.flushing {
		q.days[day].objs = append(q.days[day].objs, o)
		q.mu.Unlock()
		return nil
	}
	q.mu.Unlock()
	return q.fn(o)
}

// run makes each day the head in turn, hands on what it had listed
// meanwhile, and waits until it is listed.
func (q *dayQueue) run(ctx context.Context) error {
	for i := range q.days {
		q.mu.Lock()
		q.head, q.flushing = i, true
		q.mu.Unlock()
		for {
			q.mu.Lock()
			objs := q.days[i].objs
			q.days[i].objs = nil
			if len(objs) == 0 {
				q.flushing = false
				q.mu.Unlock()
				break
			}
			q.mu.Unlock()
			slices.SortFunc(objs, func(a, b Object) int { return a.Info.End.Compare(b.Info.End) })
			for _, o := range objs {
				if err := q.fn(o); err != nil {
					return err
				}
			}
		}
		select {
		case <-q.days[i].done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// ListsInReadOrder says that List hands objects on a day folder after
// another, oldest first, while it goes on listing: the ingest reads them
// meanwhile.
func (s *S3Source) ListsInReadOrder() bool { return true }

// listDay lists one day folder: only the load balancers' keys when they
// are known, and a closed day only once, unless the ingester reopens it
// because an object in it could not be read: a caught-up cycle lists today,
// and yesterday for an hour after midnight.
func (s *S3Source) listDay(ctx context.Context, base string, day, from, to time.Time, fn func(Object) error) error {
	folder := base + day.Format("2006/01/02/")
	closed := s.dayClosed(day)
	s.mu.Lock()
	done := s.closed[folder]
	s.mu.Unlock()
	if done {
		return nil
	}
	prefixes := []string{folder}
	byLB := false
	// base ends in ACCOUNT/elasticloadbalancing/REGION/: AWS names keys
	// ACCOUNT_elasticloadbalancing_REGION_app.NAME.ID_END_NODE_RANDOM.log.gz
	if parts := strings.Split(strings.TrimSuffix(base, "/"), "/"); len(s.LoadBalancers) > 0 && len(parts) >= 3 && parts[len(parts)-2] == "elasticloadbalancing" {
		account, region := parts[len(parts)-3], parts[len(parts)-1]
		prefixes = prefixes[:0]
		byLB = true
		for _, lb := range s.LoadBalancers {
			prefixes = append(prefixes, folder+account+"_elasticloadbalancing_"+region+"_"+strings.ReplaceAll(lb, "/", ".")+"_")
		}
	}
	now := s.now()
	if closed {
		// Marked before fn runs, so that an object fn cannot finish reopens it.
		s.mu.Lock()
		s.closed[folder] = true
		s.mu.Unlock()
	}
	var lists []func(context.Context) error
	for _, p := range prefixes {
		startAfter := ""
		if byLB && !closed {
			s.mu.Lock()
			last, ok := s.fullyListed[p]
			if ok && now.Sub(last) < FullListEvery {
				startAfter = p + now.Add(-LateFiles).UTC().Format("20060102T1504Z")
			} else {
				s.fullyListed[p] = now // marked before fn runs, like closed
			}
			s.mu.Unlock()
		}
		lists = append(lists, func(ctx context.Context) error { return s.listFrom(ctx, p, startAfter, from, to, fn) })
	}
	if err := s.parallel(ctx, lists); err != nil {
		s.Reopen(folder)
		return err
	}
	return nil
}

// Reset forgets which day folders were listed (a spec reload may add load
// balancers).
func (s *S3Source) Reset() {
	s.mu.Lock()
	s.closed = map[string]bool{}
	s.fullyListed = map[string]time.Time{}
	s.mu.Unlock()
}

func (s *S3Source) listAll(ctx context.Context, prefix string, from, to time.Time, fn func(Object) error) error {
	return s.listFrom(ctx, prefix, "", from, to, fn)
}

// listFrom lists the keys under prefix, those after startAfter when set.
func (s *S3Source) listFrom(ctx context.Context, prefix, startAfter string, from, to time.Time, fn func(Object) error) error {
	in := &s3.ListObjectsV2Input{Bucket: aws.String(s.bucket), Prefix: aws.String(prefix)}
	if s.PageSize > 0 {
		in.MaxKeys = aws.Int32(s.PageSize)
	}
	if startAfter != "" {
		in.StartAfter = aws.String(startAfter)
	}
	p := s3.NewListObjectsV2Paginator(s.client, in)
	for p.HasMorePages() {
		done, err := s.listTurn(ctx)
		if err != nil {
			return fmt.Errorf("list s3://%s/%s: %w", s.bucket, prefix, err)
		}
		page, err := p.NextPage(ctx)
		done()
		if err != nil {
			return fmt.Errorf("list s3://%s/%s: %w", s.bucket, prefix, err)
		}
		for _, o := range page.Contents {
			if err := s.emit(o.Key, o.Size, o.ETag, from, to, fn); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *S3Source) emit(key *string, size *int64, etag *string, from, to time.Time, fn func(Object) error) error {
	o, ok, outside := accessLogObject(aws.ToString(key), aws.ToInt64(size), aws.ToString(etag), from, to)
	if outside {
		s.outsideLayout.Add(1)
	}
	if !ok {
		return nil
	}
	return fn(o)
}

// accessLogObject is the object a key names when it is an access log in
// AWS's layout that may hold entries of [from, to); outside says it is an
// access log elsewhere (skipped: a copy would count twice).
func accessLogObject(key string, size int64, etag string, from, to time.Time) (o Object, ok, outside bool) {
	if !IsAccessLog(key) {
		return Object{}, false, false
	}
	if !InLayout(key) {
		return Object{}, false, true
	}
	info := ParseKey(key)
	if !dayInRange(info.Day, from, to) || !endInRange(info.End, from) {
		return Object{}, false, false
	}
	return Object{Key: key, Size: size, ETag: strings.Trim(etag, `"`), Info: info}, true, false
}

func (s *S3Source) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)})
	if err != nil {
		return nil, fmt.Errorf("get s3://%s/%s: %w", s.bucket, key, err)
	}
	return out.Body, nil
}

// bucketRegion finds a bucket's region with HeadBucket, asked in us-east-1.
func bucketRegion(ctx context.Context, awsCfg aws.Config, bucket string, cfg S3Config) (string, error) {
	probe := awsCfg.Copy()
	probe.Region = "us-east-1"
	client := s3.NewFromConfig(probe, func(o *s3.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		o.UsePathStyle = cfg.PathStyle
		o.Logger = logging.Nop{}
	})
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(bucket)})
	if err == nil && aws.ToString(out.BucketRegion) != "" {
		return aws.ToString(out.BucketRegion), nil
	}
	// A bucket in another region answers 301 with the header as well.
	var re *awshttp.ResponseError
	if errors.As(err, &re) && re.Response != nil {
		if r := re.Response.Header.Get("X-Amz-Bucket-Region"); r != "" {
			return r, nil
		}
	}
	if err == nil {
		err = errors.New("no x-amz-bucket-region in the answer")
	}
	return "", err
}

// Region is the region the source's client speaks to.
func (s *S3Source) Region() string { return s.client.Options().Region }
