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
	"strconv"
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
		if f := s.storeFault(); f != nil {
			http.Error(w, "not ready: cannot write the data directory since "+f.since.UTC().Format(time.RFC3339)+": "+f.err.Error(), http.StatusServiceUnavailable)
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
	mux.HandleFunc("GET /slos/{service}/{slo}", s.sloPage)
	mux.HandleFunc("GET /api/v1/slos/{service}/{slo}/history", s.apiHistory)
	mux.HandleFunc("GET /api/v1/slos/{service}/{slo}/periods", s.apiPeriods)
	mux.HandleFunc("GET /reports/{service}/{month}", s.reportPage)
	mux.HandleFunc("GET /api/v1/silences", s.apiSilences)
	mux.HandleFunc("POST /api/v1/silences", s.apiAddSilence)
	mux.HandleFunc("DELETE /api/v1/silences/{id}", s.apiExpireSilence)
	mux.HandleFunc("GET /api/v1/gate/{service}", s.apiGate)
	mux.HandleFunc("POST /api/v1/gate/{service}/override", s.apiOverride)
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
	snap := s.latest.Load()
	w.Header().Set("Content-Type", string(expfmt.NewFormat(expfmt.TypeTextPlain)))
	if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
		w.Header().Set("Content-Encoding", "gzip")
		zw := gzip.NewWriter(w)
		_, _ = zw.Write(own.Bytes())
		_ = zw.Close()
		if snap != nil {
			_, _ = w.Write(snap.gzipped())
		}
		return
	}
	_, _ = w.Write(own.Bytes())
	if snap != nil {
		_, _ = w.Write(snap.exposition)
	}
}

func (s *Server) apiSLOs(w http.ResponseWriter, r *http.Request) {
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
	out := apiReport{Report: snap.report, Undeliverable: s.disp.Undeliverable(), FailedObjects: s.failures.List()} // a snapshot means active
	if f := parseFilter(r, maxPerPage); f.Filtered() || f.paged {
		// The same filters as the status page; pages only when asked.
		var kept []slo.ReportSLO
		for i := range snap.report.SLOs {
			if f.match(&snap.report.SLOs[i]) {
				kept = append(kept, snap.report.SLOs[i])
			}
		}
		n := len(kept)
		out.Matching = &n
		if f.paged {
			from, to, pages := f.pageOf(n)
			kept = kept[from:to]
			out.Page, out.Pages = min(f.Page, pages), pages
		}
		out.Report.SLOs = kept
	}
	_ = enc.Encode(out)
}

// apiReport is the report with what kakeibo itself needs people to know.
type apiReport struct {
	slo.Report
	// Matching is how many SLOs the request's filters kept (with filters);
	// Page and Pages number the pages (with page or per_page).
	Matching *int `json:"matching,omitempty"`
	Page     int  `json:"page,omitempty"`
	Pages    int  `json:"pages,omitempty"`
	// Undeliverable lists notifications waiting after permanent failures.
	Undeliverable []alerting.Stuck `json:"undeliverable_notifications,omitempty"`
	// FailedObjects are ALB log objects that could not be read.
	FailedObjects []alb.Failure `json:"failed_log_objects,omitempty"`
}

//go:embed web/status.html web/slo.html
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
	"statuses": func() []slo.Status {
		return []slo.Status{slo.StatusViolated, slo.StatusAtRisk, slo.StatusStale, slo.StatusNoData, slo.StatusBackfilling, slo.StatusOK}
	},
	"statusText": func(st slo.Status) string {
		return map[slo.Status]string{slo.StatusOK: "kept", slo.StatusAtRisk: "at risk", slo.StatusViolated: "violated", slo.StatusNoData: "no data", slo.StatusStale: "stale", slo.StatusBackfilling: "backfilling"}[st]
	},
	"time": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") },
}).ParseFS(webFS, "web/status.html"))

type pageSLO struct {
	slo.ReportSLO
	Windows []pageWindow
	Firing  []string
	Team    string
	// Fastest is the highest burn rate of its windows (FastestWindow).
	Fastest       *float64
	FastestWindow string
	// NewGroup starts a team's rows.
	NewGroup bool
}

type pageLink struct {
	N       int
	Href    string
	Current bool
	Gap     bool // pages left out
}

// statusRank orders what needs attention first: violated, at risk, stale
// or no data, then kept.
var statusRank = map[slo.Status]int{slo.StatusViolated: 0, slo.StatusAtRisk: 1, slo.StatusStale: 2, slo.StatusNoData: 2, slo.StatusBackfilling: 2, slo.StatusOK: 3}

// sortWorstFirst groups SLOs by team, the team with the worst SLO first,
// and within a team puts the worst first: by status, then by the least
// budget left.
func sortWorstFirst(ps []pageSLO) {
	worst := map[string]int{}
	for _, p := range ps {
		if r, ok := worst[p.Team]; !ok || statusRank[p.Status] < r {
			worst[p.Team] = statusRank[p.Status]
		}
	}
	budget := func(p pageSLO) float64 {
		if p.ErrorBudget.Remaining == nil {
			return 2
		}
		return *p.ErrorBudget.Remaining
	}
	slices.SortStableFunc(ps, func(a, b pageSLO) int {
		switch {
		case worst[a.Team] != worst[b.Team]:
			return worst[a.Team] - worst[b.Team]
		case a.Team != b.Team:
			return strings.Compare(a.Team, b.Team)
		case statusRank[a.Status] != statusRank[b.Status]:
			return statusRank[a.Status] - statusRank[b.Status]
		case budget(a) != budget(b):
			if budget(a) < budget(b) {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Service+"/"+a.SLO, b.Service+"/"+b.SLO)
	})
}

type pageWindow struct {
	Name      string
	Burn      *float64
	Hot       bool
	Threshold float64
}

type pageData struct {
	At        time.Time
	SLOs      []pageSLO
	Attention int
	// Total counts every SLO, Matching those the filter keeps, ByStatus
	// every SLO by status; From and To number the SLOs shown.
	Total, Matching, From, To int
	ByStatus                  map[slo.Status]int
	Teams                     []string
	Filter                    sloFilter
	Pages                     []pageLink
	Backfill                  string
	FailedObjects             []alb.Failure
	ReloadError               string
	ReloadAt                  time.Time
	StoreError                string
	StoreSince                time.Time
	Undeliverable             []alerting.Stuck
	Silences                  []pageSilence
	// Frozen are services whose deploys the error budget policy stops;
	// Overridden those let through by an override.
	Frozen, Overridden []slo.GateDecision
}

func (s *Server) statusPage(w http.ResponseWriter, r *http.Request) {
	data := pageData{Filter: parseFilter(r, 50), ByStatus: map[slo.Status]int{}}
	if s.active.Load() {
		data.Undeliverable = s.disp.Undeliverable()
	}
	if !s.caughtUp.Load() {
		data.Backfill = s.backfillText()
	}
	data.Silences = s.silencesFor(nil)
	data.Frozen, data.Overridden = s.frozenServices()
	data.FailedObjects = s.failures.List()
	if e := s.lastErr.Load(); e != nil {
		data.ReloadError, data.ReloadAt = e.err.Error(), e.at
	}
	if f := s.storeFault(); f != nil {
		data.StoreError, data.StoreSince = f.err.Error(), f.since
	}
	if snap := s.latest.Load(); snap != nil {
		data.At = snap.at
		for _, r := range snap.report.SLOs {
			data.Total++
			if r.Status != slo.StatusOK {
				data.Attention++
			}
			data.ByStatus[r.Status]++
			if r.Labels["team"] != "" && !slices.Contains(data.Teams, r.Labels["team"]) {
				data.Teams = append(data.Teams, r.Labels["team"])
			}
			if !data.Filter.match(&r) {
				continue
			}
			p := pageSLO{ReportSLO: r, Team: r.Labels["team"]}
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
			for _, win := range p.Windows {
				if win.Burn != nil && (p.Fastest == nil || *win.Burn > *p.Fastest) {
					p.Fastest, p.FastestWindow = win.Burn, win.Name
				}
			}
			data.SLOs = append(data.SLOs, p)
		}
	}
	sortWorstFirst(data.SLOs)
	slices.Sort(data.Teams)
	data.Matching = len(data.SLOs)
	if data.Filter.View == "" {
		data.Filter.View = "cards"
		if data.Total > 100 {
			data.Filter.View = "table" // an organization: one line per SLO
		}
	}
	from, to, pages := data.Filter.pageOf(len(data.SLOs))
	data.SLOs = data.SLOs[from:to]
	data.From, data.To = from+1, to
	if pages > 1 {
		// The first, the last, and the two either side of the current one.
		cur := min(data.Filter.Page, pages)
		for i := 1; i <= pages; i++ {
			if i != 1 && i != pages && (i < cur-2 || i > cur+2) {
				if n := len(data.Pages); n > 0 && !data.Pages[n-1].Gap {
					data.Pages = append(data.Pages, pageLink{Gap: true})
				}
				continue
			}
			data.Pages = append(data.Pages, pageLink{N: i, Href: data.Filter.With("page", strconv.Itoa(i)), Current: i == cur})
		}
	}
	for i := range data.SLOs {
		data.SLOs[i].NewGroup = i == 0 || data.SLOs[i].Team != data.SLOs[i-1].Team
	}
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

// zoneOf is the zone an SLO's times are shown in: its calendar window's,
// else its service's notify.timezone, else UTC.
func (s *Server) zoneOf(o *slo.Objective) *time.Location {
	if o == nil {
		return time.UTC
	}
	if o.Window.Location != nil && o.Window.Calendar != "" {
		return o.Window.Location
	}
	for _, svc := range s.specs.Load().Services {
		if svc.Name == o.Service && svc.Notify.Location != nil {
			return svc.Notify.Location
		}
	}
	return time.UTC
}

// objective finds a loaded SLO by its path values.
func (s *Server) objective(r *http.Request) *slo.Objective {
	id := r.PathValue("service") + "/" + r.PathValue("slo")
	for _, o := range s.specs.Load().Objectives() {
		if o.ID() == id {
			return o
		}
	}
	if snap := s.latest.Load(); snap != nil { // one group of a grouped SLO
		for _, r := range snap.results {
			if r.Objective.Group != nil && r.Objective.ID() == id {
				return r.Objective
			}
		}
	}
	return nil
}

// historyOf evaluates the history the request asks for.
func (s *Server) historyOf(w http.ResponseWriter, r *http.Request) (History, bool) {
	o := s.objective(r)
	snap := s.latest.Load()
	if o == nil || snap == nil || !s.active.Load() {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"error":"no such SLO (or no evaluation yet)"}` + "\n"))
		return History{}, false
	}
	end := snap.at
	for _, res := range snap.results {
		if res.Objective.ID() == o.ID() && !res.At.IsZero() {
			end = res.At // where its data ends (ALB: the watermark)
		}
	}
	rng := r.URL.Query().Get("range")
	if rng == "" {
		rng = "period"
	}
	h, err := s.history(r.Context(), o, rng, end)
	if err != nil {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
		return History{}, false
	}
	return h, true
}

func (s *Server) apiHistory(w http.ResponseWriter, r *http.Request) {
	h, ok := s.historyOf(w, r)
	if !ok {
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(h)
}

var sloTmpl = template.Must(template.New("slo.html").Funcs(template.FuncMap{
	"pct":  func(f float64) string { return slo.TrimFloat(f*100, 3) + "%" },
	"time": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") },
}).ParseFS(webFS, "web/slo.html"))

// pageMonth is a month on the SLO page.
type pageMonth struct {
	Month, Verdict, SLI, Spent, Top string
	SoFar, Met                      bool
}

func newPageMonth(p slo.PeriodReport, loc *time.Location, sofar bool) pageMonth {
	m := pageMonth{Month: p.From.Format("2006-01"), SoFar: sofar, Verdict: "no events", SLI: "–", Spent: "–"}
	if p.Met != nil {
		m.Met = *p.Met
		m.Verdict = map[bool]string{true: "met", false: "missed"}[*p.Met]
		m.SLI = slo.TrimFloat(*p.SLI*100, 3) + "%"
		m.Spent = slo.TrimFloat(*p.BudgetSpent*100, 1) + "%"
	}
	if len(p.Spenders) > 0 {
		sp := p.Spenders[0]
		m.Top = fmt.Sprintf("%s–%s: %s bad, %s of the budget", sp.From.In(loc).Format("Jan 2 15:04"), sp.To.In(loc).Format("15:04 MST"),
			slo.TrimFloat(sp.Bad, 0), slo.TrimFloat(sp.Share*100, 1)+"%")
	}
	return m
}

// burnColors color the burn-rate series by window.
var burnColors = []string{"#cf222e", "#bf8700", "#0969da", "#8250df", "#1a7f37", "#57606a", "#953800", "#116329"}

// sloPage is one SLO over time: budget burn-down, SLI, burn rates with
// thresholds, alert spans, events. Charts are SVG drawn here: no script,
// works offline, prints.
func (s *Server) sloPage(w http.ResponseWriter, r *http.Request) {
	h, ok := s.historyOf(w, r)
	if !ok {
		return
	}
	vals := func(get func(p HistoryPoint) *float64) []*float64 {
		out := make([]*float64, len(h.Points))
		for i, p := range h.Points {
			out[i] = get(p)
		}
		return out
	}
	lowest := func(vs []*float64, floor float64) float64 {
		for _, v := range vs {
			if v != nil && *v < floor {
				floor = *v
			}
		}
		return floor
	}
	budget := vals(func(p HistoryPoint) *float64 { return p.BudgetRemaining })
	sli := vals(func(p HistoryPoint) *float64 { return p.SLI })
	times := make([]time.Time, len(h.Points))
	for i, p := range h.Points {
		times[i] = p.At
	}
	o := s.objective(r)
	loc := s.zoneOf(o)
	data := struct {
		H                 History
		Status            string
		Ranges            []string
		Budget, SLI, Burn template.HTML
		Timeline, Events  template.HTML
		BurnLegend        []chartSeries
		Silences          []pageSilence
		O                 *slo.Objective
		Zone              string
		Spans             []string
		Months            []pageMonth
		Sent              []string
	}{H: h, Ranges: []string{"period", "7d", "1d"}, O: o, Zone: loc.String()}
	if o != nil {
		data.Silences = s.silencesFor(o)
		if sent, err := s.alerts.RecentSent(o.Service, o.Name, 10); err == nil {
			for _, x := range sent {
				data.Sent = append(data.Sent, fmt.Sprintf("%s — %s %s (%s) → %s", x.At.In(loc).Format("Jan 2 15:04 MST"), x.Kind, x.Alert, x.Severity, x.To))
			}
		}
		if past, current, err := s.periodsOf(o, s.cfg.Now()); err == nil {
			if current != nil {
				data.Months = append(data.Months, newPageMonth(*current, loc, true))
			}
			for _, p := range past {
				data.Months = append(data.Months, newPageMonth(p, loc, false))
			}
		}
	}
	if snap := s.latest.Load(); snap != nil {
		for _, rs := range snap.report.SLOs {
			if rs.Service == h.Service && rs.SLO == h.SLO {
				data.Status = string(rs.Status)
			}
		}
	}
	data.Budget = chart{Title: "error budget left", Unit: "%", YMin: math.Max(lowest(budget, 0), -2), YMax: 1, Times: times, Loc: loc,
		Series: []chartSeries{{Name: "budget", Color: "#0969da", Values: budget}},
		Lines:  []chartLine{{Label: "spent", Y: 0, Color: "#cf222e"}}}.svg()
	slimin := math.Min(lowest(sli, h.Objective), h.Objective-(1-h.Objective))
	data.SLI = chart{Title: "SLI", Unit: "%", YMin: math.Max(slimin, 0), YMax: 1, Times: times, Loc: loc,
		Series: []chartSeries{{Name: "sli", Color: "#1a7f37", Values: sli}},
		Lines:  []chartLine{{Label: "objective " + slo.TrimFloat(h.Objective*100, 4) + "%", Y: h.Objective, Color: "#cf222e"}}}.svg()
	var windows []string
	for w := range h.Thresholds {
		windows = append(windows, w)
	}
	slices.SortFunc(windows, func(a, b string) int { return int(windowLen(a) - windowLen(b)) })
	burn := chart{Title: "burn rate", Unit: "×", YMin: 0, Times: times, Loc: loc}
	for i, win := range windows {
		series := chartSeries{Name: win, Color: burnColors[i%len(burnColors)], Values: vals(func(p HistoryPoint) *float64 { return p.BurnRates[win] })}
		burn.Series = append(burn.Series, series)
		burn.Lines = append(burn.Lines, chartLine{Label: win + " > " + slo.TrimFloat(h.Thresholds[win], 2) + "×", Y: h.Thresholds[win], Color: series.Color})
		burn.YMax = math.Max(burn.YMax, h.Thresholds[win]*1.5)
	}
	data.Burn, data.BurnLegend = burn.svg(), burn.Series
	var corrections []slo.Correction
	if o != nil {
		corrections = o.Corrections
	}
	data.Timeline = timeline(h, loc, corrections)
	for _, a := range h.Alerts {
		data.Spans = append(data.Spans, fmt.Sprintf("%s (%s): %s – %s", a.Alert, a.Severity, a.From.In(loc).Format("Jan 2 15:04"), a.To.In(loc).Format("Jan 2 15:04 MST")))
	}
	if len(h.Points) > 0 && h.Points[0].Total != nil {
		total := vals(func(p HistoryPoint) *float64 { return p.Total })
		bad := vals(func(p HistoryPoint) *float64 {
			if p.Total == nil || p.Good == nil {
				return nil
			}
			v := *p.Total - *p.Good
			return &v
		})
		var top float64
		for _, v := range total {
			if v != nil {
				top = math.Max(top, *v)
			}
		}
		data.Events = chart{Title: "events", YMin: 0, YMax: math.Max(top, 1), Times: times, Loc: loc,
			Series: []chartSeries{{Name: "total", Color: "#0969da", Values: total}, {Name: "bad", Color: "#cf222e", Values: bad}}}.svg()
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := sloTmpl.Execute(w, data); err != nil {
		s.log.Error("slo page", "err", err)
	}
}
