package main

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/kakeibo-slo/kakeibo/slo"
)

// percent prints a ratio as a percentage without float noise: 0.9995 → 99.95.
func percent(ratio float64) string {
	return trimFloat(ratio*100, 6)
}

// trimFloat prints f with at most prec decimals and no trailing zeros.
func trimFloat(f float64, prec int) string {
	s := strconv.FormatFloat(f, 'f', prec, 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

func roundTo(f float64, decimals int) float64 {
	p := math.Pow(10, float64(decimals))
	return math.Round(f*p) / p
}

// shortDuration prints a window the way specs write it: 30d, 1h, 5m.
func shortDuration(d time.Duration) string {
	return slo.FormatDuration(d)
}

// humanDuration prints an amount of time without zero units: 7h12m, 21m36s, 20m9.6s.
func humanDuration(d time.Duration) string {
	if d == 0 {
		return "0s"
	}
	var b strings.Builder
	if days := d / (24 * time.Hour); days > 0 {
		fmt.Fprintf(&b, "%dd", days)
		d -= days * 24 * time.Hour
	}
	if h := d / time.Hour; h > 0 {
		fmt.Fprintf(&b, "%dh", h)
		d -= h * time.Hour
	}
	if m := d / time.Minute; m > 0 {
		fmt.Fprintf(&b, "%dm", m)
		d -= m * time.Minute
	}
	if d > 0 {
		b.WriteString(trimFloat(d.Seconds(), 3) + "s")
	}
	return b.String()
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// filesOf counts the distinct files problems were found in.
func filesOf(errs slo.Errors) int {
	files := map[string]bool{}
	for _, e := range errs {
		files[e.File] = true
	}
	return len(files)
}
