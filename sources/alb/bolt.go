package alb

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Bucket names in the bbolt file.
var (
	bucketObjects    = []byte("alb_objects")    // object key → ObjectRecord (JSON)
	bucketCounts     = []byte("alb_counts")     // SLI ID → nested bucket of hour records (see hours.go)
	bucketWatermarks = []byte("alb_watermarks") // load balancer → minute (8 bytes BE)
	bucketMalformed  = []byte("alb_malformed")  // reason → lines (8 bytes BE)
	bucketCounted    = []byte("alb_counted")    // SLI ID → "" for every SLI the ledger's objects were counted for
)

// BoltStore is a Store in a bbolt file: minute buckets and the ledger
// survive restarts, and a commit is one fsynced transaction, so an object is
// either counted and recorded or neither.
type BoltStore struct {
	db    *bolt.DB
	cache sumsCache
	// pruned is the last Prune that ran (guarded by cache.mu).
	pruned struct {
		ok      bool
		cut     int64
		objects time.Time
	}
}

// OpenBoltStore opens (or creates) the store in an existing bbolt database.
func OpenBoltStore(db *bolt.DB) (*BoltStore, error) {
	err := db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketObjects, bucketCounts, bucketWatermarks, bucketMalformed, bucketCounted} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("init alb store: %w", err)
	}
	s := &BoltStore{db: db}
	// Versions start from the clock, so those of two openings of the
	// store (a takeover, a restart) never coincide.
	s.cache.seq = uint64(time.Now().UnixNano())
	s.cache.all = s.cache.seq
	return s, nil
}

// OpenDB opens the kakeibo database file under dir, creating both. When
// another process holds it, it fails after a few seconds with a
// *LockedError naming that process.
func OpenDB(dir string) (*bolt.DB, error) { return OpenDBWait(dir, 3*time.Second) }

// OpenDBWait is OpenDB waiting up to wait for the lock. bbolt holds an
// exclusive flock on the file while it is open; the kernel releases it
// when the holder dies, so a standby waiting here takes over at once.
func OpenDBWait(dir string, wait time.Duration) (*bolt.DB, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	path := filepath.Join(dir, "kakeibo.db")
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: wait})
	if errors.Is(err, bolt.ErrTimeout) {
		owner, _ := os.ReadFile(filepath.Join(dir, ownerFile))
		return nil, &LockedError{Path: path, Owner: strings.TrimSpace(string(owner))}
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	host, _ := os.Hostname()
	owner := fmt.Sprintf("pid %d on %s since %s", os.Getpid(), host, time.Now().UTC().Format(time.RFC3339))
	_ = os.WriteFile(filepath.Join(dir, ownerFile), []byte(owner+"\n"), 0o600)
	return db, nil
}

// ownerFile says which process holds the database, for the next one's
// message; it is advice, the flock is the lock.
const ownerFile = "kakeibo.owner"

// LockedError says that another kakeibo has the data directory open.
type LockedError struct {
	Path  string
	Owner string
}

func (e *LockedError) Error() string {
	owner := e.Owner
	if owner == "" {
		owner = "unknown process"
	}
	return fmt.Sprintf("%s is locked by another kakeibo (%s): use another --data-dir, or stop that one", e.Path, owner)
}

func (s *BoltStore) Ingested(key string) (Counted, bool, error) {
	var rec Counted // the record's other fields are skipped, not decoded
	var ok bool
	err := s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketObjects).Get([]byte(key))
		if v == nil {
			return nil
		}
		ok = true
		return json.Unmarshal(v, &rec)
	})
	return rec, ok, err
}

func (s *BoltStore) Commit(b *Batch) error {
	changes := map[string]map[int64]hourChange{}
	// The cache lock spans the write and the cache update, and readers take
	// it before opening their transaction, so a reader never caches sums
	// from before a commit that it then misses.
	s.cache.mu.Lock()
	defer s.cache.mu.Unlock()
	err := s.db.Update(func(tx *bolt.Tx) error {
		objs := tx.Bucket(bucketObjects)
		for _, o := range b.Objects {
			v, err := json.Marshal(o)
			if err != nil {
				return err
			}
			if err := objs.Put([]byte(o.Key), v); err != nil {
				return err
			}
		}
		// Group by SLI and hour; sorted puts keep bbolt's pages sequential.
		byHour := map[string]map[int64]map[int64]Count{}
		for k, c := range b.Counts {
			h := byHour[k.SLI]
			if h == nil {
				h = map[int64]map[int64]Count{}
				byHour[k.SLI] = h
			}
			hr := hourOf(k.Minute)
			if h[hr] == nil {
				h[hr] = map[int64]Count{}
			}
			h[hr][k.Minute] = c
		}
		counts := tx.Bucket(bucketCounts)
		for _, sli := range slices.Sorted(maps.Keys(byHour)) {
			sb, err := counts.CreateBucketIfNotExists([]byte(sli))
			if err != nil {
				return err
			}
			hours := byHour[sli]
			changes[sli] = map[int64]hourChange{}
			for _, hr := range slices.Sorted(maps.Keys(hours)) {
				ch, err := addHour(sb, hr, hours[hr])
				if err != nil {
					return fmt.Errorf("slo %s: %w", sli, err)
				}
				changes[sli][hr] = ch
			}
		}
		mal := tx.Bucket(bucketMalformed)
		for r, n := range b.Malformed {
			if err := mal.Put([]byte(r), u64(getU64(mal.Get([]byte(r)))+uint64(n))); err != nil {
				return err
			}
		}
		wms := tx.Bucket(bucketWatermarks)
		lbs := map[string]bool{}
		for k, w := range b.Watermarks {
			lb, _, _ := strings.Cut(k, "|")
			lbs[lb] = true
			if old := wms.Get([]byte(k)); old != nil && int64(getU64(old)) >= w {
				continue
			}
			if err := wms.Put([]byte(k), u64(uint64(w))); err != nil {
				return err
			}
		}
		for lb := range lbs {
			nodes := map[string]int64{}
			c := wms.Cursor()
			prefix := []byte(lb + "|")
			for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
				nodes[string(k[len(prefix):])] = int64(getU64(v))
			}
			w, ok := completeMinute(nodes, b.grace())
			if !ok {
				continue
			}
			if old := wms.Get([]byte(lb)); old != nil && int64(getU64(old)) >= w {
				continue
			}
			if err := wms.Put([]byte(lb), u64(uint64(w))); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		s.cache.committed(changes)
	}
	return err
}

func (s *BoltStore) Range(sli string, from, to int64, fn func(int64, Count)) error {
	return s.db.View(func(tx *bolt.Tx) error {
		sb := tx.Bucket(bucketCounts).Bucket([]byte(sli))
		if sb == nil || from >= to {
			return nil
		}
		c := sb.Cursor()
		start, end := hourKey('m', hourOf(from)), hourKey('m', hourOf(to-1)+1)
		var m minutesBlob
		for k, v := c.Seek(start[:]); k != nil && k[0] == 'm' && string(k) < string(end[:]); k, v = c.Next() {
			hr := keyHour(k)
			decodeMinutes(v, &m)
			for i, cnt := range m {
				minute := hr*minutesPerHour + int64(i)
				if cnt.Total > 0 && minute >= from && minute < to {
					fn(minute, cnt)
				}
			}
		}
		return nil
	})
}

// Sums adds an SLI's counts over several [from, to) minute ranges in one
// read, from hour sums and the minutes of the edge hours only.
func (s *BoltStore) Sums(sli string, ranges [][2]int64) ([]Count, error) {
	out := make([]Count, len(ranges))
	s.cache.mu.Lock()
	defer s.cache.mu.Unlock()
	err := s.db.View(func(tx *bolt.Tx) error {
		sb := tx.Bucket(bucketCounts).Bucket([]byte(sli))
		sc := s.cache.get(sb, sli)
		for i, r := range ranges {
			out[i] = sc.sum(sb, r[0], r[1])
		}
		return nil
	})
	return out, err
}

// Load writes whole hours of SLIs' minute counts as they are, replacing
// what the store holds for those hours, in one transaction: for tools that
// build a data directory, such as benchmarks. minutes[sli][i] counts
// minute first+i; first starts an hour and every slice holds whole hours.
// Watermarks and the ledger are left alone.
func (s *BoltStore) Load(first int64, minutes map[string][]Count) error {
	if first%minutesPerHour != 0 {
		return fmt.Errorf("load: minute %d does not start an hour", first)
	}
	s.cache.mu.Lock()
	defer s.cache.mu.Unlock()
	return s.db.Update(func(tx *bolt.Tx) error {
		counts := tx.Bucket(bucketCounts)
		for _, sli := range slices.Sorted(maps.Keys(minutes)) {
			ms := minutes[sli]
			if len(ms)%minutesPerHour != 0 {
				return fmt.Errorf("load %s: %d minutes are not whole hours", sli, len(ms))
			}
			s.cache.drop(sli)
			sb, err := counts.CreateBucketIfNotExists([]byte(sli))
			if err != nil {
				return err
			}
			sb.FillPercent = 1 // keys go in order: fill the pages
			// 'h' keys sort before 'm' keys: the sums first, then the minutes.
			for i := 0; i < len(ms); i += minutesPerHour {
				var sum Count
				for _, c := range ms[i : i+minutesPerHour] {
					sum.Good += c.Good
					sum.Total += c.Total
				}
				k := hourKey('h', hourOf(first+int64(i)))
				if err := sb.Put(k[:], encodeSum(sum)); err != nil {
					return err
				}
			}
			for i := 0; i < len(ms); i += minutesPerHour {
				var m minutesBlob
				copy(m[:], ms[i:i+minutesPerHour])
				v, err := encodeMinutes(&m)
				if err != nil {
					return fmt.Errorf("load %s: %w", sli, err)
				}
				k := hourKey('m', hourOf(first+int64(i)))
				if err := sb.Put(k[:], v); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// prunedKey holds, in an SLI's bucket, the sum of the hours Prune deleted
// ('p' sorts after the 'h' and 'm' records).
var prunedKey = []byte{'p'}

// TotalBefore is everything counted for an SLI in the minutes before
// minute, pruned hours included: it never goes down while the SLI is
// counted (until DropSLI), so it makes a counter (see
// sources/alb/remotewrite).
func (s *BoltStore) TotalBefore(sli string, minute int64) (Count, error) {
	var total Count
	s.cache.mu.Lock()
	defer s.cache.mu.Unlock()
	err := s.db.View(func(tx *bolt.Tx) error {
		sb := tx.Bucket(bucketCounts).Bucket([]byte(sli))
		if sb == nil {
			return nil
		}
		total = decodeSum(sb.Get(prunedKey))
		sc := s.cache.get(sb, sli)
		c := sc.sum(sb, sc.base*minutesPerHour, minute) // every minute record has its hour's sum
		total.Good += c.Good
		total.Total += c.Total
		return nil
	})
	return total, err
}

// Version says when an SLI's counts last changed: it grows with every
// commit or deletion that touches them, so a result computed from the
// counts at one version still holds while the version is the same (read
// it before the counts).
func (s *BoltStore) Version(sli string) uint64 {
	s.cache.mu.Lock()
	defer s.cache.mu.Unlock()
	return max(s.cache.versions[sli], s.cache.all)
}

func (s *BoltStore) Watermark(lb string) (int64, bool, error) {
	var w int64
	var ok bool
	err := s.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketWatermarks).Get([]byte(lb)); v != nil {
			w, ok = int64(getU64(v)), true
		}
		return nil
	})
	return w, ok, err
}

func (s *BoltStore) Newest(lb string) (int64, bool, error) {
	var newest int64
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketWatermarks).Cursor()
		prefix := []byte(lb + "|")
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			newest = max(newest, int64(getU64(v)))
		}
		return nil
	})
	return newest, newest > 0, err
}

func (s *BoltStore) MalformedLines() (map[string]int64, error) {
	out := map[string]int64{}
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMalformed).ForEach(func(k, v []byte) error {
			out[string(k)] = int64(getU64(v))
			return nil
		})
	})
	return out, err
}

// Prune works in whole hours, so it walks the store at most once per hour
// of clock: a call whose cuts moved less than that since the last one that
// ran does nothing. What it deletes lies before every range the lookback
// reads, so cached sums are trimmed, not dropped, and versions stay.
func (s *BoltStore) Prune(bucketsBefore int64, objectsBefore time.Time) error {
	s.cache.mu.Lock()
	defer s.cache.mu.Unlock()
	cut := hourOf(bucketsBefore)
	if s.pruned.ok && cut <= s.pruned.cut && objectsBefore.Sub(s.pruned.objects) < time.Hour {
		return nil
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		counts := tx.Bucket(bucketCounts)
		err := counts.ForEachBucket(func(name []byte) error {
			sb := counts.Bucket(name)
			// Whole hours before the cut go; the hour holding it stays.
			// Their sums go into the SLI's pruned total, so that what was
			// counted before a minute (TotalBefore) never goes down.
			pruned := decodeSum(sb.Get(prunedKey))
			var gone int
			for _, kind := range []byte{'m', 'h'} {
				c := sb.Cursor()
				end := hourKey(kind, cut)
				first := hourKey(kind, math.MinInt64/2)
				for k, v := c.Seek(first[:]); k != nil && k[0] == kind && string(k) < string(end[:]); k, v = c.Seek(first[:]) {
					if kind == 'h' {
						sum := decodeSum(v)
						pruned.Good += sum.Good
						pruned.Total += sum.Total
						gone++
					}
					if err := c.Delete(); err != nil {
						return err
					}
				}
			}
			if gone > 0 {
				return sb.Put(prunedKey, encodeSum(pruned))
			}
			return nil
		})
		if err != nil {
			return err
		}
		objs := tx.Bucket(bucketObjects)
		c := objs.Cursor()
		var stale [][]byte
		for k, v := c.First(); k != nil; k, v = c.Next() {
			var rec ObjectRecord
			if json.Unmarshal(v, &rec) == nil && !rec.End.IsZero() && rec.End.Before(objectsBefore) {
				stale = append(stale, slices.Clone(k))
			}
		}
		for _, k := range stale {
			if err := objs.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		s.cache.drop("")
		return err
	}
	s.cache.trim(cut)
	s.pruned.ok, s.pruned.cut, s.pruned.objects = true, cut, objectsBefore
	return nil
}

func (s *BoltStore) Ledger(fn func(ObjectRecord) error) error {
	return s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketObjects).ForEach(func(_, v []byte) error {
			var rec ObjectRecord
			if err := json.Unmarshal(v, &rec); err != nil {
				return err
			}
			return fn(rec)
		})
	})
}

func (s *BoltStore) CountedSLIs() (map[string]bool, error) {
	out := map[string]bool{}
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketCounted).ForEach(func(k, _ []byte) error {
			out[string(k)] = true
			return nil
		})
	})
	return out, err
}

func (s *BoltStore) SetCountedSLIs(set map[string]bool) error {
	s.cache.mu.Lock()
	defer s.cache.mu.Unlock()
	defer s.cache.drop("")
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketCounted)
		var gone [][]byte
		if err := b.ForEach(func(k, _ []byte) error {
			if !set[string(k)] {
				gone = append(gone, slices.Clone(k))
			}
			return nil
		}); err != nil {
			return err
		}
		for _, k := range gone {
			if err := b.Delete(k); err != nil {
				return err
			}
			if err := tx.Bucket(bucketCounts).DeleteBucket(k); err != nil && err != bolt.ErrBucketNotFound {
				return err
			}
		}
		for id := range set {
			if err := b.Put([]byte(id), nil); err != nil {
				return err
			}
		}
		return nil
	})
}

func (s *BoltStore) DropSLI(sli string) error {
	s.cache.mu.Lock()
	defer s.cache.mu.Unlock()
	defer s.cache.drop(sli)
	return s.db.Update(func(tx *bolt.Tx) error {
		err := tx.Bucket(bucketCounts).DeleteBucket([]byte(sli))
		if err == bolt.ErrBucketNotFound {
			return nil
		}
		return err
	})
}

// Close does not close the database, which its opener owns.
func (s *BoltStore) Close() error { return nil }

func u64(v uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, v)
	return b
}

func getU64(b []byte) uint64 {
	if len(b) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(b)
}
