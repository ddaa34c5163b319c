package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/kakeibo-slo/kakeibo/slo"
	"github.com/kakeibo-slo/kakeibo/sources/alb"
)

// Past calendar months outlive the minute counts (kept for the longest
// window): when a month ends and its load balancer's logs cover it, each
// ALB SLO's report for it is kept in the data directory, so the SLO page
// and /api/v1/slos/{service}/{slo}/periods show a year of them. Months
// are in UTC, as `kakeibo report --period` has them.

var bucketPeriods = []byte("period_reports") // "service/slo|YYYY-MM" → slo.PeriodReport (JSON)

// keptMonths is how many past months a page or the API shows.
const keptMonths = 12

// monthStart is the first instant of t's month (UTC).
func monthStart(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
}

// periodFor measures an objective over [from, to) from the stored minutes.
// Retention keeps the longest SLO window (and a day): when the month
// began before that, its report is partial and says so.
func (s *Server) periodFor(o *slo.Objective, from, to time.Time) (slo.PeriodReport, error) {
	var ms []slo.MinuteCount
	err := s.albDB.Range(o.ID(), from.Unix()/60, to.Unix()/60, func(m int64, c alb.Count) {
		ms = append(ms, slo.MinuteCount{At: time.Unix(m*60, 0).UTC(), Good: float64(c.Good), Total: float64(c.Total)})
	})
	rep := slo.NewPeriodReport(o, from, to, ms, 5)
	if kept := time.Unix(s.keptFrom.Load(), 0).UTC(); s.keptFrom.Load() != 0 && from.Before(kept) {
		note := "partial: minutes before " + kept.Format("2006-01-02 15:04 UTC") + " are no longer kept (retention follows the longest SLO window)"
		rep.Note = strings.TrimPrefix(rep.Note+"; "+note, "; ")
	}
	return rep, err
}

// keepPeriods stores the reports of the month that ended before now, for
// every ALB SLO whose load balancer's logs reach its end and that has none
// yet. Called after each ingest pass; cheap when there is nothing to do.
func (s *Server) keepPeriods(now time.Time) {
	if s.source == nil {
		return
	}
	to := monthStart(now)
	from := to.AddDate(0, -1, 0)
	month := from.Format("2006-01")
	var todo []*slo.Objective
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketPeriods)
		for _, o := range s.specs.Load().Objectives() {
			if o.SLI.ALB == nil || o.Budgeting.Method == slo.Timeslices || !s.owns(o.SLI.ALB.LoadBalancer) {
				continue
			}
			if b == nil || b.Get([]byte(o.ID()+"|"+month)) == nil {
				todo = append(todo, o)
			}
		}
		return nil
	})
	if err != nil || len(todo) == 0 {
		return
	}
	pending := s.pendingSLIs()
	reports := map[string][]byte{}
	for _, o := range todo {
		w, ok, err := s.albDB.Watermark(o.SLI.ALB.LoadBalancer)
		if err != nil || !ok || alb.MinuteTime(w+1).Before(to) || pending[o.ID()] {
			continue // the month is not complete in the logs yet
		}
		rep, err := s.periodFor(o, from, to)
		if err != nil {
			s.log.Warn("past month", "slo", o.ID(), "err", err)
			continue
		}
		if v, err := json.Marshal(rep); err == nil {
			reports[o.ID()+"|"+month] = v
		}
	}
	if len(reports) == 0 {
		return
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketPeriods)
		if err != nil {
			return err
		}
		for k, v := range reports {
			if err := b.Put([]byte(k), v); err != nil {
				return err
			}
		}
		return nil
	})
	s.storeWrite("past months", err)
	if err == nil {
		s.log.Info("past month kept", "month", month, "slos", len(reports))
	}
}

// periodsOf returns an SLO's kept months, newest first (at most
// keptMonths), and the current month so far.
func (s *Server) periodsOf(o *slo.Objective, now time.Time) (past []slo.PeriodReport, current *slo.PeriodReport, err error) {
	past, err = s.keptPeriods(o)
	if o.SLI.ALB != nil && o.Budgeting.Method != slo.Timeslices && s.source != nil {
		to := now.UTC().Truncate(time.Minute)
		if w, ok, werr := s.albDB.Watermark(o.SLI.ALB.LoadBalancer); werr == nil && ok {
			to = alb.MinuteTime(w + 1)
		}
		from := monthStart(to.Add(-time.Nanosecond))
		if rep, perr := s.periodFor(o, from, to); perr == nil {
			current = &rep
		}
	}
	return past, current, err
}

// keptPeriods returns an SLO's kept months, newest first (at most
// keptMonths).
func (s *Server) keptPeriods(o *slo.Objective) (past []slo.PeriodReport, err error) {
	prefix := []byte(o.ID() + "|")
	err = s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketPeriods)
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, v := c.Seek(prefix); k != nil && strings.HasPrefix(string(k), string(prefix)); k, v = c.Next() {
			var rep slo.PeriodReport
			if json.Unmarshal(v, &rep) == nil {
				past = append(past, rep)
			}
		}
		return nil
	})
	slices.Reverse(past)
	return past[:min(len(past), keptMonths)], err
}

// apiPeriods serves an SLO's past months and the current one so far.
func (s *Server) apiPeriods(w http.ResponseWriter, r *http.Request) {
	o := s.objective(r)
	w.Header().Set("Content-Type", "application/json")
	if o == nil {
		w.WriteHeader(http.StatusNotFound)
		_, _ = fmt.Fprintf(w, "{\"error\":%q}\n", "no SLO "+r.PathValue("service")+"/"+r.PathValue("slo"))
		return
	}
	past, current, err := s.periodsOf(o, s.cfg.Now())
	if err != nil {
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = fmt.Fprintf(w, "{\"error\":%q}\n", err.Error())
		return
	}
	if past == nil {
		past = []slo.PeriodReport{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(struct {
		Current *slo.PeriodReport  `json:"current"`
		Past    []slo.PeriodReport `json:"past"`
	}{current, past})
}
