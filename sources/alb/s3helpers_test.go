package alb_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// putTree uploads every file below dir under prefix with put, keyed by its
// path (as ALB writes AWSLogs/...), and returns how many it put.
func putTree(tb testing.TB, dir, prefix string, put func(key string, data []byte)) int {
	tb.Helper()
	n := 0
	require.NoError(tb, filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		require.NoError(tb, err)
		data, err := os.ReadFile(p)
		require.NoError(tb, err)
		put(prefix+filepath.ToSlash(rel), data)
		n++
		return nil
	}))
	return n
}
