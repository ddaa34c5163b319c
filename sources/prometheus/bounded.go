package prometheus

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// DefaultMaxResponseBytes caps one answer of the query API. An SLI query
// sums to one number, so an honest answer is small; a query that returns
// every raw series (a forgotten sum, a label explosion) can answer tens of
// megabytes, whose decoding would take longer than the evaluation and more
// memory than the container has.
const DefaultMaxResponseBytes = 16 << 20

// ResponseTooLargeError is an answer that exceeded the cap.
type ResponseTooLargeError struct {
	Max int64
}

func (e *ResponseTooLargeError) Error() string {
	return fmt.Sprintf("the answer is larger than %s (max_response_size in --prometheus-config); does the query sum its series?", FormatBytes(e.Max))
}

// limitBody caps every response body a round tripper returns: past max
// bytes, reading fails with a ResponseTooLargeError. A declared length over
// the cap fails at once, before anything is read.
type limitBody struct {
	next http.RoundTripper
	max  int64
}

func (l limitBody) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := l.next.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	if resp.ContentLength > l.max {
		resp.Body.Close()
		return nil, &ResponseTooLargeError{Max: l.max}
	}
	resp.Body = &limitedReader{rc: resp.Body, left: l.max, max: l.max}
	return resp, nil
}

type limitedReader struct {
	rc   io.ReadCloser
	left int64
	max  int64
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.left < 0 {
		return 0, &ResponseTooLargeError{Max: l.max}
	}
	if int64(len(p)) > l.left+1 {
		p = p[:l.left+1] // one byte more than allowed tells an answer too large
	}
	n, err := l.rc.Read(p)
	l.left -= int64(n)
	if l.left < 0 {
		return n, &ResponseTooLargeError{Max: l.max}
	}
	return n, err
}

func (l *limitedReader) Close() error { return l.rc.Close() }

// ParseBytes reads a size: a number of bytes, or one with a unit (KiB,
// MiB, GiB; KB, MB, GB as powers of ten).
func ParseBytes(s string) (int64, error) {
	s = strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1}} {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("size %q: want a positive number of bytes, e.g. 16MiB", s)
	}
	return n * mult, nil
}

// FormatBytes writes a size in the largest binary unit it is a whole
// number of.
func FormatBytes(n int64) string {
	for _, u := range []struct {
		name string
		size int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n >= u.size && n%u.size == 0 {
			return strconv.FormatInt(n/u.size, 10) + " " + u.name
		}
	}
	return strconv.FormatInt(n, 10) + " bytes"
}

// acquire takes one of the source's query slots, or gives up when ctx
// ends: a query waiting for a slot behind hung ones is bounded by its
// evaluation's deadline and by shutdown like one in flight.
func (s *Source) acquire(ctx context.Context) (release func(), err error) {
	select {
	case s.sem <- struct{}{}:
		return func() { <-s.sem }, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("waiting for a query slot: %w", ctx.Err())
	}
}
