package alb

// tally counts one object's verdicts per SLI and minute. A log file covers
// five minutes, so nearly every entry lands in a small dense array around
// the first entry's minute; the rest (WebSocket entries logged when the
// connection closed, odd files) go to a map.
type tally struct {
	nSLI   int
	base   int64
	dense  []Count // denseMinutes × nSLI, from base
	sparse map[bucketIndex]Count
}

const denseMinutes = 16

func newTally(nSLI int) *tally {
	return &tally{nSLI: nSLI}
}

func (t *tally) add(sli int, minute int64, good bool) {
	if t.dense == nil {
		t.base = minute - denseMinutes/4
		t.dense = make([]Count, denseMinutes*t.nSLI)
	}
	var c *Count
	if off := minute - t.base; off >= 0 && off < denseMinutes {
		c = &t.dense[int(off)*t.nSLI+sli]
	} else {
		if t.sparse == nil {
			t.sparse = map[bucketIndex]Count{}
		}
		k := bucketIndex{sli: sli, minute: minute}
		v := t.sparse[k]
		c = &v
		defer func() { t.sparse[k] = v }()
	}
	c.Total++
	if good {
		c.Good++
	}
}

// each calls fn for every non-empty bucket.
func (t *tally) each(fn func(bucketIndex, Count)) {
	for i, c := range t.dense {
		if c.Total > 0 {
			fn(bucketIndex{sli: i % t.nSLI, minute: t.base + int64(i/t.nSLI)}, c)
		}
	}
	for k, c := range t.sparse {
		fn(k, c)
	}
}
