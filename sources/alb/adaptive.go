package alb

import (
	"context"
	"sync"
	"time"
)

// adaptiveLimit bounds the GETs in flight the way TCP bounds a window:
// it starts at a safe number, adds one for every GET answered promptly up
// to a ceiling, and halves (not below a floor) when the store pushes back:
// an error (SlowDown, 503, a refused or reset connection, a stall), or a
// first byte that takes far longer than the fastest seen (a full accept
// queue drops connections silently: they are retried after a second, and
// only the wait shows it). A bucket that serves 256 GETs at once gets
// them within a few hundred objects; a small S3-compatible server that
// cannot is not buried under them.
type adaptiveLimit struct {
	tokens chan struct{}

	mu           sync.Mutex
	limit, floor int
	ceiling      int
	debt         int           // tokens to retire after a decrease
	fastest      time.Duration // quickest first byte seen
	lastDecrease time.Time
	now          func() time.Time
}

func newAdaptiveLimit(start, ceiling int) *adaptiveLimit {
	start = max(min(start, ceiling), 1)
	l := &adaptiveLimit{tokens: make(chan struct{}, ceiling), limit: start, floor: min(4, start), ceiling: ceiling, now: time.Now}
	for range start {
		l.tokens <- struct{}{}
	}
	return l
}

func (l *adaptiveLimit) acquire(ctx context.Context) bool {
	select {
	case <-l.tokens:
		return true
	case <-ctx.Done():
		return false
	}
}

// slowFirstByte is how much slower than the fastest a first byte may be
// before it counts as push-back.
func slowFirstByte(fastest time.Duration) time.Duration { return 4*fastest + 500*time.Millisecond }

// release returns a token after a GET: ttfb is its time to first byte
// (zero when it failed before one), pushedBack whether the store refused
// or failed it in a way more load makes worse.
func (l *adaptiveLimit) release(ttfb time.Duration, pushedBack bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if ttfb > 0 && (l.fastest == 0 || ttfb < l.fastest) {
		l.fastest = ttfb
	}
	if ttfb > slowFirstByte(l.fastest) {
		pushedBack = true
	}
	now := l.now()
	switch {
	case pushedBack && now.Sub(l.lastDecrease) >= l.fastest+100*time.Millisecond:
		// Once per round trip: the GETs already in flight saw the same
		// congestion.
		next := max(l.limit/2, l.floor)
		l.debt += l.limit - next
		l.limit, l.lastDecrease = next, now
	retire:
		for l.debt > 0 { // idle tokens first
			select {
			case <-l.tokens:
				l.debt--
			default:
				break retire
			}
		}
	case !pushedBack && l.debt == 0 && l.limit < l.ceiling:
		l.limit++
		l.tokens <- struct{}{}
	}
	if l.debt > 0 {
		l.debt--
		return
	}
	l.tokens <- struct{}{}
}

// current is the limit now.
func (l *adaptiveLimit) current() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.limit
}
