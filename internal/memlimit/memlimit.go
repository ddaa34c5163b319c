// Package memlimit sets the Go runtime's soft memory limit from the
// container's memory limit (cgroup v2 memory.max, or v1
// memory.limit_in_bytes), as Prometheus does with --auto-gomemlimit: the
// garbage collector then works harder near the limit instead of letting the
// heap double past it and the kernel kill the process.
package memlimit

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
)

// unlimited is what cgroup v1 reports when no limit is set (a page-rounded
// MaxInt64); anything at or above it means none.
const unlimited = int64(1) << 62

// Root is where cgroup filesystems are mounted.
var Root = "/sys/fs/cgroup"

// ContainerLimit returns the memory limit of the cgroup this process runs
// in, from procCgroup (the text of /proc/self/cgroup) and the files under
// root. ok is false when there is none.
func ContainerLimit(root, procCgroup string) (limit int64, ok bool, err error) {
	var v2, v1 string
	sc := bufio.NewScanner(strings.NewReader(procCgroup))
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		switch {
		case parts[0] == "0" && parts[1] == "":
			v2 = parts[2]
		case strings.Contains(","+parts[1]+",", ",memory,"):
			v1 = parts[2]
		}
	}
	read := func(path string) (int64, bool, error) {
		b, err := os.ReadFile(path)
		if err != nil {
			return 0, false, err
		}
		s := strings.TrimSpace(string(b))
		if s == "max" {
			return 0, false, nil
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, false, fmt.Errorf("%s: %w", path, err)
		}
		return n, n > 0 && n < unlimited, nil
	}
	if v1 != "" {
		for _, p := range []string{filepath.Join(root, "memory", v1, "memory.limit_in_bytes"), filepath.Join(root, "memory", "memory.limit_in_bytes")} {
			if n, ok, err := read(p); err == nil {
				return n, ok, nil
			}
		}
	}
	if v2 != "" {
		for _, p := range []string{filepath.Join(root, v2, "memory.max"), filepath.Join(root, "memory.max")} {
			if n, ok, err := read(p); err == nil {
				return n, ok, nil
			}
		}
	}
	return 0, false, nil
}

// Apply sets the soft memory limit to ratio × the container's limit,
// unless GOMEMLIMIT is set or ratio is 0. It returns the limit set (0:
// none) and why not.
func Apply(ratio float64) (int64, error) {
	if ratio <= 0 || os.Getenv("GOMEMLIMIT") != "" {
		return 0, nil
	}
	if ratio > 1 {
		return 0, errors.New("the memory limit ratio must be in (0, 1]")
	}
	self, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return 0, nil // not Linux, or no /proc: nothing to follow
	}
	limit, ok, err := ContainerLimit(Root, string(self))
	if err != nil || !ok {
		return 0, err
	}
	soft := int64(float64(limit) * ratio)
	debug.SetMemoryLimit(soft)
	return soft, nil
}
