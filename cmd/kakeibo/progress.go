package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/kakeibo-slo/kakeibo/sources/alb"
)

// startProgressBar redraws a one-line progress bar on w until stopped:
// files, megabytes read and lines per second.
func startProgressBar(w io.Writer, p *alb.Progress) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	start := time.Now()
	draw := func(final bool) {
		total, n := p.ObjectsTotal.Load(), p.ObjectsDone.Load()
		frac := 1.0
		if total > 0 {
			frac = float64(n) / float64(total)
		}
		const width = 24
		filled := int(frac * width)
		bar := strings.Repeat("=", filled) + strings.Repeat(" ", width-filled)
		secs := max(time.Since(start).Seconds(), 0.001)
		fmt.Fprintf(w, "\r[%s] %d/%d files  %.1f MB  %.0f lines/s ", bar, n, total, float64(p.Bytes.Load())/1e6, float64(p.Lines.Load())/secs)
		if final {
			fmt.Fprintln(w)
		}
	}
	go func() {
		defer close(finished)
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				draw(false)
			case <-done:
				draw(true)
				return
			}
		}
	}()
	return func() { close(done); <-finished }
}
