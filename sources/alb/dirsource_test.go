package alb

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestDirSourceSkipsOldDayFolders: with 40 days of logs of two load
// balancers in two regions (and a copy outside the day folders), Newest
// and a windowed List, which skip day folders out of range, find what a
// walk over every file finds.
func TestDirSourceSkipsOldDayFolders(t *testing.T) {
	root := t.TempDir()
	write := func(rel string) {
		p := filepath.Join(root, filepath.FromSlash(rel))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, nil, 0o644))
	}
	start := time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)
	name := func(region, lb string, end time.Time) string {
		return fmt.Sprintf("AWSLogs/123456789012/elasticloadbalancing/%s/%s/123456789012_elasticloadbalancing_%s_app.%s.50dc6c495c0c9188_%s_10.0.0.1_x.log.gz",
			region, end.Add(-time.Minute).Format("2006/01/02"), region, lb, end.Format("20060102T1504Z"))
	}
	for day := range 40 {
		for h := 0; h < 24; h += 6 {
			end := start.AddDate(0, 0, day).Add(time.Duration(h)*time.Hour + 5*time.Minute)
			write(name("ap-northeast-1", "mart", end))
			if day < 30 { // the second one was deleted ten days ago
				write(name("us-east-1", "web", end))
			}
		}
	}
	d := &DirSource{Root: root}
	all := func(from, to time.Time) (keys []string, newest time.Time) {
		// every file, no folder skipped
		require.NoError(t, filepath.WalkDir(root, func(p string, e os.DirEntry, err error) error {
			if err != nil || e.IsDir() {
				return err
			}
			rel, _ := filepath.Rel(root, p)
			key := filepath.ToSlash(rel)
			info := ParseKey(key)
			if info.End.After(newest) {
				newest = info.End
			}
			if dayInRange(info.Day, from, to) && endInRange(info.End, from) {
				keys = append(keys, key)
			}
			return nil
		}))
		return keys, newest
	}
	_, want := all(time.Time{}, time.Time{})
	got, err := d.Newest(t.Context())
	require.NoError(t, err)
	require.Equal(t, want, got)
	require.Equal(t, start.AddDate(0, 0, 39).Add(18*time.Hour+5*time.Minute), got)

	// A newer copy outside any day folder counts too.
	write("exports/123456789012_elasticloadbalancing_ap-northeast-1_app.mart.50dc6c495c0c9188_20261201T0000Z_10.0.0.1_x.log.gz")
	got, err = d.Newest(t.Context())
	require.NoError(t, err)
	require.Equal(t, time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), got)

	for _, from := range []time.Time{start.AddDate(0, 0, 35), start.AddDate(0, 0, 20), start} {
		to := start.AddDate(0, 0, 41)
		wantKeys, _ := all(from, to)
		var gotKeys []string
		require.NoError(t, d.List(t.Context(), from, to, func(o Object) error { gotKeys = append(gotKeys, o.Key); return nil }))
		require.Equal(t, wantKeys, gotKeys, "from %s", from)
	}
}
