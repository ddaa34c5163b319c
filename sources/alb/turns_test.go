package alb

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestTurnsServeLowestFirst: waiting LISTs get the slot lowest priority
// value first, then in arrival order; a waiter whose context ends leaves
// the queue, and a slot granted to it meanwhile goes on to the next.
func TestTurnsServeLowestFirst(t *testing.T) {
	tu := &turns{free: 1}
	require.NoError(t, tu.acquire(t.Context(), 0)) // the slot is taken
	got := make(chan int64, 4)
	start := func(prio int64) {
		go func() {
			require.NoError(t, tu.acquire(context.Background(), prio))
			got <- prio
			tu.release()
		}()
	}
	start(30)
	waitQueued(t, tu, 1)
	start(10)
	waitQueued(t, tu, 2)
	ctx, cancel := context.WithCancel(t.Context())
	gone := make(chan error, 1)
	go func() { gone <- tu.acquire(ctx, 5) }()
	waitQueued(t, tu, 3)
	start(20)
	waitQueued(t, tu, 4)
	cancel()
	require.ErrorIs(t, <-gone, context.Canceled)
	tu.release()
	require.Equal(t, []int64{10, 20, 30}, []int64{<-got, <-got, <-got})
	require.Eventually(t, func() bool {
		tu.mu.Lock()
		defer tu.mu.Unlock()
		return tu.free == 1 && len(tu.waiting) == 0
	}, 5*time.Second, time.Millisecond, "the slot is back")
}

func waitQueued(t *testing.T, tu *turns, n int) {
	t.Helper()
	require.Eventually(t, func() bool {
		tu.mu.Lock()
		defer tu.mu.Unlock()
		return len(tu.waiting) == n
	}, 5*time.Second, time.Millisecond)
}
