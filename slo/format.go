package slo

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// HumanDuration prints an amount of time without zero units, to a tenth of
// a second: 7h12m, 21m36s, 22m19.2s, 1d2h. Past 100 days it prints days only.
func HumanDuration(d time.Duration) string {
	if d <= 0 {
		return "0s"
	}
	if d >= 100*24*time.Hour {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	d = d.Round(100 * time.Millisecond)
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
		b.WriteString(TrimFloat(d.Seconds(), 1) + "s")
	}
	return b.String()
}

// TrimFloat prints f with at most prec decimals and no trailing zeros;
// infinities and NaN print as "-".
func TrimFloat(f float64, prec int) string {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return "-"
	}
	s := strconv.FormatFloat(f, 'f', prec, 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	if s == "-0" {
		return "0"
	}
	return s
}
