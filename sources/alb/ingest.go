package alb

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/klauspost/compress/gzip"
)

// Progress is a running count of an ingest, safe to read while it runs.
type Progress struct {
	ObjectsTotal atomic.Int64
	ObjectsDone  atomic.Int64
	Bytes        atomic.Int64 // as stored (compressed)
	Lines        atomic.Int64
	Malformed    atomic.Int64
	Skipped      atomic.Int64 // objects already in the ledger
}

// IngestConfig configures an Ingester.
type IngestConfig struct {
	Source     Source
	Store      Store
	Classifier *Classifier
	// Workers is the most GETs in flight (default 256): a GET from S3
	// waits tens of ms on the network, so many are in flight at once. A run
	// starts with StartWorkers (default 32) and adapts between them (see
	// adaptiveLimit).
	Workers      int
	StartWorkers int
	// Parsers decompress and classify fetched objects (default GOMAXPROCS).
	Parsers int
	// MaxInFlightBytes bounds the fetched bytes waiting to be parsed
	// (default 256 MiB); an object above a quarter of it is streamed.
	MaxInFlightBytes int64
	// ObjectTimeout bounds the reading of one object, however steadily it
	// arrives (default 10m).
	ObjectTimeout time.Duration
	// StallTimeout cuts a GET that makes no progress (no first byte, or no
	// further byte of the body) for this long (default 30s); it is tried
	// again within the same run (Retries times, default 2, after
	// RetryBackoff, default 1s, doubling) before it counts as failed.
	StallTimeout time.Duration
	Retries      int
	RetryBackoff time.Duration
	// NodeGrace is how long a load balancer node may fall behind the
	// newest delivery before it is given up (default DefaultNodeGrace).
	NodeGrace time.Duration
	// Failures remembers objects that could not be read; nil keeps none
	// (a failed object is then tried on every call).
	Failures *Failures
	// Now is the clock of retries (default time.Now).
	Now    func() time.Time
	Logger *slog.Logger
	// Progress, when set, is updated as objects are read.
	Progress *Progress
	// NewSLIs, when set, takes the counting of SLIs new to the store (an
	// SLO added to the specs) away from Ingest: Ingest drops what they had,
	// leaves them out of its pass and hands them over, once, to be counted
	// beside it with BackfillNew. Without it, Ingest counts their history
	// first, holding every other SLI back meanwhile.
	NewSLIs func(fresh []string)
	// Pending are SLIs a BackfillNew is counting: Ingest leaves them out.
	Pending map[string]bool
	// afterCommit is a test hook called after each commit.
	afterCommit func()
}

// CommitError is a failure to write counted objects to the store (a full
// or read-only disk): nothing of the batch is stored, and its objects are
// read again on the next pass.
type CommitError struct {
	Objects int
	Err     error
}

func (e *CommitError) Error() string {
	return fmt.Sprintf("commit %d log objects: %v", e.Objects, e.Err)
}

func (e *CommitError) Unwrap() error { return e.Err }

// Ingester reads new access log objects into a Store.
type Ingester struct {
	cfg IngestConfig
	// reopen and reset reach a source that remembers which folders it has
	// listed (S3): reopen keeps an unread object's folder listed, reset
	// lists every folder again. No-ops for other sources.
	reopen func(key string)
	// done tells a source that takes notifications (SQS) that an object's
	// counts are in the ledger.
	done  func(key string)
	reset func()
	// lastGets is the GET limit the last run ended with.
	lastGets atomic.Int64
}

// GETLimit is how many GETs the last run allowed in flight when it ended
// (see adaptiveLimit).
func (in *Ingester) GETLimit() int { return int(in.lastGets.Load()) }

// NewIngester returns an Ingester.
func NewIngester(cfg IngestConfig) (*Ingester, error) {
	if cfg.Source == nil || cfg.Store == nil || cfg.Classifier == nil {
		return nil, errors.New("alb ingester: source, store and classifier are required")
	}
	if cfg.Parsers <= 0 {
		cfg.Parsers = runtime.GOMAXPROCS(0)
	}
	if _, local := cfg.Source.(*DirSource); local {
		// A local directory reads at the disk's speed, not the network's:
		// a couple of objects ahead of each parser keep it busy, and the
		// memory stays that of the objects being read.
		cfg.StartWorkers, cfg.Workers = 2*cfg.Parsers, 2*cfg.Parsers
		if cfg.MaxInFlightBytes <= 0 {
			cfg.MaxInFlightBytes = 16 << 20
		}
	}
	if cfg.StartWorkers <= 0 {
		cfg.StartWorkers = 32
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 256
	}
	if cfg.MaxInFlightBytes <= 0 {
		cfg.MaxInFlightBytes = 256 << 20
	}
	if cfg.ObjectTimeout <= 0 {
		cfg.ObjectTimeout = 10 * time.Minute
	}
	if cfg.StallTimeout <= 0 {
		cfg.StallTimeout = 30 * time.Second
	}
	if cfg.Retries == 0 {
		cfg.Retries = 2
	}
	if cfg.RetryBackoff <= 0 {
		cfg.RetryBackoff = time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Progress == nil {
		cfg.Progress = &Progress{}
	}
	in := &Ingester{cfg: cfg, reopen: func(string) {}, reset: func() {}}
	if q, ok := cfg.Source.(interface{ UseLedger(func(key string) bool) }); ok {
		// SQSSource: a message is deleted once its objects are in the ledger.
		q.UseLedger(func(key string) bool {
			_, seen, err := cfg.Store.Ingested(key)
			return err == nil && seen
		})
	}
	if r, ok := cfg.Source.(interface {
		Reopen(string)
		Reset()
	}); ok {
		in.reopen, in.reset = r.Reopen, r.Reset
	}
	return in, nil
}

// Stats sums up one Ingest call.
type Stats struct {
	Objects, Skipped, Lines, Malformed int64
	// Failed objects could not be read (see Failures); Deferred were not
	// tried because their retry is not due or they were given up.
	Failed, Deferred int64
	// FailedObjects are this call's failures.
	FailedObjects []Failure
}

// objectResult is what a worker made of one object.
type objectResult struct {
	rec       ObjectRecord
	counts    *tally
	malformed map[string]int64
	err       error
	// entryEnds is, for an object whose name does not say its load
	// balancer and interval (a plain export), the minute after the newest
	// entry of each load balancer in it: its watermark comes from entries.
	entryEnds map[string]int64
}

type bucketIndex struct {
	sli    int
	minute int64
}

// Ingest counts every object of the source that may hold entries of
// [from, to) and is not in the ledger yet. Objects are read in parallel and
// committed in batches; each object's counts and its ledger record go into
// the same transaction, so a crash at any point counts an object fully or
// not at all, and the next run picks up what is missing.
func (in *Ingester) Ingest(ctx context.Context, from, to time.Time) (Stats, error) {
	cls, err := in.backfill(ctx, from, to)
	if err != nil {
		return Stats{}, err
	}
	return in.run(ctx, from, to, cls, false)
}

// backfill counts SLIs that are new to the store (an SLO added to the
// specs) over the objects already in the ledger, so that a new SLO has its
// history, or hands them to NewSLIs to be counted beside this pass. It
// drops whatever such an SLI had first, so a crash halfway only means
// starting it over; the set of counted SLIs is updated last. It returns
// the classifier of this pass: without the SLIs counted elsewhere.
func (in *Ingester) backfill(ctx context.Context, from, to time.Time) (*Classifier, error) {
	cls := in.cfg.Classifier
	counted, err := in.cfg.Store.CountedSLIs()
	if err != nil {
		return nil, err
	}
	want := map[string]bool{}
	var fresh, here []string
	for _, id := range cls.IDs {
		if in.cfg.Pending[id] {
			continue
		}
		want[id] = true
		here = append(here, id)
		if !counted[id] {
			fresh = append(fresh, id)
		}
	}
	if len(fresh) > 0 && len(counted) > 0 {
		for _, id := range fresh {
			if err := in.cfg.Store.DropSLI(id); err != nil {
				return nil, err
			}
		}
		if in.cfg.NewSLIs != nil {
			for _, id := range fresh {
				delete(want, id)
			}
			here = slices.DeleteFunc(here, func(id string) bool { return !want[id] })
			in.cfg.NewSLIs(fresh)
			fresh = nil
		} else {
			in.cfg.Logger.Info("counting the history of new SLOs", "slos", fresh)
			if _, err := in.run(ctx, from, to, cls.Only(fresh), true); err != nil {
				return nil, fmt.Errorf("backfill new SLOs: %w", err)
			}
		}
	}
	// SLIs counted elsewhere stay out of the set until their count is done
	// (BackfillNew adds them): one that left the specs meanwhile is
	// dropped by the next pass.
	for id := range counted {
		if in.cfg.Pending[id] {
			want[id] = true
		}
	}
	if len(fresh) > 0 || len(want) != len(counted) {
		if err := in.cfg.Store.SetCountedSLIs(want); err != nil {
			return nil, err
		}
	}
	if len(here) == len(cls.IDs) {
		return cls, nil
	}
	return cls.Only(here), nil
}

// BackfillNew counts fresh, SLIs new to the store that Ingest handed over
// (NewSLIs), over the objects its ledger holds, while Ingest passes go on
// without them: no LIST, and only the objects of the load balancers they
// read. Then, holding exclusive (the lock Ingest passes run under), it
// counts what was ledgered meanwhile, adds them to the counted SLIs and
// calls done (which must take them out of Pending), so the next pass
// counts them with the rest: every object exactly once. A crash before the
// end leaves them uncounted, to be counted afresh.
func (in *Ingester) BackfillNew(ctx context.Context, fresh []string, from time.Time, exclusive sync.Locker, done func()) (Stats, error) {
	cls := in.cfg.Classifier.Only(fresh)
	lbs := map[string]bool{}
	for _, lb := range cls.LoadBalancers() {
		lbs[lb] = true
	}
	seen := map[string]bool{}
	todo := func() ([]Object, error) {
		var out []Object
		err := in.cfg.Store.Ledger(func(r ObjectRecord) error {
			if seen[r.Key] || (r.LoadBalancer != "" && !lbs[r.LoadBalancer]) || (!r.End.IsZero() && r.End.Before(from)) {
				return nil
			}
			seen[r.Key] = true
			info := ParseKey(r.Key)
			info.LoadBalancer, info.End, info.Node = r.LoadBalancer, r.End, r.Node
			out = append(out, Object{Key: r.Key, Size: r.Size, ETag: r.ETag, Info: info})
			return nil
		})
		return out, err
	}
	objs, err := todo()
	if err != nil {
		return Stats{}, err
	}
	in.cfg.Logger.Info("counting the history of new SLOs beside the ingest", "slos", fresh, "objects", len(objs))
	st, err := in.readAll(ctx, objs, cls, true)
	if err != nil {
		return st, fmt.Errorf("backfill new SLOs: %w", err)
	}
	exclusive.Lock()
	defer exclusive.Unlock()
	if objs, err = todo(); err != nil {
		return st, err
	}
	more, err := in.readAll(ctx, objs, cls, true)
	st.Objects += more.Objects
	st.Lines += more.Lines
	st.Failed += more.Failed
	if err != nil {
		return st, fmt.Errorf("backfill new SLOs: %w", err)
	}
	counted, err := in.cfg.Store.CountedSLIs()
	if err != nil {
		return st, err
	}
	for _, id := range fresh {
		counted[id] = true
	}
	if err := in.cfg.Store.SetCountedSLIs(counted); err != nil {
		return st, err
	}
	done()
	return st, nil
}

// run reads objects: new ones (recording them in the ledger), or with
// ledgered, only those already in the ledger (counting them again for the
// classifier's SLIs, without touching the ledger).
func (in *Ingester) run(ctx context.Context, from, to time.Time, cls *Classifier, ledgered bool) (Stats, error) {
	if ledgered {
		in.reset() // new SLOs are counted from every ledgered object: list all days again
	}
	// A source that lists in the order objects are read (S3, a day folder
	// after another) is read while it lists: GETs begin with its first
	// page. Another is listed whole, then read oldest first.
	ordered := false
	if o, ok := in.cfg.Source.(interface{ ListsInReadOrder() bool }); ok {
		ordered = o.ListsInReadOrder()
	}
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	objs := make(chan Object)
	var todo []Object
	var lst Stats // the listing's counts: written by the listing only
	var listErr error
	listed := make(chan struct{})
	queued := map[string]bool{} // a key listed twice in a pass (a listing and a notification) is read once
	accept := func(o Object) error {
		if lb := o.Info.LoadBalancer; lb != "" && cls.byLB[lb] == nil {
			return nil // named for a load balancer no SLO here reads (another shard's): not even opened
		}
		if queued[o.Key] {
			return nil
		}
		rec, seen, err := in.cfg.Store.Ingested(o.Key)
		if err != nil {
			return err
		}
		switch {
		case ledgered && !seen:
			return nil
		case ledgered:
		case !seen && !in.cfg.Failures.Due(o.Key, in.cfg.Now()):
			lst.Deferred++
			in.reopen(o.Key) // to be tried again: keep listing its folder
			return nil
		case seen:
			if rec.Size != o.Size || (rec.ETag != "" && o.ETag != "" && rec.ETag != o.ETag) {
				in.cfg.Logger.Warn("log object changed after it was counted; not counting it again",
					"key", o.Key, "size", o.Size, "counted_size", rec.Size)
			}
			lst.Skipped++
			in.cfg.Progress.Skipped.Add(1)
			return nil
		}
		queued[o.Key] = true
		if !ordered {
			todo = append(todo, o)
			return nil
		}
		in.cfg.Progress.ObjectsTotal.Add(1)
		select {
		case objs <- o:
			return nil
		case <-lctx.Done():
			return lctx.Err()
		}
	}
	if !ordered {
		if err := in.cfg.Source.List(ctx, from, to, accept); err != nil {
			return lst, fmt.Errorf("list %s: %w", in.cfg.Source, err)
		}
		st, err := in.readAll(lctx, todo, cls, ledgered)
		return addListing(st, lst), err
	}
	go func() {
		defer close(listed)
		defer close(objs)
		listErr = in.cfg.Source.List(lctx, from, to, accept)
	}()
	st, err := in.read(lctx, objs, cls, ledgered)
	cancel() // a read that stopped early stops the listing
	<-listed
	st = addListing(st, lst)
	if err == nil && listErr != nil {
		in.reset() // not every folder was listed: list them all again next time
		err = fmt.Errorf("list %s: %w", in.cfg.Source, listErr)
	}
	return st, err
}

// addListing adds what a listing counted to what reading counted.
func addListing(st, lst Stats) Stats {
	st.Skipped += lst.Skipped
	st.Deferred += lst.Deferred
	return st
}

// readAll reads objects, oldest first.
func (in *Ingester) readAll(ctx context.Context, objs []Object, cls *Classifier, ledgered bool) (Stats, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	return in.read(ctx, in.feed(ctx, objs), cls, ledgered)
}

// feed sends objects to read, oldest first.
func (in *Ingester) feed(ctx context.Context, todo []Object) <-chan Object {
	slices.SortFunc(todo, func(a, b Object) int { return a.Info.End.Compare(b.Info.End) })
	in.cfg.Progress.ObjectsTotal.Add(int64(len(todo)))
	ch := make(chan Object)
	go func() {
		defer close(ch)
		for _, o := range todo {
			select {
			case ch <- o:
			case <-ctx.Done():
				return
			}
		}
	}()
	return ch
}

// read reads objects and commits their counts: with countsOnly, only the
// counts of cls's SLIs, leaving the ledger alone.
func (in *Ingester) read(ctx context.Context, jobs <-chan Object, cls *Classifier, ledgered bool) (Stats, error) {
	var st Stats
	p := in.cfg.Progress

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Two stages: fetchers download objects into memory, many at once (a
	// GET waits tens of ms on the network), bounded by bytes in flight;
	// parsers, one per CPU, decompress and classify them. An object too
	// big to hold is streamed by a parser instead.
	fetched := make(chan fetchedObject, in.cfg.Parsers)
	results := make(chan objectResult, in.cfg.Parsers)
	inFlight := newByteLimit(in.cfg.MaxInFlightBytes)
	gets := newAdaptiveLimit(in.cfg.StartWorkers, in.cfg.Workers)
	defer func() { in.lastGets.Store(int64(gets.current())) }()
	var fetchers, parsers sync.WaitGroup
	for range in.cfg.Workers {
		fetchers.Go(func() {
			for o := range jobs {
				f := fetchedObject{o: o}
				if o.Size <= in.cfg.MaxInFlightBytes/4 {
					f.held = max(o.Size, 1)
					if !inFlight.acquire(ctx, f.held) {
						return
					}
					if !gets.acquire(ctx) {
						inFlight.release(f.held)
						return
					}
					var ttfb time.Duration
					var pushedBack bool
					f.body, ttfb, pushedBack, f.err = in.fetch(ctx, o, p)
					gets.release(ttfb, pushedBack)
				}
				select {
				case fetched <- f:
				case <-ctx.Done():
					inFlight.release(f.held)
					return
				}
			}
		})
	}
	for range in.cfg.Parsers {
		parsers.Go(func() {
			r := newReader()
			for f := range fetched {
				var res objectResult
				if f.held > 0 {
					res = r.readBytes(f, cls, p)
					putBody(f.body)
					inFlight.release(f.held)
				} else {
					octx, cancelObject := context.WithTimeout(ctx, in.cfg.ObjectTimeout)
					res = r.read(octx, in.cfg.Source, cls, f.o, p, in.cfg.StallTimeout)
					cancelObject()
				}
				if res.err != nil && ctx.Err() != nil {
					res.err = ctx.Err() // the ingest stopped, the object is not at fault
				}
				select {
				case results <- res:
				case <-ctx.Done():
					return
				}
			}
		})
	}
	go func() { fetchers.Wait(); close(fetched) }()
	go func() { parsers.Wait(); close(results) }()

	// One goroutine commits: it takes a result, then whatever else is ready,
	// and writes them in one transaction.
	var firstErr error
	for res := range results {
		batch := []objectResult{res}
	drain:
		for len(batch) < 256 {
			select {
			case r, ok := <-results:
				if !ok {
					break drain
				}
				batch = append(batch, r)
			default:
				break drain
			}
		}
		if err := in.commit(batch, &st, cls, ledgered); err != nil && firstErr == nil {
			firstErr = err
			cancel()
		}
	}
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	if firstErr != nil {
		in.reset() // objects listed but not read: list every folder again next time
	}
	return st, firstErr
}

func (in *Ingester) commit(results []objectResult, st *Stats, cls *Classifier, countsOnly bool) error {
	b := &Batch{Counts: map[BucketKey]Count{}, Malformed: map[string]int64{}, Watermarks: map[string]int64{}, NodeGrace: in.cfg.NodeGrace}
	var failed error
	ids := cls.IDs
	for _, r := range results {
		if r.err != nil {
			if errors.Is(r.err, context.Canceled) {
				if failed == nil {
					failed = r.err
				}
				continue
			}
			// A read error (truncated or corrupt gzip, denied, deleted,
			// stalled) leaves the object out of the ledger and never stops
			// the ingest: it is tried again later, and given up after a few
			// attempts.
			in.reopen(r.rec.Key) // to be tried again: keep listing its folder
			f := in.cfg.Failures.Fail(r.rec.Key, r.rec.Size, r.err, in.cfg.Now())
			if f == nil {
				f = &Failure{Key: r.rec.Key, Reason: FailureReason(r.err), Error: r.err.Error(), Attempts: 1}
			}
			in.cfg.Logger.Warn("cannot read log object; going on without it", "key", r.rec.Key, "reason", f.Reason,
				"attempt", f.Attempts, "given_up", f.GivenUp, "err", r.err)
			st.Failed++
			st.FailedObjects = append(st.FailedObjects, *f)
			continue
		}
		in.cfg.Failures.Succeed(r.rec.Key)
		if countsOnly {
			r.counts.each(func(k bucketIndex, c Count) {
				key := BucketKey{SLI: ids[k.sli], Minute: k.minute}
				old := b.Counts[key]
				b.Counts[key] = Count{Good: old.Good + c.Good, Total: old.Total + c.Total}
			})
			st.Objects++
			continue
		}
		b.Objects = append(b.Objects, r.rec)
		r.counts.each(func(k bucketIndex, c Count) {
			key := BucketKey{SLI: ids[k.sli], Minute: k.minute}
			old := b.Counts[key]
			b.Counts[key] = Count{Good: old.Good + c.Good, Total: old.Total + c.Total}
		})
		for reason, n := range r.malformed {
			b.Malformed[reason] += n
		}
		if lb := r.rec.LoadBalancer; lb != "" && !r.rec.End.IsZero() {
			// Files arrive a few minutes after their interval ends, one per
			// node: the store takes an interval as complete once every
			// active node has delivered it (see completeMinute).
			k := NodeKey(lb, r.rec.Node)
			b.Watermarks[k] = max(b.Watermarks[k], r.rec.End.Unix()/60)
		}
		for lb, end := range r.entryEnds {
			// Plain files: complete up to their newest entry (one pseudo-node).
			k := NodeKey(lb, "entries")
			b.Watermarks[k] = max(b.Watermarks[k], end)
		}
		st.Objects++
		st.Lines += r.rec.Lines
		st.Malformed += r.rec.Malformed
	}
	if len(b.Objects) > 0 || len(b.Counts) > 0 {
		if err := in.cfg.Store.Commit(b); err != nil {
			return &CommitError{Objects: len(b.Objects), Err: err}
		}
	}
	if in.cfg.afterCommit != nil {
		in.cfg.afterCommit()
	}
	if failed != nil {
		return failed
	}
	return nil
}

// reader holds one worker's reusable buffers.
type reader struct {
	br       *bufio.Reader // over the stored bytes
	lr       *bufio.Reader // over the decompressed lines
	gz       *gzip.Reader
	long     []byte
	verdicts []Verdict
	entry    Entry
	lbs      lbCache
}

func newReader() *reader {
	return &reader{br: bufio.NewReaderSize(nil, 64<<10), lr: bufio.NewReaderSize(nil, 256<<10)}
}

// fetchedObject is an object downloaded by a fetcher (body, or the error
// that stopped it), or, when held is 0, one a parser must stream itself.
type fetchedObject struct {
	o    Object
	body []byte
	err  error
	held int64
}

// fetch downloads an object within the per-object deadline, cutting a GET
// that stalls and trying it again (see IngestConfig.StallTimeout).
// fetch reads an object, trying a GET that stalls or fails on the network
// or the server again. It says how long the last GET waited for its first
// byte, and whether any attempt failed in a way more load makes worse.
func (in *Ingester) fetch(ctx context.Context, o Object, p *Progress) (body []byte, ttfb time.Duration, pushedBack bool, err error) {
	backoff := in.cfg.RetryBackoff
	for attempt := 0; ; attempt++ {
		body, ttfb, err = in.fetchOnce(ctx, o, p)
		if err != nil && retryable(err) && ctx.Err() == nil {
			pushedBack = true
		}
		if err == nil || attempt >= in.cfg.Retries || ctx.Err() != nil || !retryable(err) {
			return body, ttfb, pushedBack, err
		}
		in.cfg.Logger.Debug("log object GET failed; trying again", "key", o.Key, "err", err, "in", backoff.String())
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ttfb, pushedBack, err
		case <-t.C:
		}
		backoff *= 2
	}
}

// retryable says whether a failed GET is worth trying again at once: a
// stall or a network or server error, not a denial, a deleted object or a
// broken one.
func retryable(err error) bool {
	switch FailureReason(err) {
	case FailTimeout, FailError:
		return true
	}
	return false
}

func (in *Ingester) fetchOnce(ctx context.Context, o Object, p *Progress) ([]byte, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, in.cfg.ObjectTimeout)
	defer cancel()
	gctx, touch, stop := guardStall(ctx, in.cfg.StallTimeout)
	defer stop()
	began := time.Now()
	body, err := in.cfg.Source.Open(gctx, o.Key)
	if err != nil {
		return nil, 0, stallError(gctx, err)
	}
	defer body.Close()
	ttfb := time.Since(began)
	touch()                                                 // the first byte is in; from now on, progress
	buf := bytes.NewBuffer(getBody(o.Size + bytes.MinRead)) // room to read EOF without growing

	pr := &progressReader{r: &countingReader{r: body, p: p}, touch: touch}
	_, err = buf.ReadFrom(pr)
	if err != nil {
		p.Bytes.Add(-pr.read) // not counted twice when tried again
		return nil, ttfb, fmt.Errorf("%s: %w", o.Key, stallError(gctx, err))
	}
	return buf.Bytes(), ttfb, nil
}

// bodies recycles the buffers objects are fetched into. Without it a
// report allocates the logs' compressed size again (twice, counting the
// growth to read EOF), and the garbage collections that causes cost about
// a tenth of its CPU.
var bodies sync.Pool // of *[]byte

// maxPooledBody is the largest buffer kept for reuse: bigger objects are
// rare and streamed by parsers anyway (see IngestConfig.MaxInFlightBytes).
const maxPooledBody = 32 << 20

func getBody(size int64) []byte {
	if b, ok := bodies.Get().(*[]byte); ok && int64(cap(*b)) >= size {
		return (*b)[:0]
	}
	return make([]byte, 0, size)
}

func putBody(b []byte) {
	if cap(b) > 0 && cap(b) <= maxPooledBody {
		bodies.Put(&b)
	}
}

// readBytes parses a fetched object.
func (r *reader) readBytes(f fetchedObject, cls *Classifier, p *Progress) objectResult {
	if f.err != nil {
		res := newResult(f.o, cls)
		res.err = f.err
		return res
	}
	return r.parse(bytes.NewReader(f.body), f.o, cls, p)
}

func newResult(o Object, cls *Classifier) objectResult {
	return objectResult{
		rec:    ObjectRecord{Key: o.Key, Size: o.Size, ETag: o.ETag, LoadBalancer: o.Info.LoadBalancer, End: o.Info.End, Node: o.Info.Node},
		counts: newTally(len(cls.IDs)),
	}
}

// parse classifies an object's lines and counts its progress.
func (r *reader) parse(body io.Reader, o Object, cls *Classifier, p *Progress) objectResult {
	res := newResult(o, cls)
	lines, err := r.scan(body, strings.HasSuffix(o.Key, ".gz"), cls, &res)
	p.ObjectsDone.Add(1)
	p.Lines.Add(lines)
	p.Malformed.Add(res.rec.Malformed)
	res.rec.Lines = lines
	if err != nil {
		res.err = fmt.Errorf("%s: %w", o.Key, err)
	}
	return res
}

// byteLimit bounds the bytes held by fetched objects not parsed yet.
type byteLimit struct {
	mu    sync.Mutex
	cond  *sync.Cond
	free  int64
	limit int64
}

func newByteLimit(limit int64) *byteLimit {
	l := &byteLimit{free: limit, limit: limit}
	l.cond = sync.NewCond(&l.mu)
	return l
}

// acquire waits until n bytes are free (or ctx ends: false).
func (l *byteLimit) acquire(ctx context.Context, n int64) bool {
	stop := context.AfterFunc(ctx, func() {
		l.mu.Lock()
		l.cond.Broadcast()
		l.mu.Unlock()
	})
	defer stop()
	l.mu.Lock()
	defer l.mu.Unlock()
	for l.free < n && ctx.Err() == nil {
		l.cond.Wait()
	}
	if ctx.Err() != nil {
		return false
	}
	l.free -= n
	return true
}

func (l *byteLimit) release(n int64) {
	if n == 0 {
		return
	}
	l.mu.Lock()
	l.free += n
	l.cond.Broadcast()
	l.mu.Unlock()
}

// read streams an object too big to hold from the source and parses it.
func (r *reader) read(ctx context.Context, src Source, cls *Classifier, o Object, p *Progress, stall time.Duration) objectResult {
	gctx, touch, stop := guardStall(ctx, stall)
	defer stop()
	body, err := src.Open(gctx, o.Key)
	if err != nil {
		res := newResult(o, cls)
		res.err = stallError(gctx, err)
		return res
	}
	defer body.Close()
	touch()
	res := r.parse(&progressReader{r: &countingReader{r: body, p: p}, touch: touch}, o, cls, p)
	res.err = stallError(gctx, res.err)
	return res
}

// ErrNotGzip is an object named .gz whose content is not gzip: read as
// text it would be nothing but malformed lines, so it fails instead.
var ErrNotGzip = errors.New("named .gz but its content is not gzip")

// scan reads one object, gzip (one or several members) or plain, and
// classifies every line. An object named .gz must be gzip.
func (r *reader) scan(body io.Reader, named bool, cls *Classifier, res *objectResult) (int64, error) {
	r.br.Reset(body)
	var in io.Reader = r.br
	magic, err := r.br.Peek(2)
	if len(magic) == 0 && errors.Is(err, io.EOF) {
		return 0, nil // 0-byte objects happen
	}
	isGzip := len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b
	if named && !isGzip {
		return 0, ErrNotGzip
	}
	if isGzip {
		if r.gz == nil {
			r.gz, err = gzip.NewReader(r.br)
		} else {
			err = r.gz.Reset(r.br)
		}
		if err != nil {
			return 0, fmt.Errorf("gzip: %w", err)
		}
		// The decompressor hands its window to lineWriter: lines are
		// classified where they were inflated, not copied into lr first.
		w := lineWriter{r: r, cls: cls, res: res, carry: r.long[:0]}
		_, err := r.gz.WriteTo(&w)
		w.finish()
		r.long = w.carry[:0]
		return w.lines, err
	}
	lr := r.lr
	lr.Reset(in)
	var lines int64
	p := res
	for {
		line, err := lr.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			r.long = append(r.long[:0], line...)
			for errors.Is(err, bufio.ErrBufferFull) {
				line, err = lr.ReadSlice('\n')
				r.long = append(r.long, line...)
			}
			line = r.long
		}
		if len(line) > 0 {
			line = bytes.TrimRight(line, "\r\n")
			if len(line) > 0 {
				lines++
				r.classify(line, cls, p)
			}
		}
		if err == io.EOF {
			return lines, nil
		}
		if err != nil {
			return lines, err
		}
	}
}

// lineWriter classifies the lines written to it in place; only a line
// split between two writes is copied (into carry).
type lineWriter struct {
	r     *reader
	cls   *Classifier
	res   *objectResult
	carry []byte
	lines int64
}

func (w *lineWriter) Write(p []byte) (int, error) {
	n := len(p)
	if len(w.carry) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			w.carry = append(w.carry, p...)
			return n, nil
		}
		w.carry = append(w.carry, p[:i]...)
		w.line(w.carry)
		w.carry = w.carry[:0]
		p = p[i+1:]
	}
	for {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			break
		}
		w.line(p[:i])
		p = p[i+1:]
	}
	w.carry = append(w.carry, p...)
	return n, nil
}

// finish classifies a last line that has no newline.
func (w *lineWriter) finish() {
	if len(w.carry) > 0 {
		w.line(w.carry)
		w.carry = w.carry[:0]
	}
}

func (w *lineWriter) line(l []byte) {
	for len(l) > 0 && (l[len(l)-1] == '\r' || l[len(l)-1] == '\n') {
		l = l[:len(l)-1] // bytes.TrimRight, without building its set per line
	}
	if len(l) > 0 {
		w.lines++
		w.r.classify(l, w.cls, w.res)
	}
}

func (r *reader) classify(line []byte, cls *Classifier, res *objectResult) {
	e := &r.entry
	if err := Parse(line, e); err != nil {
		var pe *ParseError
		errors.As(err, &pe)
		if res.malformed == nil {
			res.malformed = map[string]int64{}
		}
		res.malformed[pe.Reason]++
		res.rec.Malformed++
		return
	}
	r.verdicts = cls.classify(e, r.verdicts[:0], &r.lbs)
	if len(r.verdicts) == 0 {
		return
	}
	m := e.Minute()
	if res.rec.LoadBalancer == "" {
		if res.entryEnds == nil {
			res.entryEnds = map[string]int64{}
		}
		if lb := e.ELB(); res.entryEnds[string(lb)] < m+1 {
			res.entryEnds[string(lb)] = m + 1
		}
	}
	for _, v := range r.verdicts {
		res.counts.add(v.SLI, m, v.Good)
	}
}

type countingReader struct {
	r io.Reader
	p *Progress
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.p.Bytes.Add(int64(n))
	return n, err
}
