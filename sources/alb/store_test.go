package alb

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestStores(t *testing.T) {
	for name, open := range map[string]func(t *testing.T) Store{
		"memory": func(*testing.T) Store { return NewMemStore() },
		"bbolt": func(t *testing.T) Store {
			db, err := OpenDB(t.TempDir())
			require.NoError(t, err)
			t.Cleanup(func() { db.Close() })
			s, err := OpenBoltStore(db)
			require.NoError(t, err)
			return s
		},
	} {
		t.Run(name, func(t *testing.T) {
			s := open(t)
			day := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
			m0 := day.Unix() / 60
			require.NoError(t, s.Commit(&Batch{
				Objects: []ObjectRecord{{Key: "a", Size: 10, End: day.Add(5 * time.Minute)}, {Key: "b", Size: 20, End: day.Add(48 * time.Hour)}},
				Counts: map[BucketKey]Count{
					{SLI: "s/x", Minute: m0}:      {Good: 9, Total: 10},
					{SLI: "s/x", Minute: m0 + 1}:  {Good: 5, Total: 5},
					{SLI: "s/x", Minute: m0 + 90}: {Good: 1, Total: 2},
					{SLI: "s/y", Minute: m0}:      {Good: 1, Total: 1},
					{SLI: "s/x", Minute: -5}:      {Good: 1, Total: 1}, // before 1970 sorts first
				},
				Malformed:  map[string]int64{"bad_time": 2},
				Watermarks: map[string]int64{"app/lb/1": m0 + 100},
			}))
			// A second commit adds to the same buckets; a lower watermark does not lower it.
			require.NoError(t, s.Commit(&Batch{
				Counts:     map[BucketKey]Count{{SLI: "s/x", Minute: m0}: {Good: 1, Total: 2}},
				Malformed:  map[string]int64{"bad_time": 1, "too_few_fields": 4},
				Watermarks: map[string]int64{"app/lb/1": m0 + 50},
			}))

			c, err := Counts(s, "s/x", day, day.Add(time.Hour))
			require.NoError(t, err)
			require.Equal(t, 15.0, c.Good)
			require.Equal(t, 17.0, c.Total)
			// Bounds inside a minute round up: [00:00:30, 01:30:00) starts at 00:01.
			c, err = Counts(s, "s/x", day.Add(30*time.Second), day.Add(90*time.Minute))
			require.NoError(t, err)
			require.Equal(t, 5.0, c.Total)

			slices, err := SliceCounts(s, "s/x", day, day.Add(2*time.Hour), time.Hour)
			require.NoError(t, err)
			require.Len(t, slices, 2)
			require.Equal(t, 17.0, slices[0].Total)
			require.Equal(t, 2.0, slices[1].Total)

			var minutes []int64
			require.NoError(t, s.Range("s/x", -10, m0+1000, func(m int64, _ Count) { minutes = append(minutes, m) }))
			require.Equal(t, []int64{-5, m0, m0 + 1, m0 + 90}, minutes)

			w, ok, err := s.Watermark("app/lb/1")
			require.NoError(t, err)
			require.True(t, ok)
			require.Equal(t, m0+100, w)
			_, ok, err = s.Watermark("app/other/2")
			require.NoError(t, err)
			require.False(t, ok)

			mal, err := s.MalformedLines()
			require.NoError(t, err)
			require.Equal(t, map[string]int64{"bad_time": 3, "too_few_fields": 4}, mal)

			rec, ok, err := s.Ingested("a")
			require.NoError(t, err)
			require.True(t, ok)
			require.Equal(t, int64(10), rec.Size)

			// Prune buckets before 01:00 and ledger records of objects that ended before day 2.
			require.NoError(t, s.Prune(m0+60, day.Add(24*time.Hour)))
			minutes = nil
			require.NoError(t, s.Range("s/x", -10, m0+1000, func(m int64, _ Count) { minutes = append(minutes, m) }))
			require.Equal(t, []int64{m0 + 90}, minutes)
			_, ok, _ = s.Ingested("a")
			require.False(t, ok)
			_, ok, _ = s.Ingested("b")
			require.True(t, ok)
		})
	}
}

func TestParseOldestFormat(t *testing.T) {
	// The 2018 format had 25 fields: cut a 29-field AWS example down to 25.
	line := sampleLines(t)[0]
	fields := splitFields(line)
	require.Len(t, fields, 29)
	old := strings.Join(fields[:25], " ")
	var e Entry
	require.NoError(t, Parse([]byte(old), &e))
	require.Equal(t, 25, e.NumFields())
	require.Equal(t, 200, e.ELBStatusCode())
	require.Nil(t, e.Field(FieldTargetPortList))
	require.Equal(t, ErrTooFewFields, Parse([]byte(strings.Join(fields[:24], " ")), &e))
}

// splitFields cuts a line into its raw fields, quotes kept.
func splitFields(line string) []string {
	var out []string
	var e Entry
	if Parse([]byte(line), &e) != nil {
		return nil
	}
	rest := line
	for range e.NumFields() {
		if rest[0] == '"' {
			j := quoteEnd([]byte(rest), 1)
			out = append(out, rest[:j+1])
			rest = rest[min(j+2, len(rest)):]
			continue
		}
		j := indexOf(rest, " ")
		if j < 0 {
			out = append(out, rest)
			break
		}
		out = append(out, rest[:j])
		rest = rest[j+1:]
	}
	return out
}

// TestBoltSumsAgreeWithMinutes checks the hour-sum shortcut against
// adding minutes one by one, over random buckets and random ranges.
func TestBoltSumsAgreeWithMinutes(t *testing.T) {
	db, err := OpenDB(t.TempDir())
	require.NoError(t, err)
	defer db.Close()
	s, err := OpenBoltStore(db)
	require.NoError(t, err)
	rng := rand.New(rand.NewPCG(1, 2))
	base := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC).Unix() / 60
	truth := map[int64]Count{}
	for range 5 {
		b := &Batch{Counts: map[BucketKey]Count{}}
		for range 400 {
			m := base + rng.Int64N(5*24*60)
			total := rng.Int64N(100) + 1
			c := Count{Good: rng.Int64N(total + 1), Total: total}
			k := BucketKey{SLI: "s/x", Minute: m}
			old := b.Counts[k]
			b.Counts[k] = Count{Good: old.Good + c.Good, Total: old.Total + c.Total}
			tt := truth[m]
			truth[m] = Count{Good: tt.Good + c.Good, Total: tt.Total + c.Total}
		}
		require.NoError(t, s.Commit(b))
	}
	var ranges [][2]int64
	for range 300 {
		from := base - 100 + rng.Int64N(5*24*60+200)
		ranges = append(ranges, [2]int64{from, from + rng.Int64N(3*24*60)})
	}
	ranges = append(ranges, [2]int64{base, base}, [2]int64{base + 60, base + 120}, [2]int64{base + 59, base + 61})
	got, err := s.Sums("s/x", ranges)
	require.NoError(t, err)
	for i, r := range ranges {
		var want Count
		for m, c := range truth {
			if m >= r[0] && m < r[1] {
				want.Good += c.Good
				want.Total += c.Total
			}
		}
		require.Equal(t, want, got[i], "range %v", r)
	}
	missing, err := s.Sums("nobody", ranges[:1])
	require.NoError(t, err)
	require.Equal(t, []Count{{}}, missing)
}

// TestWatermarkWaitsForEveryNode: with two nodes, an interval is complete
// only when both delivered it, or when the late one is more than the grace
// (10m) behind; a node silent for an hour no longer counts.
func TestWatermarkWaitsForEveryNode(t *testing.T) {
	for _, store := range []Store{NewMemStore(), boltStore(t)} {
		lb := "app/shop/0123456789abcdef"
		at := func(hhmm string) int64 {
			tm, err := time.Parse("2006-01-02 15:04", "2026-10-01 "+hhmm)
			require.NoError(t, err)
			return tm.Unix() / 60
		}
		deliver := func(node, hhmm string) {
			require.NoError(t, store.Commit(&Batch{Watermarks: map[string]int64{NodeKey(lb, node): at(hhmm)}}))
		}
		wm := func() string {
			w, ok, err := store.Watermark(lb)
			require.NoError(t, err)
			require.True(t, ok)
			return MinuteTime(w).Format("15:04")
		}
		deliver("a", "10:05")
		deliver("b", "10:05")
		require.Equal(t, "10:00", wm())
		deliver("a", "10:10")
		require.Equal(t, "10:00", wm(), "b has not delivered 10:10 yet")
		deliver("b", "10:10")
		require.Equal(t, "10:05", wm())
		// b falls behind: a keeps delivering; within the grace (two
		// intervals) b is waited for, beyond it b is given up.
		deliver("a", "10:15")
		deliver("a", "10:20")
		require.Equal(t, "10:05", wm(), "b is 10 minutes behind: within the grace")
		deliver("a", "10:25")
		require.Equal(t, "10:20", wm(), "b is 15 minutes behind: given up, a decides")
		newest := func() string {
			w, ok, err := store.Newest(lb)
			require.NoError(t, err)
			require.True(t, ok)
			return MinuteTime(w).Format("15:04")
		}
		require.Equal(t, "10:25", newest())
		// b's late file arrives: b counts again, and the watermark never
		// goes back.
		deliver("b", "10:15")
		require.Equal(t, "10:20", wm())
		deliver("b", "10:25")
		deliver("a", "10:30")
		require.Equal(t, "10:20", wm(), "b is back, and behind")
		deliver("b", "10:30")
		require.Equal(t, "10:25", wm())
	}
}

// TestNodeGraceIsConfigurable: with a grace of 5 minutes (one delivery
// interval), a node one interval behind is still waited for, and one two
// intervals behind is given up, where the default waits for it.
func TestNodeGraceIsConfigurable(t *testing.T) {
	for _, store := range []Store{NewMemStore(), boltStore(t)} {
		lb := "app/shop/0123456789abcdef"
		at := func(hhmm string) int64 {
			tm, err := time.Parse("2006-01-02 15:04", "2026-10-01 "+hhmm)
			require.NoError(t, err)
			return tm.Unix() / 60
		}
		deliver := func(node, hhmm string, grace time.Duration) {
			require.NoError(t, store.Commit(&Batch{Watermarks: map[string]int64{NodeKey(lb, node): at(hhmm)}, NodeGrace: grace}))
		}
		wm := func() string {
			w, _, err := store.Watermark(lb)
			require.NoError(t, err)
			return MinuteTime(w).Format("15:04")
		}
		deliver("a", "10:05", 0)
		deliver("b", "10:05", 0)
		deliver("a", "10:10", 5*time.Minute)
		require.Equal(t, "10:00", wm(), "b 5 minutes behind: waited for")
		deliver("a", "10:15", 0)
		require.Equal(t, "10:00", wm(), "b 10 minutes behind: the default grace waits")
		deliver("a", "10:15", 5*time.Minute)
		require.Equal(t, "10:10", wm(), "b 10 minutes behind: a 5-minute grace gives it up")
	}
}

func boltStore(t *testing.T) Store {
	db, err := OpenDB(t.TempDir())
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	s, err := OpenBoltStore(db)
	require.NoError(t, err)
	return s
}

// TestPruneKeepsTheCacheExact: after a prune, the cached sums agree with a
// store opened afresh on the same file (the pruned hours are gone from
// both), versions move with commits and deletions but not with a prune,
// and a prune whose cut moved less than an hour does not walk the store.
func TestPruneKeepsTheCacheExact(t *testing.T) {
	dir := t.TempDir()
	db, err := OpenDB(dir)
	require.NoError(t, err)
	s, err := OpenBoltStore(db)
	require.NoError(t, err)
	base := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC).Unix() / 60
	b := &Batch{Counts: map[BucketKey]Count{}}
	for m := base; m < base+6*60; m += 7 {
		b.Counts[BucketKey{SLI: "s/x", Minute: m}] = Count{Good: 9, Total: 10}
		b.Counts[BucketKey{SLI: "s/y", Minute: m}] = Count{Good: 1, Total: 1}
	}
	require.NoError(t, s.Commit(b))
	ranges := [][2]int64{{base, base + 6*60}, {base + 120, base + 300}, {base + 121, base + 122}}
	before, err := s.Sums("s/x", ranges) // loads the cache
	require.NoError(t, err)
	vx, vy := s.Version("s/x"), s.Version("s/y")
	require.NotZero(t, vx)

	totalBefore := func(m int64) Count {
		c, err := s.TotalBefore("s/x", m)
		require.NoError(t, err)
		return c
	}
	beforeEnd, beforeMid := totalBefore(base+6*60), totalBefore(base+200)
	require.Equal(t, before[0], beforeEnd)
	require.NoError(t, s.Prune(base+150, time.Unix(0, 0))) // hours before 02:00 go
	require.Equal(t, vx, s.Version("s/x"), "a prune changes nothing the lookback reads")
	require.Equal(t, beforeEnd, totalBefore(base+6*60), "what was counted before a minute never goes down")
	require.Equal(t, beforeMid, totalBefore(base+200))
	cached, err := s.Sums("s/x", ranges)
	require.NoError(t, err)
	require.Less(t, cached[0].Total, before[0].Total, "the pruned hours are gone")
	require.Equal(t, before[1:], cached[1:], "what lies after the cut is unchanged")

	// A prune within the same hour does nothing: a commit into a pruned
	// hour stays readable until the cut passes another hour.
	require.NoError(t, s.Commit(&Batch{Counts: map[BucketKey]Count{{SLI: "s/x", Minute: base + 5}: {Good: 1, Total: 1}}}))
	require.Greater(t, s.Version("s/x"), vx)
	require.Equal(t, vy, s.Version("s/y"), "only the SLI a commit touches moves")
	require.NoError(t, s.Prune(base+170, time.Unix(0, 0)))
	got, err := s.Sums("s/x", [][2]int64{{base, base + 60}})
	require.NoError(t, err)
	require.Equal(t, Count{Good: 1, Total: 1}, got[0])

	require.NoError(t, s.DropSLI("s/y"))
	require.Greater(t, s.Version("s/y"), vy)
	cached, err = s.Sums("s/x", ranges)
	require.NoError(t, err)
	require.NoError(t, db.Close())

	db, err = OpenDB(dir)
	require.NoError(t, err)
	defer db.Close()
	fresh, err := OpenBoltStore(db)
	require.NoError(t, err)
	reread, err := fresh.Sums("s/x", ranges)
	require.NoError(t, err)
	require.Equal(t, reread, cached, "the cache says what the file says")
}
