package alerting

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/kakeibo-slo/kakeibo/slo"
)

var (
	bucketStates    = []byte("alert_states")    // alert key → AlertState (JSON)
	bucketOutbox    = []byte("alert_outbox")    // id (8 bytes BE) → Notification (JSON)
	bucketThreads   = []byte("alert_threads")   // incident NUL receiver → Receipt (JSON)
	bucketReminders = []byte("alert_reminders") // reminder key → last run (unix seconds, 8 bytes BE)
	bucketSilences  = []byte("alert_silences")  // silence ID → Silence (JSON)
	bucketSent      = []byte("alert_sent")      // service/slo NUL time (8 bytes BE) id (8 bytes BE) → Sent (JSON)
)

// silenceKeep is how long an expired silence stays listed.
const silenceKeep = 7 * 24 * time.Hour

// Store keeps alert states, the outbox of notifications not yet delivered,
// the receipts of incidents' first messages (for threading) and when each
// reminder last ran, in the bbolt database the service uses.
type Store struct {
	db *bolt.DB
}

// OpenStore prepares the alerting buckets in db.
func OpenStore(db *bolt.DB) (*Store, error) {
	err := db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketStates, bucketOutbox, bucketThreads, bucketReminders, bucketSilences, bucketSent} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("init alerting store: %w", err)
	}
	return &Store{db: db}, nil
}

// States returns every stored alert state.
func (s *Store) States() (map[string]AlertState, error) {
	out := map[string]AlertState{}
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketStates).ForEach(func(k, v []byte) error {
			var st AlertState
			if err := json.Unmarshal(v, &st); err != nil {
				return fmt.Errorf("alert state %s: %w", k, err)
			}
			out[string(k)] = st
			return nil
		})
	})
	return out, err
}

// Change is what one decision writes, atomically: the new alert states
// (replacing all), notifications to enqueue, and reminder runs.
type Change struct {
	States        map[string]AlertState
	Notifications []Notification
	Reminders     map[string]time.Time
}

// Apply writes a change in one transaction: a state transition and the
// notification it causes are stored together or not at all.
func (s *Store) Apply(c Change) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		if c.States != nil {
			sb := tx.Bucket(bucketStates)
			var stale [][]byte
			if err := sb.ForEach(func(k, _ []byte) error {
				if _, ok := c.States[string(k)]; !ok {
					stale = append(stale, append([]byte(nil), k...))
				}
				return nil
			}); err != nil {
				return err
			}
			for _, k := range stale {
				if err := sb.Delete(k); err != nil {
					return err
				}
			}
			for k, st := range c.States {
				v, err := json.Marshal(st)
				if err != nil {
					return err
				}
				if err := sb.Put([]byte(k), v); err != nil {
					return err
				}
			}
		}
		ob := tx.Bucket(bucketOutbox)
		for _, n := range c.Notifications {
			id, err := ob.NextSequence()
			if err != nil {
				return err
			}
			n.ID = id
			if err := putNotification(ob, n); err != nil {
				return err
			}
		}
		rb := tx.Bucket(bucketReminders)
		for k, t := range c.Reminders {
			var v [8]byte
			binary.BigEndian.PutUint64(v[:], uint64(t.Unix()))
			if err := rb.Put([]byte(k), v[:]); err != nil {
				return err
			}
		}
		return nil
	})
}

func putNotification(b *bolt.Bucket, n Notification) error {
	v, err := json.Marshal(n)
	if err != nil {
		return err
	}
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], n.ID)
	return b.Put(k[:], v)
}

// Pending returns the outbox in order.
func (s *Store) Pending() ([]Notification, error) {
	var out []Notification
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketOutbox).ForEach(func(_, v []byte) error {
			var n Notification
			if err := json.Unmarshal(v, &n); err != nil {
				return err
			}
			out = append(out, n)
			return nil
		})
	})
	return out, err
}

// Update rewrites an outbox entry (attempts, in-flight mark).
func (s *Store) Update(n Notification) error {
	return s.db.Update(func(tx *bolt.Tx) error { return putNotification(tx.Bucket(bucketOutbox), n) })
}

// Done removes a delivered (or dropped) notification and, for an
// incident's first message, keeps its receipt for threading. sent is when
// it was delivered (zero for one dropped unsent): alert notifications are
// kept for their SLO's page (RecentSent).
func (s *Store) Done(n Notification, receipt *Receipt, sent time.Time) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		var k [8]byte
		binary.BigEndian.PutUint64(k[:], n.ID)
		if err := tx.Bucket(bucketOutbox).Delete(k[:]); err != nil {
			return err
		}
		if !sent.IsZero() {
			if err := recordSent(tx.Bucket(bucketSent), n, sent); err != nil {
				return err
			}
		}
		if receipt != nil && n.Kind == KindFiring && n.Incident != "" {
			v, err := json.Marshal(receipt)
			if err != nil {
				return err
			}
			return tx.Bucket(bucketThreads).Put(threadKey(n.Incident, n.Target), v)
		}
		return nil
	})
}

// threadKey keeps one receipt per incident and receiver: a route with
// Slack and PagerDuty (or a webhook) has a Slack thread and a PagerDuty
// incident, and neither receiver's order or failure changes the other's.
func threadKey(incident string, t Target) []byte {
	return []byte(incident + "\x00" + t.String())
}

// Thread returns the receipt of the first message of an incident to one
// receiver.
func (s *Store) Thread(incident string, t Target) (*Receipt, error) {
	var r *Receipt
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketThreads)
		v := b.Get(threadKey(incident, t))
		if v == nil && t.Integration() == ViaSlack {
			// Written before receipts were kept per receiver: one per
			// incident, Slack's when it has a message timestamp.
			if old := b.Get([]byte(incident)); old != nil {
				var legacy Receipt
				if json.Unmarshal(old, &legacy) == nil && legacy.TS != "" && strings.HasPrefix(legacy.Channel, "C") {
					v = old
				}
			}
		}
		if v == nil {
			return nil
		}
		r = &Receipt{}
		return json.Unmarshal(v, r)
	})
	return r, err
}

// ReminderRuns returns when each reminder last ran.
func (s *Store) ReminderRuns() (map[string]time.Time, error) {
	out := map[string]time.Time{}
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketReminders).ForEach(func(k, v []byte) error {
			if len(v) == 8 {
				out[string(k)] = time.Unix(int64(binary.BigEndian.Uint64(v)), 0).UTC()
			}
			return nil
		})
	})
	return out, err
}

// Silences returns the stored silences, oldest first.
func (s *Store) Silences() ([]Silence, error) {
	var out []Silence
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketSilences).ForEach(func(k, v []byte) error {
			var sil Silence
			if err := json.Unmarshal(v, &sil); err != nil {
				return fmt.Errorf("silence %s: %w", k, err)
			}
			out = append(out, sil)
			return nil
		})
	})
	sort.SliceStable(out, func(i, j int) bool { return out[i].CreatedAt.Before(out[j].CreatedAt) })
	return out, err
}

// PutSilence stores a silence (new, or changed: expiring one sets its
// end), and forgets silences that ended more than a week before now.
func (s *Store) PutSilence(sil Silence, now time.Time) error {
	v, err := json.Marshal(sil)
	if err != nil {
		return err
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketSilences)
		var old [][]byte
		if err := b.ForEach(func(k, v []byte) error {
			var o Silence
			if json.Unmarshal(v, &o) == nil && now.Sub(o.EndsAt) > silenceKeep {
				old = append(old, append([]byte(nil), k...))
			}
			return nil
		}); err != nil {
			return err
		}
		for _, k := range old {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		return b.Put([]byte(sil.ID), v)
	})
}

// Sent is a delivered alert notification, kept for the SLO page's "recent
// notifications": when, what, and where it went.
type Sent struct {
	At       time.Time    `json:"at"`
	Kind     Kind         `json:"kind"`
	Alert    string       `json:"alert"`
	Severity slo.Severity `json:"severity"`
	To       string       `json:"to"`
}

// keptSent is how many sent notifications an SLO keeps.
const keptSent = 50

func sentPrefix(service, sloName string) []byte { return []byte(service + "/" + sloName + "\x00") }

// recordSent keeps a delivered alert notification under its SLO, and
// forgets the SLO's oldest beyond keptSent.
func recordSent(b *bolt.Bucket, n Notification, at time.Time) error {
	if n.Alert == nil {
		return nil // digests and notices belong to no one SLO
	}
	prefix := sentPrefix(n.Alert.Service, n.Alert.SLO)
	k := binary.BigEndian.AppendUint64(slices.Clone(prefix), uint64(at.UnixNano()))
	k = binary.BigEndian.AppendUint64(k, n.ID)
	v, err := json.Marshal(Sent{At: at.UTC(), Kind: n.Kind, Alert: n.Alert.Alert, Severity: n.Alert.Severity, To: n.Target.String()})
	if err != nil {
		return err
	}
	if err := b.Put(k, v); err != nil {
		return err
	}
	var keys [][]byte
	c := b.Cursor()
	for ck, _ := c.Seek(prefix); ck != nil && bytes.HasPrefix(ck, prefix); ck, _ = c.Next() {
		keys = append(keys, slices.Clone(ck))
	}
	for _, old := range keys[:max(len(keys)-keptSent, 0)] {
		if err := b.Delete(old); err != nil {
			return err
		}
	}
	return nil
}

// RecentSent returns an SLO's latest delivered notifications, newest first.
func (s *Store) RecentSent(service, sloName string, limit int) ([]Sent, error) {
	var out []Sent
	prefix := sentPrefix(service, sloName)
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketSent).Cursor()
		var all []Sent
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			var x Sent
			if json.Unmarshal(v, &x) == nil {
				all = append(all, x)
			}
		}
		slices.Reverse(all)
		out = all[:min(len(all), limit)]
		return nil
	})
	return out, err
}
