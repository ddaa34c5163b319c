package main

import (
	"fmt"
	"math"
	"time"

	"github.com/kakeibo-slo/kakeibo/slo"
)

// percent prints a ratio as a percentage without float noise: 0.9995 → 99.95.
func percent(ratio float64) string {
	return trimFloat(ratio*100, 6)
}

// trimFloat prints f with at most prec decimals and no trailing zeros.
func trimFloat(f float64, prec int) string { return slo.TrimFloat(f, prec) }

func roundTo(f float64, decimals int) float64 {
	p := math.Pow(10, float64(decimals))
	return math.Round(f*p) / p
}

// shortDuration prints a window the way specs write it: 30d, 1h, 5m.
func shortDuration(d time.Duration) string {
	return slo.FormatDuration(d)
}

// humanDuration prints an amount of time without zero units: 7h12m, 21m36s.
func humanDuration(d time.Duration) string { return slo.HumanDuration(d) }

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
