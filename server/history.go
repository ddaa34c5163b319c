package server

import (
	"context"
	"fmt"
	"html/template"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/kakeibo-slo/kakeibo/slo"
	"github.com/kakeibo-slo/kakeibo/sources/alb"
)

// History is one SLO over a time range, evaluated again at every step from
// kakeibo's own stored counts (ALB) or from Prometheus: what the SLO page
// draws and /api/v1/slos/{service}/{slo}/history returns.
type History struct {
	Service   string         `json:"service"`
	SLO       string         `json:"slo"`
	Objective float64        `json:"objective"`
	Window    string         `json:"window"`
	Range     string         `json:"range"`
	From      time.Time      `json:"from"`
	To        time.Time      `json:"to"`
	Step      string         `json:"step"`
	Points    []HistoryPoint `json:"points"`
	Alerts    []AlertSpan    `json:"alerts"`
	// Thresholds are the alert pairs' burn-rate thresholds, by long window.
	Thresholds map[string]float64 `json:"thresholds"`
}

// HistoryPoint is the SLO as evaluated at one time. Numbers without data
// are null.
type HistoryPoint struct {
	At              time.Time           `json:"at"`
	BudgetRemaining *float64            `json:"budget_remaining"`
	SLI             *float64            `json:"sli"`
	BurnRates       map[string]*float64 `json:"burn_rates"`
	Firing          []string            `json:"firing,omitempty"`
	// Good and Total count the events of the step ending here (ALB SLOs).
	Good  *float64 `json:"good,omitempty"`
	Total *float64 `json:"total,omitempty"`
}

// AlertSpan is a stretch of time during which an alert fired.
type AlertSpan struct {
	Alert    string    `json:"alert"`
	Severity string    `json:"severity"`
	From     time.Time `json:"from"`
	To       time.Time `json:"to"`
}

// historyRanges are the ranges the page offers, with the number of steps.
var historyRanges = map[string]int{"period": 120, "7d": 168, "1d": 96}

// history evaluates o at regular steps over a range ending at its newest
// evaluation: "period" (the SLO's window), "7d" or "1d".
func (s *Server) history(ctx context.Context, o *slo.Objective, rng string, end time.Time) (History, error) {
	steps, ok := historyRanges[rng]
	if !ok {
		return History{}, fmt.Errorf("range %q: use period, 7d or 1d", rng)
	}
	var span time.Duration
	switch rng {
	case "7d":
		span = 7 * 24 * time.Hour
	case "1d":
		span = 24 * time.Hour
	default:
		start, _ := o.Window.Bounds(end)
		span = end.Sub(start)
	}
	if o.SLI.Prometheus != nil {
		steps = min(steps, 48) // each step asks Prometheus again
	}
	step := max((span / time.Duration(steps)).Truncate(time.Minute), time.Minute)
	h := History{Service: o.Service, SLO: o.Name, Objective: o.Target, Window: o.Window.String(), Range: rng,
		To: end, Step: slo.FormatDuration(step), Thresholds: map[string]float64{}}
	for _, a := range o.Alerting.Windows {
		if th, ok := h.Thresholds[slo.FormatDuration(a.Long)]; !ok || a.Threshold(o.Window.Nominal()) < th {
			h.Thresholds[slo.FormatDuration(a.Long)] = a.Threshold(o.Window.Nominal())
		}
	}
	src := s.sources()
	open := map[string]*AlertSpan{}
	var first time.Time
	for t := end.Add(-time.Duration(steps-1) * step); !t.After(end); t = t.Add(step) {
		if ctx.Err() != nil {
			return h, ctx.Err()
		}
		if first.IsZero() {
			first = t
		}
		r := Evaluate(ctx, src, []*slo.Objective{o}, t, t)[0]
		rep := slo.NewReportSLO(r)
		p := HistoryPoint{At: t, BurnRates: map[string]*float64{}}
		if r.HasData {
			p.BudgetRemaining, p.SLI = rep.ErrorBudget.Remaining, rep.SLI
		}
		for w, win := range rep.Windows {
			p.BurnRates[w] = win.BurnRate
		}
		for _, a := range r.Alerts {
			if a.Firing {
				p.Firing = append(p.Firing, a.Name)
			}
		}
		if r.BudgetExhausted {
			p.Firing = append(p.Firing, "budget-exhausted")
		}
		if o.SLI.ALB != nil && src.ALB != nil {
			if c, err := alb.Counts(src.ALB, o.ID(), t.Add(-step), t); err == nil {
				p.Good, p.Total = &c.Good, &c.Total
			}
		}
		severity := map[string]string{"budget-exhausted": string(slo.Ticket)}
		for _, a := range o.Alerting.Windows {
			severity[a.Name] = string(a.Severity)
		}
		for _, name := range p.Firing {
			if sp := open[name]; sp != nil {
				sp.To = t
				continue
			}
			open[name] = &AlertSpan{Alert: name, Severity: severity[name], From: t, To: t}
		}
		for name, sp := range open {
			if !slices.Contains(p.Firing, name) {
				h.Alerts = append(h.Alerts, *sp)
				delete(open, name)
			}
		}
		h.Points = append(h.Points, p)
	}
	for _, sp := range open {
		h.Alerts = append(h.Alerts, *sp)
	}
	slices.SortFunc(h.Alerts, func(a, b AlertSpan) int { return a.From.Compare(b.From)*2 + strings.Compare(a.Alert, b.Alert) })
	h.From = first
	return h, nil
}

// chart draws series over a history's points as a small SVG line chart
// (rendered on the server: no script, works offline, prints). A nil value
// is a gap.
type chart struct {
	Title  string
	Unit   string // "%" or "×"
	Series []chartSeries
	Lines  []chartLine // horizontal references (objective, thresholds, 0)
	YMin   float64
	YMax   float64
	// Times are the points' times, shown on the time axis and on hover in
	// Loc (the SLO's zone).
	Times []time.Time
	Loc   *time.Location
}

type chartSeries struct {
	Name   string
	Color  string
	Values []*float64
}

type chartLine struct {
	Label string
	Y     float64
	Color string
}

const (
	chartW, chartH     = 720.0, 180.0
	chartLeft, chartTB = 100.0, 18.0
)

// svg renders the chart. Every series is one <polyline> per run of values
// (data-points counts its points, for tests).
func (c chart) svg() template.HTML {
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %g %g" role="img" aria-label="%s">`, chartW, chartH, template.HTMLEscapeString(c.Title))
	lo, hi := c.YMin, c.YMax
	if hi <= lo {
		hi = lo + 1
	}
	y := func(v float64) float64 {
		v = math.Max(lo, math.Min(hi, v))
		return chartTB + (chartH-2*chartTB)*(1-(v-lo)/(hi-lo))
	}
	n := 0
	for _, s := range c.Series {
		n = max(n, len(s.Values))
	}
	x := func(i int) float64 {
		if n <= 1 {
			return chartLeft
		}
		return chartLeft + (chartW-chartLeft-8)*float64(i)/float64(n-1)
	}
	fmt.Fprintf(&b, `<rect x="%g" y="%g" width="%g" height="%g" fill="#fafbfc" stroke="#d0d7de"/>`, chartLeft, chartTB, chartW-chartLeft-8, chartH-2*chartTB)
	for _, v := range []float64{lo, hi} {
		fmt.Fprintf(&b, `<text class="y-label" x="%g" y="%g" font-size="11" text-anchor="end" fill="#57606a">%s</text>`, chartLeft-4, y(v)+4, template.HTMLEscapeString(axisLabel(v, c.Unit)))
	}
	c.timeAxis(&b, x, n)
	for _, l := range c.Lines {
		fmt.Fprintf(&b, `<line x1="%g" x2="%g" y1="%.1f" y2="%.1f" stroke="%s" stroke-dasharray="4 3"/><text class="line-label" x="%g" y="%.1f" font-size="11" fill="%s">%s</text>`,
			chartLeft, chartW-8, y(l.Y), y(l.Y), l.Color, chartLeft+4, y(l.Y)-3, l.Color, template.HTMLEscapeString(l.Label))
	}
	var below, above *float64 // the furthest values outside the drawn range
	for _, s := range c.Series {
		var pts []string
		flush := func() {
			if len(pts) > 0 {
				fmt.Fprintf(&b, `<polyline data-series="%s" data-points="%d" fill="none" stroke="%s" stroke-width="1.6" points="%s"/>`,
					template.HTMLEscapeString(s.Name), len(pts), s.Color, strings.Join(pts, " "))
			}
			pts = pts[:0]
		}
		for i, v := range s.Values {
			if v == nil || math.IsNaN(*v) || math.IsInf(*v, 0) {
				flush()
				continue
			}
			if *v < lo && (below == nil || *v < *below) {
				below = v
			}
			if *v > hi && (above == nil || *v > *above) {
				above = v
			}
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(i), y(*v)))
		}
		flush()
	}
	// Values beyond the drawn range are pinned to its edge: say so, and
	// how far they went.
	if below != nil {
		fmt.Fprintf(&b, `<text class="clipped" x="%g" y="%g" font-size="11" text-anchor="end" fill="#cf222e">▼ lowest %s, below the chart</text>`, chartW-10, chartH-chartTB-4, template.HTMLEscapeString(axisLabel(*below, c.Unit)))
	}
	if above != nil {
		fmt.Fprintf(&b, `<text class="clipped" x="%g" y="%g" font-size="11" text-anchor="end" fill="#cf222e">▲ highest %s, above the chart</text>`, chartW-10, chartTB+13, template.HTMLEscapeString(axisLabel(*above, c.Unit)))
	}
	c.hoverBands(&b, x, n)
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

func (c chart) loc() *time.Location {
	if c.Loc != nil {
		return c.Loc
	}
	return time.UTC
}

// timeAxis labels about six times along the bottom, in the SLO's zone:
// dates for a range of days, times of day otherwise.
func (c chart) timeAxis(b *strings.Builder, x func(int) float64, n int) {
	if len(c.Times) < 2 {
		return
	}
	first, last := c.Times[0], c.Times[len(c.Times)-1]
	layout := "15:04"
	switch {
	case last.Sub(first) > 3*24*time.Hour:
		layout = "Jan 2"
	case last.In(c.loc()).YearDay() != first.In(c.loc()).YearDay():
		layout = "Jan 2 15:04"
	}
	ticks := 6
	for k := 0; k < ticks; k++ {
		i := k * (len(c.Times) - 1) / (ticks - 1)
		anchor := "middle"
		switch k {
		case 0:
			anchor = "start"
		case ticks - 1:
			anchor = "end"
		}
		class := "x-label"
		if k != 0 && k != 2 && k != ticks-1 {
			class += " minor" // hidden on narrow screens
		}
		fmt.Fprintf(b, `<line x1="%.1f" x2="%.1f" y1="%g" y2="%g" stroke="#d0d7de"/><text class="%s" x="%.1f" y="%g" font-size="11" text-anchor="%s" fill="#57606a">%s</text>`,
			x(i), x(i), chartH-chartTB, chartH-chartTB+3, class, x(i), chartH-3, anchor, template.HTMLEscapeString(c.Times[i].In(c.loc()).Format(layout)))
	}
	if z, _ := last.In(c.loc()).Zone(); z != "" {
		fmt.Fprintf(b, `<text class="x-zone" x="%g" y="%g" font-size="11" text-anchor="end" fill="#57606a">%s</text>`, chartLeft-4, chartH-3, template.HTMLEscapeString(z))
	}
}

// hoverBands lay an invisible band over each point: hovering (or, in most
// mobile browsers, a long press) shows the time and every series' value.
func (c chart) hoverBands(b *strings.Builder, x func(int) float64, n int) {
	if len(c.Times) != n || n < 2 {
		return
	}
	w := x(1) - x(0)
	for i, t := range c.Times {
		var vals []string
		for _, s := range c.Series {
			v := "no data"
			if i < len(s.Values) && s.Values[i] != nil {
				v = axisLabel(*s.Values[i], c.Unit)
			}
			vals = append(vals, s.Name+" "+v)
		}
		fmt.Fprintf(b, `<rect class="hover" x="%.1f" y="%g" width="%.1f" height="%g" fill="transparent"><title>%s: %s</title></rect>`,
			x(i)-w/2, chartTB, w, chartH-2*chartTB, template.HTMLEscapeString(t.In(c.loc()).Format("2006-01-02 15:04 MST")), template.HTMLEscapeString(strings.Join(vals, ", ")))
	}
}

func axisLabel(v float64, unit string) string {
	if unit == "%" {
		return slo.TrimFloat(v*100, 3) + "%"
	}
	return slo.TrimFloat(v, 2) + unit
}

// timeline draws the alert spans of a history as bars, one row per alert.
func timeline(h History, loc *time.Location, corrections []slo.Correction) template.HTML {
	names := []string{}
	for _, a := range h.Alerts {
		if !slices.Contains(names, a.Alert) {
			names = append(names, a.Alert)
		}
	}
	height := chartTB*2 + 16*float64(max(len(names), 1))
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="timeline" viewBox="0 0 %g %g" role="img" aria-label="alert timeline">`, chartW, height)
	span := h.To.Sub(h.From)
	x := func(t time.Time) float64 {
		if span <= 0 {
			return chartLeft
		}
		return chartLeft + (chartW-chartLeft-8)*float64(t.Sub(h.From))/float64(span)
	}
	// Corrected spans (their minutes left out of the SLI, or counted good)
	// are shaded under the bars.
	for _, c := range corrections {
		from, to := maxTime(c.From, h.From), minTime(c.To, h.To)
		if !from.Before(to) {
			continue
		}
		fmt.Fprintf(&b, `<rect class="correction" data-from="%s" data-to="%s" x="%.1f" y="%g" width="%.1f" height="%g" fill="#d0d7de" fill-opacity="0.6"><title>corrected (%s): %s – %s, %s (%s)</title></rect>`,
			c.From.UTC().Format(time.RFC3339), c.To.UTC().Format(time.RFC3339), x(from), chartTB-4, math.Max(x(to)-x(from), 2), height-2*chartTB+4,
			template.HTMLEscapeString(c.CountAs), c.From.In(loc).Format("2006-01-02 15:04"), c.To.In(loc).Format("15:04 MST"),
			template.HTMLEscapeString(c.Reason), template.HTMLEscapeString(c.Author))
	}
	if len(names) == 0 {
		fmt.Fprintf(&b, `<text x="%g" y="%g" font-size="12" fill="#57606a">no alert fired in this range</text>`, chartLeft, chartTB+12)
	}
	step, _ := time.ParseDuration(strings.ReplaceAll(h.Step, "d", "h")) // only for the bar width
	for i, name := range names {
		row := chartTB + 16*float64(i)
		fmt.Fprintf(&b, `<text class="row-label" x="%g" y="%g" font-size="11" text-anchor="end" fill="#57606a">%s</text>`, chartLeft-4, row+10, template.HTMLEscapeString(name))
		for _, a := range h.Alerts {
			if a.Alert != name {
				continue
			}
			color := "#f2a900"
			if a.Severity == string(slo.Page) {
				color = "#cf222e"
			}
			w := math.Max(x(a.To.Add(step))-x(a.From), 2)
			fmt.Fprintf(&b, `<rect class="firing-span" data-alert="%s" data-from="%s" data-to="%s" x="%.1f" y="%g" width="%.1f" height="12" fill="%s"><title>%s %s – %s</title></rect>`,
				template.HTMLEscapeString(name), a.From.UTC().Format(time.RFC3339), a.To.UTC().Format(time.RFC3339), x(a.From), row, w, color,
				template.HTMLEscapeString(name), a.From.In(loc).Format("2006-01-02 15:04"), a.To.In(loc).Format("15:04 MST"))
		}
	}
	for _, e := range []struct {
		t      time.Time
		anchor string
		x      float64
	}{{h.From, "start", chartLeft}, {h.To, "end", chartW - 8}} {
		fmt.Fprintf(&b, `<text class="x-label" x="%g" y="%g" font-size="11" text-anchor="%s" fill="#57606a">%s</text>`, e.x, height-3, e.anchor, template.HTMLEscapeString(e.t.In(loc).Format("Jan 2 15:04 MST")))
	}
	for _, e := range []struct {
		t      time.Time
		anchor string
		x      float64
	}{{h.From, "start", chartLeft}, {h.To, "end", chartW - 8}} {
		fmt.Fprintf(&b, `<text class="x-label" x="%g" y="%g" font-size="11" text-anchor="%s" fill="#57606a">%s</text>`, e.x, height-3, e.anchor, template.HTMLEscapeString(e.t.In(loc).Format("Jan 2 15:04 MST")))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
