package alb

import (
	"bytes"
	"os"
	"testing"
)

// BenchmarkParseFile parses the lines of KAKEIBO_BENCH_LINES (a plain log
// file, e.g. from bench/alb.sh's all.log): the shape of real traffic
// rather than the documentation's examples.
func BenchmarkParseFile(b *testing.B) {
	path := os.Getenv("KAKEIBO_BENCH_LINES")
	if path == "" {
		b.Skip("KAKEIBO_BENCH_LINES is not set")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	lines := bytes.Split(bytes.TrimSpace(data), []byte("\n"))
	b.SetBytes(int64(len(data)))
	var e Entry
	for b.Loop() {
		for _, l := range lines {
			_ = Parse(l, &e)
		}
	}
}
