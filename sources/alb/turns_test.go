package alb

import (
	"context"
	"fmt"
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

// TestDayQueueHandsDaysOnInOrder: days listed in any order reach fn a day
// after another, oldest first; the head day's objects pass at once, a
// later day's wait and then go in time order.
func TestDayQueueHandsDaysOnInOrder(t *testing.T) {
	var got []string
	q := &dayQueue{days: make([]queuedDay, 3)}
	q.fn = func(o Object) error { got = append(got, o.Key); return nil } // add and run call it in turn here
	for i := range q.days {
		q.days[i].done = make(chan struct{})
	}
	at := func(day, minute int) Object {
		return Object{Key: fmt.Sprintf("d%d-%02d", day, minute), Info: KeyInfo{End: time.Date(2026, 10, day+1, 0, minute, 0, 0, time.UTC)}}
	}
	// Day 2 and day 1 are listed first, out of time order.
	require.NoError(t, q.add(2, at(2, 10)))
	require.NoError(t, q.add(1, at(1, 20)))
	require.NoError(t, q.add(1, at(1, 5)))
	close(q.days[2].done)
	close(q.days[1].done)
	require.Empty(t, got, "nothing before the oldest day")
	// Day 0, the head, passes its objects on as they come.
	require.NoError(t, q.add(0, at(0, 1)))
	require.Equal(t, []string{"d0-01"}, got)
	done := make(chan error)
	go func() { done <- q.run(t.Context()) }()
	require.Eventually(t, func() bool { q.mu.Lock(); defer q.mu.Unlock(); return q.head == 0 && !q.flushing }, 5*time.Second, time.Millisecond)
	q.mu.Lock()
	require.Equal(t, []string{"d0-01"}, got)
	q.mu.Unlock()
	close(q.days[0].done)
	require.NoError(t, <-done)
	require.Equal(t, []string{"d0-01", "d1-05", "d1-20", "d2-10"}, got)
}
