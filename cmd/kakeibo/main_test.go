package main

import (
	"flag"
	"os"
	"runtime"
	"strconv"
	"testing"
)

// TestMain lets more parallel tests run at once than go test's default of
// one per CPU: this package's parallel tests start kakeibo, Prometheus and
// fake APIs as processes and spend most of their time waiting for them
// (TestRulesBackfill waits for rule evaluations; it uses a few seconds of
// CPU in about 50), so on 2 CPUs two at a time left the machine half idle.
// An explicit -parallel still wins.
func TestMain(m *testing.M) {
	flag.Parse()
	explicit := false
	flag.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "test.parallel" })
	if !explicit {
		_ = flag.Set("test.parallel", strconv.Itoa(max(4, 2*runtime.GOMAXPROCS(0))))
	}
	os.Exit(m.Run())
}
