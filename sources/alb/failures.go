package alb

import (
	"compress/flate"
	"context"
	"errors"
	"io"
	"io/fs"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/smithy-go"
	"github.com/klauspost/compress/gzip"
)

// Failure reasons of a log object that cannot be read.
const (
	FailTruncated = "truncated" // the gzip stream ends early
	FailCorrupt   = "corrupt"   // not a valid gzip stream
	FailDenied    = "denied"    // AccessDenied, permission denied
	FailVanished  = "vanished"  // deleted between listing and reading
	FailTimeout   = "timeout"   // no answer within the per-object deadline
	FailNotGzip   = "not_gzip"  // named .gz, but the content is not gzip
	FailError     = "error"     // anything else (network, 5xx)
)

// FailureReasons lists every reason, for metrics.
var FailureReasons = []string{FailTruncated, FailCorrupt, FailDenied, FailVanished, FailTimeout, FailNotGzip, FailError}

// FailureReason sorts a read error into one of FailureReasons.
func FailureReason(err error) string {
	var api smithy.APIError
	var corrupt flate.CorruptInputError
	switch {
	case errors.Is(err, ErrNotGzip):
		return FailNotGzip
	case errors.Is(err, context.DeadlineExceeded):
		return FailTimeout
	case errors.Is(err, io.ErrUnexpectedEOF):
		return FailTruncated
	case errors.Is(err, gzip.ErrChecksum), errors.Is(err, gzip.ErrHeader), errors.As(err, &corrupt):
		return FailCorrupt
	case errors.Is(err, fs.ErrNotExist):
		return FailVanished
	case errors.Is(err, fs.ErrPermission):
		return FailDenied
	case errors.As(err, &api):
		switch api.ErrorCode() {
		case "AccessDenied", "Forbidden", "AllAccessDisabled", "InvalidObjectState":
			return FailDenied
		case "NoSuchKey", "NotFound":
			return FailVanished
		}
	}
	if strings.Contains(err.Error(), "gzip") {
		return FailCorrupt
	}
	return FailError
}

// Failure is a log object that could not be read.
type Failure struct {
	Key       string    `json:"key"`
	Reason    string    `json:"reason"`
	Error     string    `json:"error"`
	Attempts  int       `json:"attempts"`
	First     time.Time `json:"first"`
	NextTry   time.Time `json:"next_try"`
	GivenUp   bool      `json:"given_up"`
	Bytes     int64     `json:"bytes"`
	LastTried time.Time `json:"last_tried"`
}

// Failures remembers the objects that could not be read, so that one bad
// object (truncated, denied, deleted, stalled) never stops an ingest: it is
// tried again with backoff (1m, doubling) and skipped after MaxAttempts,
// until RetryAll. It is safe for concurrent use.
type Failures struct {
	// MaxAttempts before an object is given up (default 5).
	MaxAttempts int
	mu          sync.Mutex
	byKey       map[string]*Failure
	// OnFail, when set, is called for every failed attempt (metrics).
	OnFail func(reason string)
}

// NewFailures returns an empty set.
func NewFailures() *Failures { return &Failures{MaxAttempts: 5, byKey: map[string]*Failure{}} }

// Due says whether an object should be read at now.
func (f *Failures) Due(key string, now time.Time) bool {
	if f == nil {
		return true
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	x, ok := f.byKey[key]
	return !ok || (!x.GivenUp && !now.Before(x.NextTry))
}

// Fail records a failed attempt.
func (f *Failures) Fail(key string, size int64, err error, now time.Time) *Failure {
	if f == nil {
		return nil
	}
	reason := FailureReason(err)
	f.mu.Lock()
	x, ok := f.byKey[key]
	if !ok {
		x = &Failure{Key: key, First: now}
		f.byKey[key] = x
	}
	x.Attempts++
	x.Reason, x.Error, x.Bytes, x.LastTried = reason, err.Error(), size, now
	x.NextTry = now.Add(time.Minute << min(x.Attempts-1, 10))
	max := f.MaxAttempts
	if max <= 0 {
		max = 5
	}
	x.GivenUp = x.Attempts >= max
	c := *x
	f.mu.Unlock()
	if f.OnFail != nil {
		f.OnFail(reason)
	}
	return &c
}

// Succeed forgets an object that was read after all.
func (f *Failures) Succeed(key string) {
	if f == nil {
		return
	}
	f.mu.Lock()
	delete(f.byKey, key)
	f.mu.Unlock()
}

// RetryAll makes every failed object due again (kakeibo ingest
// --retry-failed, a spec reload).
func (f *Failures) RetryAll() {
	if f == nil {
		return
	}
	f.mu.Lock()
	for _, x := range f.byKey {
		x.Attempts, x.GivenUp, x.NextTry = 0, false, time.Time{}
	}
	f.mu.Unlock()
}

// List returns the failed objects, given up first, then by key.
func (f *Failures) List() []Failure {
	if f == nil {
		return nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]Failure, 0, len(f.byKey))
	for _, x := range f.byKey {
		out = append(out, *x)
	}
	slices.SortFunc(out, func(a, b Failure) int {
		if a.GivenUp != b.GivenUp {
			if a.GivenUp {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Key, b.Key)
	})
	return out
}
