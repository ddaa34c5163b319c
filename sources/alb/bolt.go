package alb

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Bucket names in the bbolt file.
var (
	bucketObjects    = []byte("alb_objects")    // object key → ObjectRecord (JSON)
	bucketCounts     = []byte("alb_counts")     // SLI ID → nested bucket: minute (8 bytes BE) → good, total (8+8 bytes BE)
	bucketWatermarks = []byte("alb_watermarks") // load balancer → minute (8 bytes BE)
	bucketMalformed  = []byte("alb_malformed")  // reason → lines (8 bytes BE)
	bucketCounted    = []byte("alb_counted")    // SLI ID → "" for every SLI the ledger's objects were counted for
)

// BoltStore is a Store in a bbolt file: minute buckets and the ledger
// survive restarts, and a commit is one fsynced transaction, so an object is
// either counted and recorded or neither.
type BoltStore struct {
	db *bolt.DB
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
	return &BoltStore{db: db}, nil
}

// OpenDB opens the kakeibo database file under dir, creating both.
func OpenDB(dir string) (*bolt.DB, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	path := filepath.Join(dir, "kakeibo.db")
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return db, nil
}

func (s *BoltStore) Ingested(key string) (ObjectRecord, bool, error) {
	var rec ObjectRecord
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
	return s.db.Update(func(tx *bolt.Tx) error {
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
		// Sorted puts keep bbolt's pages sequential.
		keys := make([]BucketKey, 0, len(b.Counts))
		for k := range b.Counts {
			keys = append(keys, k)
		}
		slices.SortFunc(keys, func(a, b BucketKey) int {
			if a.SLI != b.SLI {
				if a.SLI < b.SLI {
					return -1
				}
				return 1
			}
			return int(a.Minute - b.Minute)
		})
		counts := tx.Bucket(bucketCounts)
		var sb *bolt.Bucket
		sbName := ""
		for _, k := range keys {
			if sb == nil || sbName != k.SLI {
				var err error
				if sb, err = counts.CreateBucketIfNotExists([]byte(k.SLI)); err != nil {
					return err
				}
				sbName = k.SLI
			}
			mk := minuteKey(k.Minute)
			c := b.Counts[k]
			if old := sb.Get(mk[:]); old != nil {
				c.Good += int64(binary.BigEndian.Uint64(old[0:8]))
				c.Total += int64(binary.BigEndian.Uint64(old[8:16]))
			}
			var v [16]byte
			binary.BigEndian.PutUint64(v[0:8], uint64(c.Good))
			binary.BigEndian.PutUint64(v[8:16], uint64(c.Total))
			if err := sb.Put(mk[:], v[:]); err != nil {
				return err
			}
		}
		mal := tx.Bucket(bucketMalformed)
		for r, n := range b.Malformed {
			if err := mal.Put([]byte(r), u64(getU64(mal.Get([]byte(r)))+uint64(n))); err != nil {
				return err
			}
		}
		wms := tx.Bucket(bucketWatermarks)
		for lb, w := range b.Watermarks {
			if old := wms.Get([]byte(lb)); old != nil && int64(getU64(old)) >= w {
				continue
			}
			if err := wms.Put([]byte(lb), u64(uint64(w))); err != nil {
				return err
			}
		}
		return nil
	})
}

func (s *BoltStore) Range(sli string, from, to int64, fn func(int64, Count)) error {
	return s.db.View(func(tx *bolt.Tx) error {
		sb := tx.Bucket(bucketCounts).Bucket([]byte(sli))
		if sb == nil {
			return nil
		}
		c := sb.Cursor()
		fk := minuteKey(from)
		for k, v := c.Seek(fk[:]); k != nil; k, v = c.Next() {
			m := int64(binary.BigEndian.Uint64(k) ^ (1 << 63))
			if m >= to {
				break
			}
			fn(m, Count{Good: int64(binary.BigEndian.Uint64(v[0:8])), Total: int64(binary.BigEndian.Uint64(v[8:16]))})
		}
		return nil
	})
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

func (s *BoltStore) Prune(bucketsBefore int64, objectsBefore time.Time) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		counts := tx.Bucket(bucketCounts)
		err := counts.ForEachBucket(func(name []byte) error {
			c := counts.Bucket(name).Cursor()
			end := minuteKey(bucketsBefore)
			for k, _ := c.First(); k != nil && string(k) < string(end[:]); k, _ = c.First() {
				if err := c.Delete(); err != nil {
					return err
				}
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

// minuteKey orders minutes bytewise: the sign bit is flipped so that
// minutes before 1970 sort first.
func minuteKey(m int64) [8]byte {
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], uint64(m)^(1<<63))
	return k
}

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
