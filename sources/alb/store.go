package alb

import (
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/kakeibo-slo/kakeibo/slo"
)

// Count is the good and total events of one SLI in one minute.
type Count struct {
	Good, Total int64
}

// BucketKey names a minute bucket: an SLI (objective ID) and a UTC minute
// (minutes since the Unix epoch).
type BucketKey struct {
	SLI    string
	Minute int64
}

// ObjectRecord is the ledger's entry for an ingested log object.
type ObjectRecord struct {
	Key  string `json:"key"`
	Size int64  `json:"size"`
	ETag string `json:"etag,omitempty"`
	// LoadBalancer and End come from the object's name, when it follows the
	// AWS naming scheme: End closes the 5-minute interval the file covers.
	LoadBalancer string    `json:"lb,omitempty"`
	End          time.Time `json:"end"`
	Node         string    `json:"node,omitempty"`
	Lines        int64     `json:"lines"`
	Malformed    int64     `json:"malformed"`
}

// Counted is what the ledger says of an object when it is listed again:
// the size and ETag it had when it was counted.
type Counted struct {
	Size int64  `json:"size"`
	ETag string `json:"etag,omitempty"`
}

// Batch is what one commit adds: the counts of whole objects and their
// ledger records. A store applies a batch entirely or not at all.
type Batch struct {
	Objects []ObjectRecord
	Counts  map[BucketKey]Count
	// Malformed counts skipped lines by reason.
	Malformed map[string]int64
	// Watermarks raises the newest interval end (minute) each node of a
	// load balancer delivered, keyed NodeKey(lb, node); the load balancer's
	// watermark follows from them (see completeMinute).
	Watermarks map[string]int64
	// NodeGrace is how long a node may fall behind the newest delivery of
	// its load balancer before it is given up (default DefaultNodeGrace).
	NodeGrace time.Duration
}

// grace is the node grace in minutes.
func (b *Batch) grace() int64 {
	if b.NodeGrace <= 0 {
		return int64(DefaultNodeGrace / time.Minute)
	}
	return int64(b.NodeGrace / time.Minute)
}

// Store keeps minute buckets, the ledger of ingested objects and ingestion
// watermarks.
type Store interface {
	// Ingested says whether an object key was counted, and with what size
	// and ETag. Every listed object is looked up every cycle, so it reads no
	// more of the ledger record than that.
	Ingested(key string) (Counted, bool, error)
	// Commit applies a batch in one transaction.
	Commit(b *Batch) error
	// Range calls fn for every non-empty minute bucket of an SLI in
	// [from, to) (minutes since the epoch), in order.
	Range(sli string, from, to int64, fn func(minute int64, c Count)) error
	// Sums adds an SLI's buckets over each [from, to) minute range.
	Sums(sli string, ranges [][2]int64) ([]Count, error)
	// Watermark is the newest minute believed complete for a load balancer:
	// entries up to its end are in. ok is false before any object is ingested.
	Watermark(lb string) (minute int64, ok bool, err error)
	// Newest is the newest interval end (minute) any node of a load
	// balancer delivered: how far its logs reach, complete or not. It is
	// ahead of the watermark while a node that left is waited for.
	Newest(lb string) (minute int64, ok bool, err error)
	// MalformedLines returns the lines skipped so far, by reason.
	MalformedLines() (map[string]int64, error)
	// Prune drops minute buckets before a minute, and ledger records of
	// objects whose interval ended before another.
	Prune(bucketsBefore int64, objectsBefore time.Time) error
	// CountedSLIs is the set of SLIs every ledgered object was counted for.
	CountedSLIs() (map[string]bool, error)
	// SetCountedSLIs replaces that set and drops the buckets of SLIs that
	// left it.
	SetCountedSLIs(set map[string]bool) error
	// DropSLI deletes an SLI's buckets (before it is counted afresh).
	DropSLI(sli string) error
	// Ledger calls fn for every object the ledger holds.
	Ledger(fn func(ObjectRecord) error) error
	Close() error
}

// Versioned is a Store that says when an SLI's counts last changed (see
// BoltStore.Version).
type Versioned interface {
	Version(sli string) uint64
}

// Counts sums an SLI's buckets over [from, to): a slo source's counts.
func Counts(s Store, sli string, from, to time.Time) (slo.Counts, error) {
	cs, err := s.Sums(sli, [][2]int64{{ceilMinute(from), ceilMinute(to)}})
	if err != nil {
		return slo.Counts{}, err
	}
	return slo.Counts{Good: float64(cs[0].Good), Total: float64(cs[0].Total)}, nil
}

// SliceCounts cuts [from, to) into slices of length slice and sums each.
func SliceCounts(s Store, sli string, from, to time.Time, slice time.Duration) ([]slo.Counts, error) {
	n := int(to.Sub(from) / slice)
	out := make([]slo.Counts, n)
	start := ceilMinute(from)
	per := int64(slice / time.Minute)
	err := s.Range(sli, start, start+int64(n)*per, func(m int64, b Count) {
		i := (m - start) / per
		out[i].Good += float64(b.Good)
		out[i].Total += float64(b.Total)
	})
	return out, err
}

// ceilMinute is the first whole minute at or after t.
func ceilMinute(t time.Time) int64 {
	return -floorDiv(-t.Unix(), 60)
}

// MinuteTime is the start of a minute since the epoch.
func MinuteTime(m int64) time.Time { return time.Unix(m*60, 0).UTC() }

// MemStore is a Store in memory, for one-shot runs.
type MemStore struct {
	mu         sync.Mutex
	objects    map[string]ObjectRecord
	counts     map[string]map[int64]Count
	malformed  map[string]int64
	watermarks map[string]int64
	counted    map[string]bool
}

// NewMemStore returns an empty in-memory store.
func NewMemStore() *MemStore {
	return &MemStore{objects: map[string]ObjectRecord{}, counts: map[string]map[int64]Count{}, malformed: map[string]int64{}, watermarks: map[string]int64{}}
}

func (s *MemStore) Ingested(key string) (Counted, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.objects[key]
	return Counted{Size: r.Size, ETag: r.ETag}, ok, nil
}

func (s *MemStore) Commit(b *Batch) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, o := range b.Objects {
		s.objects[o.Key] = o
	}
	for k, c := range b.Counts {
		m := s.counts[k.SLI]
		if m == nil {
			m = map[int64]Count{}
			s.counts[k.SLI] = m
		}
		old := m[k.Minute]
		m[k.Minute] = Count{Good: old.Good + c.Good, Total: old.Total + c.Total}
	}
	for r, n := range b.Malformed {
		s.malformed[r] += n
	}
	lbs := map[string]bool{}
	for k, w := range b.Watermarks {
		if old, ok := s.watermarks[k]; !ok || w > old {
			s.watermarks[k] = w
		}
		lb, _, _ := strings.Cut(k, "|")
		lbs[lb] = true
	}
	for lb := range lbs {
		nodes := map[string]int64{}
		for k, w := range s.watermarks {
			if rest, ok := strings.CutPrefix(k, lb+"|"); ok {
				nodes[rest] = w
			}
		}
		if w, ok := completeMinute(nodes, b.grace()); ok {
			if old, had := s.watermarks[lb]; !had || w > old {
				s.watermarks[lb] = w
			}
		}
	}
	return nil
}

// NodeKey keys a node's newest delivered interval in Batch.Watermarks.
func NodeKey(lb, node string) string { return lb + "|" + node }

// DefaultNodeGrace is how far a load balancer node may fall behind the
// newest delivery before it is given up: two 5-minute delivery
// intervals. ALBs add and remove nodes as traffic changes; a node that
// was scaled in stops delivering, and waiting longer for it would only
// delay every page after a scale-in. A node that delivers again counts
// again, and a late file is counted once whenever it lands.
const DefaultNodeGrace = 10 * time.Minute

// completeMinute is a load balancer's watermark from the newest interval
// end each of its nodes delivered: the oldest of the nodes within
// grace minutes of the newest (the others are given up), less one 5-minute
// interval, as a file for an interval may still be on its way when the
// next one lands.
func completeMinute(nodes map[string]int64, grace int64) (int64, bool) {
	var newest int64
	for _, w := range nodes {
		newest = max(newest, w)
	}
	if newest == 0 {
		return 0, false
	}
	complete := newest
	for _, w := range nodes {
		if w >= newest-grace {
			complete = min(complete, w)
		}
	}
	return complete - 5, true
}

func (s *MemStore) Newest(lb string) (int64, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var newest int64
	for k, w := range s.watermarks {
		if strings.HasPrefix(k, lb+"|") {
			newest = max(newest, w)
		}
	}
	return newest, newest > 0, nil
}

func (s *MemStore) Range(sli string, from, to int64, fn func(int64, Count)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.counts[sli]
	if int64(len(m)) < to-from {
		// Sparse: sort the few buckets there are.
		keys := make([]int64, 0, len(m))
		for k := range m {
			if k >= from && k < to {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		for _, k := range keys {
			fn(k, m[k])
		}
		return nil
	}
	for k := from; k < to; k++ {
		if c, ok := m[k]; ok {
			fn(k, c)
		}
	}
	return nil
}

func (s *MemStore) Sums(sli string, ranges [][2]int64) ([]Count, error) {
	out := make([]Count, len(ranges))
	for i, r := range ranges {
		_ = s.Range(sli, r[0], r[1], func(_ int64, c Count) {
			out[i].Good += c.Good
			out[i].Total += c.Total
		})
	}
	return out, nil
}

func (s *MemStore) Watermark(lb string) (int64, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	w, ok := s.watermarks[lb]
	return w, ok, nil
}

func (s *MemStore) MalformedLines() (map[string]int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int64, len(s.malformed))
	for k, v := range s.malformed {
		out[k] = v
	}
	return out, nil
}

func (s *MemStore) Prune(bucketsBefore int64, objectsBefore time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range s.counts {
		for k := range m {
			if k < bucketsBefore {
				delete(m, k)
			}
		}
	}
	for k, o := range s.objects {
		if !o.End.IsZero() && o.End.Before(objectsBefore) {
			delete(s.objects, k)
		}
	}
	return nil
}

func (s *MemStore) CountedSLIs() (map[string]bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.counted), nil
}

func (s *MemStore) SetCountedSLIs(set map[string]bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id := range s.counted {
		if !set[id] {
			delete(s.counts, id)
		}
	}
	s.counted = maps.Clone(set)
	return nil
}

func (s *MemStore) DropSLI(sli string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.counts, sli)
	return nil
}

func (s *MemStore) Ledger(fn func(ObjectRecord) error) error {
	s.mu.Lock()
	recs := slices.Collect(maps.Values(s.objects))
	s.mu.Unlock()
	for _, r := range recs {
		if err := fn(r); err != nil {
			return err
		}
	}
	return nil
}

func (s *MemStore) Close() error { return nil }
