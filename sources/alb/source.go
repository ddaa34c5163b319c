package alb

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Object is an access log object to ingest.
type Object struct {
	Key  string
	Size int64
	ETag string
	Info KeyInfo
}

// Source lists and opens access log objects: a directory tree or S3.
type Source interface {
	// List calls fn for every access log object that may hold entries of
	// [from, to); zero bounds are open.
	List(ctx context.Context, from, to time.Time, fn func(Object) error) error
	// Open returns an object's content as stored (gzip or plain).
	Open(ctx context.Context, key string) (io.ReadCloser, error)
	// String names the source for logs.
	String() string
}

// NewSource returns a Source for a directory or an s3://bucket/prefix URL.
func NewSource(ctx context.Context, location string, s3cfg S3Config) (Source, error) {
	if strings.HasPrefix(location, "s3://") {
		return NewS3Source(ctx, location, s3cfg)
	}
	info, err := os.Stat(location)
	if err != nil {
		return nil, fmt.Errorf("alb logs: %w", err)
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("alb logs: %s is not a directory", location)
	}
	return &DirSource{Root: location}, nil
}

// DirSource reads a local directory tree, laid out like the S3 bucket or
// not: every *.log.gz and *.log below Root is a candidate.
type DirSource struct {
	Root string
}

func (d *DirSource) String() string { return d.Root }

// Newest returns the end of the newest log interval in the directory. It
// walks folders newest name first, so once a newer log is known, day
// folders (yyyy/mm/dd) too old to hold a newer one are not read: with
// months of logs kept, it reads about the last two days.
func (d *DirSource) Newest(ctx context.Context) (time.Time, error) {
	var newest time.Time
	var walk func(dir string) error
	walk = func(dir string) error {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return err
		}
		for i := len(entries) - 1; i >= 0; i-- {
			if err := ctx.Err(); err != nil {
				return err
			}
			e := entries[i]
			p := filepath.Join(dir, e.Name())
			if e.IsDir() {
				if strings.HasPrefix(e.Name(), ".") {
					continue
				}
				if day, ok := dayFolder(p); ok && !newest.IsZero() && day.Add(48*time.Hour).Before(newest) {
					continue
				}
				if err := walk(p); err != nil {
					return err
				}
				continue
			}
			key, err := d.key(p)
			if err != nil {
				return err
			}
			if IsAccessLog(key) {
				if end := ParseKey(key).End; end.After(newest) {
					newest = end
				}
			}
		}
		return nil
	}
	return newest, walk(d.Root)
}

func (d *DirSource) List(ctx context.Context, from, to time.Time, fn func(Object) error) error {
	return filepath.WalkDir(d.Root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if e.IsDir() {
			if p != d.Root && strings.HasPrefix(e.Name(), ".") {
				return filepath.SkipDir
			}
			// A day folder (yyyy/mm/dd) out of range is not walked: with
			// months of logs kept, a cycle reads the few days it needs.
			if day, ok := dayFolder(p); ok && !dayInRange(day, from, to) {
				return filepath.SkipDir
			}
			return nil
		}
		key, err := d.key(p)
		if err != nil {
			return err
		}
		if !IsAccessLog(key) {
			return nil
		}
		info := ParseKey(key)
		if !dayInRange(info.Day, from, to) || !endInRange(info.End, from) {
			return nil
		}
		fi, err := e.Info()
		if err != nil {
			return err
		}
		return fn(Object{Key: key, Size: fi.Size(), Info: info})
	})
}

// key is the object key of a path WalkDir found under the root: the path
// past the root, cut off without filepath.Rel's cleaning (every file of
// the folders in range is keyed each cycle).
func (d *DirSource) key(p string) (string, error) {
	if rest, ok := strings.CutPrefix(p, d.Root); ok && len(rest) > 1 && os.IsPathSeparator(rest[0]) && !os.IsPathSeparator(d.Root[len(d.Root)-1]) {
		return filepath.ToSlash(rest[1:]), nil
	}
	rel, err := filepath.Rel(d.Root, p)
	return filepath.ToSlash(rel), err
}

// dayFolder reads the delivery day of a folder whose last three names are
// yyyy/mm/dd.
func dayFolder(p string) (time.Time, bool) {
	dd := filepath.Base(p)
	mm := filepath.Base(filepath.Dir(p))
	yyyy := filepath.Base(filepath.Dir(filepath.Dir(p)))
	if len(dd) != 2 || len(mm) != 2 || len(yyyy) != 4 {
		return time.Time{}, false
	}
	day, err := time.Parse("2006/01/02", yyyy+"/"+mm+"/"+dd)
	return day, err == nil
}

func (d *DirSource) Open(_ context.Context, key string) (io.ReadCloser, error) {
	return os.Open(filepath.Join(d.Root, filepath.FromSlash(key)))
}
