package alb

import (
	"context"
	"fmt"
	"io"
	"time"
)

// ErrStalled is a GET that stopped making progress: no first byte, or no
// further byte of the body, within the stall timeout. It is a timeout
// (FailTimeout).
var ErrStalled = fmt.Errorf("stalled: no byte within the stall timeout: %w", context.DeadlineExceeded)

// guardStall returns a context that ends with ErrStalled as its cause
// when touch is not called for d: a GET is cut when it stops making
// progress, however long a slow but steady one takes. stop releases it.
func guardStall(ctx context.Context, d time.Duration) (gctx context.Context, touch, stop func()) {
	gctx, cancel := context.WithCancelCause(ctx)
	t := time.AfterFunc(d, func() { cancel(ErrStalled) })
	return gctx, func() { t.Reset(d) }, func() { t.Stop(); cancel(nil) }
}

// stallError says ErrStalled for an error caused by the guard's ending.
func stallError(ctx context.Context, err error) error {
	if err != nil && context.Cause(ctx) == ErrStalled {
		return ErrStalled
	}
	return err
}

// progressReader calls touch whenever bytes arrive.
type progressReader struct {
	r     io.Reader
	touch func()
	read  int64 // bytes so far
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if n > 0 {
		p.read += int64(n)
		p.touch()
	}
	return n, err
}
