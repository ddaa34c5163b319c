package alb

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// available counts the tokens free now.
func available(l *adaptiveLimit) int {
	n := 0
	for {
		select {
		case <-l.tokens:
			n++
		default:
			for range n {
				l.tokens <- struct{}{}
			}
			return n
		}
	}
}

// TestAdaptiveLimit: GETs in flight start at 32 and grow by one per prompt
// answer up to the ceiling; push-back (an error, or a first byte far
// slower than the fastest: a dropped connection retried) halves them, once
// per round trip, not below the floor; and they grow again.
func TestAdaptiveLimit(t *testing.T) {
	now := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	l := newAdaptiveLimit(32, 256)
	l.now = func() time.Time { return now }
	require.Equal(t, 32, available(l))
	get := func(ttfb time.Duration, pushedBack bool) {
		require.True(t, l.acquire(t.Context()))
		l.release(ttfb, pushedBack)
	}
	for range 224 {
		get(50*time.Millisecond, false)
	}
	require.Equal(t, 256, l.current())
	require.Equal(t, 256, available(l))
	get(50*time.Millisecond, false)
	require.Equal(t, 256, l.current(), "not past the ceiling")

	// 256 GETs in flight; the store pushes back on all of them.
	for range 256 {
		require.True(t, l.acquire(t.Context()))
	}
	l.release(0, true)
	require.Equal(t, 128, l.current())
	for range 255 {
		l.release(0, true) // the same congestion: one decrease a round trip
	}
	require.Equal(t, 128, l.current())
	require.Equal(t, 128, available(l), "the extra tokens are retired as GETs end")

	now = now.Add(time.Second)
	get(1200*time.Millisecond, false) // a SYN dropped and retried: slow, no error
	require.Equal(t, 64, l.current())
	for range 10 {
		now = now.Add(time.Second)
		get(0, true)
	}
	require.Equal(t, 4, l.current(), "not below the floor")
	for range 60 {
		get(50*time.Millisecond, false)
	}
	require.Equal(t, 64, l.current(), "and back up while answers are prompt")
	require.Equal(t, 64, available(l))
}
