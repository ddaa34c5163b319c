// Command albgen writes a synthetic ALB access log tree, laid out like the
// S3 bucket ALB delivers to, for examples, tests and benchmarks.
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/kakeibo-slo/kakeibo/sources/alb/albgen"
)

func main() {
	out := flag.String("out", "", "directory to write the tree into (required)")
	start := flag.String("start", "2026-10-01", "first day (UTC), YYYY-MM-DD")
	days := flag.Int("days", 1, "number of days")
	perMinute := flag.Int("per-minute", 20, "mean requests per minute per load balancer")
	traps := flag.Bool("traps", true, "add non-access-log objects and mixed encodings")
	flag.Parse()
	if *out == "" {
		fmt.Fprintln(os.Stderr, "albgen: --out is required")
		os.Exit(2)
	}
	day, err := time.Parse("2006-01-02", *start)
	if err != nil {
		fmt.Fprintln(os.Stderr, "albgen: --start:", err)
		os.Exit(2)
	}
	cfg := albgen.Example(day, *perMinute)
	cfg.Duration = time.Duration(*days) * 24 * time.Hour
	cfg.Traps = *traps
	sum, err := albgen.Write(cfg, *out)
	if err != nil {
		fmt.Fprintln(os.Stderr, "albgen:", err)
		os.Exit(1)
	}
	fmt.Printf("%d files, %d lines (%d malformed), %d MB uncompressed\n", sum.Files, sum.Lines, sum.Malformed, sum.Bytes>>20)
}
