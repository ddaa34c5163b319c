package server

import (
	"bytes"
	"compress/gzip"
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/common/expfmt"

	"github.com/kakeibo-slo/kakeibo/alerting"
	"github.com/kakeibo-slo/kakeibo/slo"
	"github.com/kakeibo-slo/kakeibo/sources/alb"
)

// Handler serves /metrics, /healthz, /readyz, /api/v1/slos and the status page.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /metrics", s.metricsHandler)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !s.active.Load() {
			http.Error(w, "not ready: standby, waiting for the lock held by "+orUnknown(s.lockOwner), http.StatusServiceUnavailable)
			return
		}
		if !s.caughtUp.Load() {
			http.Error(w, "not ready: "+s.backfillText(), http.StatusServiceUnavailable)
			return
		}
		if !s.ready.Load() {
			http.Error(w, "not ready: no evaluation yet", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	mux.HandleFunc("GET /api/v1/slos", s.apiSLOs)
	mux.HandleFunc("GET /{$}", s.statusPage)
	return securityHeaders(mux)
}

// securityHeaders sets what every answer carries: no MIME sniffing, no
// framing, and a content security policy that allows only the page's own
// inline style (the status page has no script at all).
func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("X-Frame-Options", "DENY")
		w.Header().Set("Referrer-Policy", "no-referrer")
		w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'")
		h.ServeHTTP(w, r)
	})
}

// metricsHandler serves the registry's own metrics (kakeibo_*, go_*,
// process_*: few, gathered per scrape) followed by the slo_* series
// rendered once per evaluation. With gzip, the two are two gzip members of
// one stream (RFC 1952 allows several), so the rendered part is compressed
// once too. A series that cannot be gathered is logged and left out: never
// a 500, nor an error text, for everyone who scrapes.
func (s *Server) metricsHandler(w http.ResponseWriter, r *http.Request) {
	mfs, err := s.cfg.Registry.Gather()
	if err != nil {
		s.log.Error("metrics", "err", err)
	}
	var own bytes.Buffer
	enc := expfmt.NewEncoder(&own, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			s.log.Error("metrics", "err", err)
		}
	}
	var plain, gz []byte
	if snap := s.latest.Load(); snap != nil {
		plain, gz = snap.exposition, snap.exposedGz
	}
	w.Header().Set("Content-Type", string(expfmt.NewFormat(expfmt.TypeTextPlain)))
	if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
		w.Header().Set("Content-Encoding", "gzip")
		zw := gzip.NewWriter(w)
		_, _ = zw.Write(own.Bytes())
		_ = zw.Close()
		_, _ = w.Write(gz)
		return
	}
	_, _ = w.Write(own.Bytes())
	_, _ = w.Write(plain)
}

func (s *Server) apiSLOs(w http.ResponseWriter, _ *http.Request) {
	snap := s.latest.Load()
	if snap == nil {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"error":"no evaluation yet"}` + "\n"))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(apiReport{Report: snap.report, Undeliverable: s.disp.Undeliverable(), FailedObjects: s.failures.List()}) // a snapshot means active
}

// apiReport is the report with what kakeibo itself needs people to know.
type apiReport struct {
	slo.Report
	// Undeliverable lists notifications waiting after permanent failures.
	Undeliverable []alerting.Stuck `json:"undeliverable_notifications,omitempty"`
	// FailedObjects are ALB log objects that could not be read.
	FailedObjects []alb.Failure `json:"failed_log_objects,omitempty"`
}

//go:embed web/status.html
var webFS embed.FS

var statusTmpl = template.Must(template.New("status.html").Funcs(template.FuncMap{
	"pct": func(f float64) string { return slo.TrimFloat(f*100, 3) + "%" },
	"ratio": func(f *float64) string {
		if f == nil {
			return "–"
		}
		return slo.TrimFloat(*f*100, 3) + "%"
	},
	"budget": func(f *float64) string {
		if f == nil {
			return "–"
		}
		return slo.TrimFloat(*f*100, 1) + "%"
	},
	"barWidth": func(f *float64) string {
		if f == nil {
			return "0"
		}
		return slo.TrimFloat(math.Max(0, math.Min(1, *f))*100, 1)
	},
	"burn": func(f *float64) string {
		if f == nil {
			return "–"
		}
		return slo.TrimFloat(*f, 2) + "×"
	},
	"duration": func(secs float64) string { return slo.HumanDuration(time.Duration(secs * float64(time.Second))) },
	// budgetText: "62.5% (13m30s)", "overspent: 12.4× the budget", or "–" without data.
	"budgetText": func(f *float64, secs float64) string {
		switch {
		case f == nil:
			return "–"
		case *f < 0:
			return "overspent: " + slo.TrimFloat(1-*f, 1) + "× the budget"
		}
		return slo.TrimFloat(*f*100, 1) + "% (" + slo.HumanDuration(time.Duration(secs*float64(time.Second))) + ")"
	},
	"statusText": func(st slo.Status) string {
		return map[slo.Status]string{slo.StatusOK: "kept", slo.StatusAtRisk: "at risk", slo.StatusViolated: "violated", slo.StatusNoData: "no data", slo.StatusStale: "stale"}[st]
	},
	"time": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") },
}).ParseFS(webFS, "web/status.html"))

type pageSLO struct {
	slo.ReportSLO
	Windows []pageWindow
	Firing  []string
}

type pageWindow struct {
	Name      string
	Burn      *float64
	Hot       bool
	Threshold float64
}

type pageData struct {
	At            time.Time
	SLOs          []pageSLO
	Attention     int
	Backfill      string
	FailedObjects []alb.Failure
	ReloadError   string
	ReloadAt      time.Time
	Undeliverable []alerting.Stuck
}

func (s *Server) statusPage(w http.ResponseWriter, _ *http.Request) {
	data := pageData{}
	if s.active.Load() {
		data.Undeliverable = s.disp.Undeliverable()
	}
	if !s.caughtUp.Load() {
		data.Backfill = s.backfillText()
	}
	data.FailedObjects = s.failures.List()
	if e := s.lastErr.Load(); e != nil {
		data.ReloadError, data.ReloadAt = e.err.Error(), e.at
	}
	if snap := s.latest.Load(); snap != nil {
		data.At = snap.at
		for _, r := range snap.report.SLOs {
			p := pageSLO{ReportSLO: r}
			lowest := map[string]float64{}
			for _, a := range r.Alerts {
				for _, win := range []string{a.Long, a.Short} {
					if v, ok := lowest[win]; !ok || a.Threshold < v {
						lowest[win] = a.Threshold
					}
				}
				if a.Firing {
					p.Firing = append(p.Firing, a.Name)
				}
			}
			if r.BudgetExhausted {
				p.Firing = append(p.Firing, alerting.AlertBudgetExhausted)
			}
			for name, win := range r.Windows {
				th := lowest[name]
				p.Windows = append(p.Windows, pageWindow{Name: name, Burn: win.BurnRate, Threshold: th, Hot: win.BurnRate != nil && *win.BurnRate > th})
			}
			slices.SortFunc(p.Windows, func(a, b pageWindow) int { return int(windowLen(a.Name) - windowLen(b.Name)) })
			if r.Status != slo.StatusOK {
				data.Attention++
			}
			data.SLOs = append(data.SLOs, p)
		}
	}
	// What needs attention first: violated, at risk, no data, then kept.
	rank := map[slo.Status]int{slo.StatusViolated: 0, slo.StatusAtRisk: 1, slo.StatusStale: 2, slo.StatusNoData: 2, slo.StatusOK: 3}
	slices.SortStableFunc(data.SLOs, func(a, b pageSLO) int { return rank[a.Status] - rank[b.Status] })
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := statusTmpl.Execute(w, data); err != nil {
		s.log.Error("status page", "err", err)
	}
}

func windowLen(s string) time.Duration {
	if d, ok := strings.CutSuffix(s, "d"); ok {
		v, _ := time.ParseDuration(d + "h")
		return v * 24
	}
	v, _ := time.ParseDuration(s)
	return v
}

// backfillText says how far the first ingest pass is.
func (s *Server) backfillText() string {
	if !s.active.Load() {
		return "standby, waiting for the lock held by " + orUnknown(s.lockOwner)
	}
	p := s.backfill.Load()
	if p == nil {
		return "backfilling: listing the logs"
	}
	left := ""
	if started := s.backfillStart.Load(); started != nil {
		if d := eta(p, *started); d > 0 {
			left = ", about " + d.String() + " left"
		}
	}
	return fmt.Sprintf("backfilling: %d of %d log objects read (%d MB, %d lines%s); alerts start once it is done",
		p.ObjectsDone.Load(), p.ObjectsTotal.Load(), p.Bytes.Load()>>20, p.Lines.Load(), left)
}
