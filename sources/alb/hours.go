package alb

import (
	"encoding/binary"
	"fmt"
	"math"

	bolt "go.etcd.io/bbolt"
)

// In bbolt, an SLI's counts live in its own bucket (under alb_counts) as
// one record per hour, so that a 30-day window reads hour sums instead of
// 43,200 minutes:
//
//	'm' + hour → 60 × (good, total) as uint32 BE: the hour's minutes
//	'h' + hour → (good, total) as uint64 BE: the hour's sum
//
// Hours are minutes since the epoch / 60, written with the sign bit flipped
// so that they sort bytewise. Both records change in the same transaction.

const minutesPerHour = 60

func hourKey(kind byte, hour int64) [9]byte {
	var k [9]byte
	k[0] = kind
	binary.BigEndian.PutUint64(k[1:], uint64(hour)^(1<<63))
	return k
}

func keyHour(k []byte) int64 { return int64(binary.BigEndian.Uint64(k[1:]) ^ (1 << 63)) }

func hourOf(minute int64) int64 { return floorDiv(minute, minutesPerHour) }

// minutesBlob is an hour of minute counts.
type minutesBlob [minutesPerHour]Count

func decodeMinutes(v []byte, out *minutesBlob) {
	*out = minutesBlob{}
	for i := 0; i < minutesPerHour && 8*i+8 <= len(v); i++ {
		out[i] = Count{Good: int64(binary.BigEndian.Uint32(v[8*i:])), Total: int64(binary.BigEndian.Uint32(v[8*i+4:]))}
	}
}

func encodeMinutes(m *minutesBlob) ([]byte, error) {
	v := make([]byte, 8*minutesPerHour)
	for i, c := range m {
		if c.Total > math.MaxUint32 || c.Good > c.Total || c.Good < 0 {
			return nil, fmt.Errorf("minute count out of range: %+v", c)
		}
		binary.BigEndian.PutUint32(v[8*i:], uint32(c.Good))
		binary.BigEndian.PutUint32(v[8*i+4:], uint32(c.Total))
	}
	return v, nil
}

func decodeSum(v []byte) Count {
	if len(v) != 16 {
		return Count{}
	}
	return Count{Good: int64(binary.BigEndian.Uint64(v)), Total: int64(binary.BigEndian.Uint64(v[8:]))}
}

func encodeSum(c Count) []byte {
	v := make([]byte, 16)
	binary.BigEndian.PutUint64(v, uint64(c.Good))
	binary.BigEndian.PutUint64(v[8:], uint64(c.Total))
	return v
}

// addHour adds minute deltas of one hour to an SLI's bucket and returns
// the hour's new records.
func addHour(b *bolt.Bucket, hour int64, deltas map[int64]Count) (hourChange, error) {
	mk, hk := hourKey('m', hour), hourKey('h', hour)
	var m minutesBlob
	decodeMinutes(b.Get(mk[:]), &m)
	sum := decodeSum(b.Get(hk[:]))
	for minute, d := range deltas {
		i := minute - hour*minutesPerHour
		m[i].Good += d.Good
		m[i].Total += d.Total
		sum.Good += d.Good
		sum.Total += d.Total
	}
	v, err := encodeMinutes(&m)
	if err != nil {
		return hourChange{}, err
	}
	if err := b.Put(mk[:], v); err != nil {
		return hourChange{}, err
	}
	return hourChange{sum: sum, minutes: m}, b.Put(hk[:], encodeSum(sum))
}
