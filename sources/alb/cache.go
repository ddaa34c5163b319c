package alb

import (
	"sync"

	bolt "go.etcd.io/bbolt"
)

// sumsCache keeps, per SLI, its hour sums in memory (a dense slice: 16 bytes
// an hour, 12 KB for 31 days) and the few minute records that window edges
// read, so that an evaluation cycle touches memory instead of bbolt pages.
// Commit updates it after its transaction succeeds; anything that deletes
// records drops it.
type sumsCache struct {
	mu   sync.Mutex
	slis map[string]*sliCache
	// versions: every commit or deletion that touches an SLI gives it the
	// next seq; dropping everything sets all.
	seq      uint64
	versions map[string]uint64
	all      uint64
}

// changed gives an SLI (every SLI when sli is "") a new version. The
// caller holds c.mu.
func (c *sumsCache) changed(sli string) {
	c.seq++
	if sli == "" {
		c.all, c.versions = c.seq, nil
		return
	}
	if c.versions == nil {
		c.versions = map[string]uint64{}
	}
	c.versions[sli] = c.seq
}

type sliCache struct {
	base  int64   // hour of sums[0]
	sums  []Count // hour sums from base on
	edges map[int64]*edgeBlob
}

// edgeBlob is an hour of minute counts as the file holds them (uint32
// pairs, see encodeMinutes): half the memory of a minutesBlob.
type edgeBlob [minutesPerHour][2]uint32

func newEdge(m *minutesBlob) *edgeBlob {
	var e edgeBlob
	for i, c := range m {
		e[i] = [2]uint32{uint32(c.Good), uint32(c.Total)}
	}
	return &e
}

const maxEdgeBlobs = 16

func (c *sumsCache) drop(sli string) {
	c.changed(sli)
	if sli == "" {
		c.slis = nil
		return
	}
	delete(c.slis, sli)
}

// trim forgets the cached hours before cut, which Prune deleted.
func (c *sumsCache) trim(cut int64) {
	for _, sc := range c.slis {
		if n := cut - sc.base; n > 0 && len(sc.sums) > 0 {
			sc.sums = sc.sums[min(int(n), len(sc.sums)):]
			sc.base = cut
		}
		for h := range sc.edges {
			if h < cut {
				delete(sc.edges, h)
			}
		}
	}
}

// get returns an SLI's cache, loading its hour sums on first use.
func (c *sumsCache) get(sb *bolt.Bucket, sli string) *sliCache {
	if c.slis == nil {
		c.slis = map[string]*sliCache{}
	}
	sc := c.slis[sli]
	if sc != nil {
		return sc
	}
	sc = &sliCache{edges: map[int64]*edgeBlob{}}
	if sb != nil {
		cur := sb.Cursor()
		first := hourKey('h', -1<<62)
		k, v := cur.Seek(first[:])
		if k != nil && k[0] == 'h' {
			// Size the slice from the first and last hour, then fill it.
			lo := keyHour(k)
			hi := lo
			if lk, _ := cur.Seek([]byte{'i'}); lk == nil {
				if lk, _ = cur.Last(); lk != nil && lk[0] == 'h' {
					hi = keyHour(lk)
				}
			} else if pk, _ := cur.Prev(); pk != nil && pk[0] == 'h' {
				hi = keyHour(pk)
			}
			sc.base, sc.sums = lo, make([]Count, hi-lo+1)
			for k, v = cur.Seek(first[:]); k != nil && k[0] == 'h'; k, v = cur.Next() {
				sc.set(keyHour(k), decodeSum(v))
			}
		}
	}
	c.slis[sli] = sc
	return sc
}

func (sc *sliCache) set(hour int64, v Count) {
	if len(sc.sums) == 0 {
		sc.base = hour
	}
	if hour < sc.base {
		grown := make([]Count, int(sc.base-hour)+len(sc.sums))
		copy(grown[sc.base-hour:], sc.sums)
		sc.sums, sc.base = grown, hour
	}
	i := int(hour - sc.base)
	for len(sc.sums) <= i {
		sc.sums = append(sc.sums, Count{})
	}
	sc.sums[i] = v
}

func (sc *sliCache) hours(from, to int64) Count {
	var total Count
	lo, hi := max(from-sc.base, 0), min(to-sc.base, int64(len(sc.sums)))
	for i := lo; i < hi; i++ {
		total.Good += sc.sums[i].Good
		total.Total += sc.sums[i].Total
	}
	return total
}

func (sc *sliCache) minutes(sb *bolt.Bucket, hour int64) *edgeBlob {
	if m, ok := sc.edges[hour]; ok {
		return m
	}
	var blob minutesBlob
	if sb != nil {
		k := hourKey('m', hour)
		decodeMinutes(sb.Get(k[:]), &blob)
	}
	m := newEdge(&blob)
	if len(sc.edges) >= maxEdgeBlobs {
		for h := range sc.edges { // edges move slowly: forget any
			delete(sc.edges, h)
			break
		}
	}
	sc.edges[hour] = m
	return m
}

// sum adds [from, to) minutes: whole hours from the sums, edges from minutes.
func (sc *sliCache) sum(sb *bolt.Bucket, from, to int64) Count {
	var total Count
	if from >= to {
		return total
	}
	add := func(c Count) { total.Good += c.Good; total.Total += c.Total }
	partial := func(hour, lo, hi int64) {
		m := sc.minutes(sb, hour)
		for i := lo - hour*minutesPerHour; i < hi-hour*minutesPerHour; i++ {
			add(Count{Good: int64(m[i][0]), Total: int64(m[i][1])})
		}
	}
	firstFull := -floorDiv(-from, minutesPerHour)
	endFull := floorDiv(to, minutesPerHour)
	if firstFull >= endFull {
		h := hourOf(from)
		partial(h, from, min(to, (h+1)*minutesPerHour))
		if hourOf(to-1) != h {
			partial(hourOf(to-1), hourOf(to-1)*minutesPerHour, to)
		}
		return total
	}
	if from < firstFull*minutesPerHour {
		partial(firstFull-1, from, firstFull*minutesPerHour)
	}
	add(sc.hours(firstFull, endFull))
	if to > endFull*minutesPerHour {
		partial(endFull, endFull*minutesPerHour, to)
	}
	return total
}

// committed records what a successful commit changed: new hour sums and
// minute records for the hours it touched. The caller holds c.mu.
func (c *sumsCache) committed(changes map[string]map[int64]hourChange) {
	for sli, hours := range changes {
		c.changed(sli)
		sc := c.slis[sli]
		if sc == nil {
			continue // not loaded yet: it will read the committed records
		}
		for h, ch := range hours {
			sc.set(h, ch.sum)
			if _, ok := sc.edges[h]; ok {
				sc.edges[h] = newEdge(&ch.minutes)
			}
		}
	}
}

type hourChange struct {
	sum     Count
	minutes minutesBlob
}
