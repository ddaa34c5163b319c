// Package remotewrite writes the exact counts of ALB SLOs to a Prometheus
// remote-write endpoint (Prometheus, Mimir, Thanos Receive, Cortex,
// VictoriaMetrics), so that ALB SLOs can be evaluated by the rules and
// rulers of the Prometheus ecosystem like any other series.
//
// Every SLO gets two counters, kakeibo_alb_events_total{service, slo,
// class="good"|"total"} (plus shard="NAME" when set), with one sample per
// minute at the minute's end in log time: the value is everything counted
// for the SLO in the minutes before that time (alb.BoltStore.TotalBefore).
// A minute is written once, when its load balancer's watermark says it is
// complete; entries that arrive later for a minute already written are in
// the next minute written (and counted as late). The difference of two
// samples is exactly what kakeibo report counts between their times.
//
// Exactly once, across crashes: the next request is computed, then stored
// in the data directory together with the new positions in one
// transaction, then sent, then deleted once the receiver accepted it.
// After a kill -9, the stored request is sent again byte for byte, so the
// receiver gets identical samples, never conflicting ones. While the
// receiver is down, nothing advances and nothing is lost: the counts stay
// in the store for the longest window.
package remotewrite

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/klauspost/compress/snappy"
	"github.com/prometheus/prometheus/prompb"
	bolt "go.etcd.io/bbolt"

	"github.com/kakeibo-slo/kakeibo/slo"
	"github.com/kakeibo-slo/kakeibo/sources/alb"
)

// MetricName is the counters' name.
const MetricName = slo.ALBCountersMetric

// The state of a receiver named NAME (Config.Name) is in two buckets:
//
//	remote_write_series/NAME:  SLI → last minute written, good, total (3 × int64 BE)
//	remote_write_pending/NAME: "request" → the snappy body in flight; "samples" → its sample count
func buckets(name string) (series, pending []byte) {
	return []byte("remote_write_series/" + name), []byte("remote_write_pending/" + name)
}

// Config configures a Writer.
type Config struct {
	// URL is the receiver's remote-write endpoint, e.g.
	// http://prometheus:9090/api/v1/write.
	URL string
	// Headers are added to every request (X-Scope-OrgID for a Mimir or
	// Cortex tenant, Authorization, ...).
	Headers map[string]string
	// Shard, when set, is the shard label of every series: several
	// ingest processes over disjoint load balancers write the same SLO
	// names side by side, and the rules sum them.
	Shard string
	// Name tells receivers apart in the data directory (default
	// "default"): each has its own positions and request in flight.
	Name string
	// DB holds the positions and the request in flight; Store the counts.
	DB    *bolt.DB
	Store *alb.BoltStore
	// Client sends the requests (default: a 30 s timeout per request,
	// body included).
	Client *http.Client
	// MaxSamples bounds the samples of one request (default 20,000).
	MaxSamples int
	Logger     *slog.Logger
}

// SLO is one ALB SLO to write.
type SLO struct {
	ID, Service, Name, LoadBalancer string
	// Since is the first minute written when the SLO has never been:
	// the start of its longest window, so a fresh receiver gets the
	// history its rules read.
	Since int64
}

// Writer writes the counters.
type Writer struct {
	cfg                   Config
	bucketSeries, pending []byte
}

// Stats sums up a Step.
type Stats struct {
	// Samples the receiver accepted, and requests it accepted.
	Samples, Requests int
	// Rejected samples: the receiver refused their request for good (a
	// 4xx: out of bounds, a duplicate with another value, too old).
	Rejected int
	// Late events: counted for minutes already written, so written in a
	// later minute.
	Late int64
	// Behind is true when more minutes are complete than one request holds:
	// call Step again.
	Behind bool
}

// New returns a Writer, creating its buckets.
func New(cfg Config) (*Writer, error) {
	if cfg.URL == "" || cfg.DB == nil || cfg.Store == nil {
		return nil, errors.New("remote write: URL, DB and store are required")
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 30 * time.Second}
	}
	if cfg.MaxSamples <= 0 {
		cfg.MaxSamples = 20000
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Name == "" {
		cfg.Name = "default"
	}
	w := &Writer{cfg: cfg}
	w.bucketSeries, w.pending = buckets(cfg.Name)
	err := cfg.DB.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{w.bucketSeries, w.pending} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("remote write state: %w", err)
	}
	return w, nil
}

// position is what was last written for an SLO.
type position struct {
	minute      int64
	good, total int64
	written, ok bool
}

func decodePosition(v []byte) position {
	if len(v) != 24 {
		return position{}
	}
	return position{minute: int64(binary.BigEndian.Uint64(v)), good: int64(binary.BigEndian.Uint64(v[8:])),
		total: int64(binary.BigEndian.Uint64(v[16:])), ok: true}
}

func (p position) encode() []byte {
	v := make([]byte, 24)
	binary.BigEndian.PutUint64(v, uint64(p.minute))
	binary.BigEndian.PutUint64(v[8:], uint64(p.good))
	binary.BigEndian.PutUint64(v[16:], uint64(p.total))
	return v
}

// Step sends the request in flight, if any, then computes, stores and
// sends the next one: for each SLO, the minutes after the last one written
// up to its load balancer's watermark, at most MaxSamples in all. A
// receiver that fails (a network error, a 5xx, a 429) leaves the request
// stored, to be sent again by the next Step.
func (w *Writer) Step(ctx context.Context, slos []SLO) (Stats, error) {
	var st Stats
	if err := w.sendPending(ctx, &st); err != nil {
		return st, err
	}
	body, samples, positions, late, behind, err := w.next(slos)
	if err != nil {
		return st, err
	}
	st.Late, st.Behind = late, behind
	if samples == 0 {
		return st, nil
	}
	err = w.cfg.DB.Update(func(tx *bolt.Tx) error {
		pending := tx.Bucket(w.pending)
		if err := pending.Put([]byte("request"), body); err != nil {
			return err
		}
		if err := pending.Put([]byte("samples"), binary.BigEndian.AppendUint64(nil, uint64(samples))); err != nil {
			return err
		}
		series := tx.Bucket(w.bucketSeries)
		for id, p := range positions {
			if err := series.Put([]byte(id), p.encode()); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return st, fmt.Errorf("remote write: store the next request: %w", err)
	}
	return st, w.sendPending(ctx, &st)
}

// sendPending sends the stored request and deletes it once it is settled.
func (w *Writer) sendPending(ctx context.Context, st *Stats) error {
	var body []byte
	var samples int
	if err := w.cfg.DB.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(w.pending)
		body = slices.Clone(b.Get([]byte("request")))
		if v := b.Get([]byte("samples")); len(v) == 8 {
			samples = int(binary.BigEndian.Uint64(v))
		}
		return nil
	}); err != nil {
		return err
	}
	if body == nil {
		return nil
	}
	err := w.post(ctx, body)
	var rejected *rejectedError
	switch {
	case errors.As(err, &rejected):
		w.cfg.Logger.Error("the remote-write receiver refused a request; its samples are dropped", "samples", samples, "err", err)
		st.Rejected += samples
	case err != nil:
		return err
	default:
		st.Samples += samples
		st.Requests++
	}
	return w.cfg.DB.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(w.pending)
		if err := b.Delete([]byte("request")); err != nil {
			return err
		}
		return b.Delete([]byte("samples"))
	})
}

// next computes the next request.
func (w *Writer) next(slos []SLO) (body []byte, samples int, positions map[string]position, late int64, behind bool, err error) {
	slos = slices.Clone(slos)
	slices.SortFunc(slos, func(a, b SLO) int { return strings.Compare(a.ID, b.ID) })
	last := map[string]position{}
	if err := w.cfg.DB.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(w.bucketSeries)
		for _, s := range slos {
			last[s.ID] = decodePosition(b.Get([]byte(s.ID)))
		}
		return nil
	}); err != nil {
		return nil, 0, nil, 0, false, err
	}
	positions = map[string]position{}
	var req prompb.WriteRequest
	watermarks := map[string]int64{}
	for _, s := range slos {
		wm, seen := watermarks[s.LoadBalancer]
		if !seen {
			m, ok, err := w.cfg.Store.Watermark(s.LoadBalancer)
			if err != nil {
				return nil, 0, nil, 0, false, err
			}
			if !ok {
				m = -1 << 62
			}
			watermarks[s.LoadBalancer], wm = m, m
		}
		p := last[s.ID]
		from := s.Since
		if p.ok {
			from = p.minute + 1
		}
		if from > wm {
			continue // nothing complete since
		}
		room := (w.cfg.MaxSamples - samples) / 2
		if room <= 0 {
			behind = true
			break
		}
		to := min(wm, from+int64(room)-1)
		if to < wm {
			behind = true
		}
		base, err := w.cfg.Store.TotalBefore(s.ID, from)
		if err != nil {
			return nil, 0, nil, 0, false, err
		}
		if p.ok {
			if d := base.Total - p.total; d > 0 {
				late += d
			} else if d < 0 {
				w.cfg.Logger.Warn("an SLO's count went down (counted afresh): its counters restart", "slo", s.ID)
			}
		}
		per := make([]alb.Count, to-from+1)
		if err := w.cfg.Store.Range(s.ID, from, to+1, func(m int64, c alb.Count) { per[m-from] = c }); err != nil {
			return nil, 0, nil, 0, false, err
		}
		good := prompb.TimeSeries{Labels: w.labels(s, "good"), Samples: make([]prompb.Sample, 0, len(per))}
		total := prompb.TimeSeries{Labels: w.labels(s, "total"), Samples: make([]prompb.Sample, 0, len(per))}
		v := base
		for i, c := range per {
			v.Good += c.Good
			v.Total += c.Total
			ts := (from + int64(i) + 1) * 60 * 1000 // the minute's end: what was counted before it
			good.Samples = append(good.Samples, prompb.Sample{Timestamp: ts, Value: float64(v.Good)})
			total.Samples = append(total.Samples, prompb.Sample{Timestamp: ts, Value: float64(v.Total)})
		}
		req.Timeseries = append(req.Timeseries, good, total)
		samples += 2 * len(per)
		positions[s.ID] = position{minute: to, good: v.Good, total: v.Total, ok: true}
	}
	if samples == 0 {
		return nil, 0, nil, late, behind, nil
	}
	raw, err := req.Marshal()
	if err != nil {
		return nil, 0, nil, 0, false, err
	}
	return snappy.Encode(nil, raw), samples, positions, late, behind, nil
}

// labels are a series' labels, sorted by name as remote write asks.
func (w *Writer) labels(s SLO, class string) []prompb.Label {
	ls := []prompb.Label{{Name: "__name__", Value: MetricName}, {Name: "class", Value: class}, {Name: "service", Value: s.Service}}
	if w.cfg.Shard != "" {
		ls = append(ls, prompb.Label{Name: "shard", Value: w.cfg.Shard})
	}
	return append(ls, prompb.Label{Name: "slo", Value: s.Name})
}

// rejectedError is a request the receiver refused for good.
type rejectedError struct {
	status int
	body   string
}

func (e *rejectedError) Error() string {
	return fmt.Sprintf("remote write: %d %s: %s", e.status, http.StatusText(e.status), e.body)
}

// post sends one request as the remote-write protocol (1.0) asks: a
// snappy-compressed protobuf WriteRequest.
func (w *Writer) post(ctx context.Context, body []byte) error {
	return postBody(ctx, w.cfg.Client, w.cfg.URL, w.cfg.Headers, body)
}

func postBody(ctx context.Context, client *http.Client, url string, headers map[string]string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Encoding", "snappy")
	req.Header.Set("Content-Type", "application/x-protobuf")
	req.Header.Set("X-Prometheus-Remote-Write-Version", "0.1.0")
	req.Header.Set("User-Agent", "kakeibo")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("remote write: %w", err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	switch {
	case resp.StatusCode/100 == 2:
		return nil
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode/100 == 5:
		return fmt.Errorf("remote write: %s: %s", resp.Status, strings.TrimSpace(string(msg)))
	default:
		return &rejectedError{status: resp.StatusCode, body: strings.TrimSpace(string(msg))}
	}
}

// Send posts series to a remote-write receiver, at most maxSamples
// samples a request (a long series spans several, in time order). It is
// for one-off writes of past samples (kakeibo rules backfill); a failed
// request is tried again, twice, a second apart.
func Send(ctx context.Context, client *http.Client, url string, headers map[string]string, series []prompb.TimeSeries, maxSamples int) (int, error) {
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	sent := 0
	var req prompb.WriteRequest
	n := 0
	flush := func() error {
		if n == 0 {
			return nil
		}
		raw, err := req.Marshal()
		if err != nil {
			return err
		}
		body := snappy.Encode(nil, raw)
		for attempt := 0; ; attempt++ {
			err = postBody(ctx, client, url, headers, body)
			var rejected *rejectedError
			if err == nil || errors.As(err, &rejected) || attempt == 2 || ctx.Err() != nil {
				break
			}
			time.Sleep(time.Second)
		}
		if err != nil {
			return err
		}
		sent += n
		req, n = prompb.WriteRequest{}, 0
		return nil
	}
	for _, ts := range series {
		for len(ts.Samples) > 0 {
			take := min(len(ts.Samples), maxSamples-n)
			req.Timeseries = append(req.Timeseries, prompb.TimeSeries{Labels: ts.Labels, Samples: ts.Samples[:take]})
			ts.Samples, n = ts.Samples[take:], n+take
			if n >= maxSamples {
				if err := flush(); err != nil {
					return sent, err
				}
			}
		}
	}
	return sent, flush()
}
