package server

import (
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/kakeibo-slo/kakeibo/alerting"
	"github.com/kakeibo-slo/kakeibo/slo"
)

// monthReport is a service's report for the calendar month before now
// (UTC): its kept months (see keepPeriods), or, while the logs have not
// reached the month's end yet, what is known so far. Nil when the service
// has no SLO with months.
func (s *Server) monthReport(service string, now time.Time, loc *time.Location) *alerting.MonthReport {
	month := monthStart(now).AddDate(0, -1, 0)
	return s.monthReportOf(service, month, loc)
}

func (s *Server) monthReportOf(service string, month time.Time, loc *time.Location) *alerting.MonthReport {
	if loc == nil {
		loc = time.UTC
	}
	m := &alerting.MonthReport{Service: service, Month: month.Format("2006-01")}
	if s.cfg.ExternalURL != "" {
		m.Link = s.cfg.ExternalURL + "/reports/" + url.PathEscape(service) + "/" + m.Month
	}
	for _, o := range s.specs.Load().Objectives() {
		if o.Service != service || o.SLI.ALB == nil || o.Budgeting.Method == slo.Timeslices {
			continue
		}
		past, err := s.keptPeriods(o) // the month and the one before; not the current month
		if err != nil {
			continue
		}
		var this, before *slo.PeriodReport
		for i := range past {
			switch past[i].From {
			case month:
				this = &past[i]
			case month.AddDate(0, -1, 0):
				before = &past[i]
			}
		}
		if this == nil {
			rep, err := s.periodFor(o, month, month.AddDate(0, 1, 0))
			if err != nil {
				continue
			}
			rep.Note = joinNote("not kept yet: the logs have not reached the month's end", rep.Note)
			this = &rep
		}
		l := alerting.MonthLine{SLO: o.Name, Objective: o.Target, Met: this.Met, SLI: this.SLI, Spent: this.BudgetSpent, Note: this.Note}
		if before != nil {
			l.PrevSpent = before.BudgetSpent
		}
		if len(this.Spenders) > 0 {
			sp := this.Spenders[0]
			l.Top = fmt.Sprintf("%s–%s, %s bad events, %s of the budget", sp.From.In(loc).Format("Jan 2 15:04"), sp.To.In(loc).Format("15:04 MST"),
				slo.TrimFloat(sp.Bad, 0), slo.TrimFloat(sp.Share*100, 1)+"%")
		}
		m.SLOs = append(m.SLOs, l)
	}
	if len(m.SLOs) == 0 {
		return nil
	}
	return m
}

func joinNote(a, b string) string {
	if b == "" {
		return a
	}
	return a + "; " + b
}

var monthTmpl = template.Must(template.New("month").Funcs(template.FuncMap{
	"pct": func(f *float64) string {
		if f == nil {
			return "–"
		}
		return slo.TrimFloat(*f*100, 3) + "%"
	},
	"spent": func(f *float64) string {
		if f == nil {
			return "–"
		}
		return slo.TrimFloat(*f*100, 1) + "%"
	},
	"objective": func(f float64) string { return slo.TrimFloat(f*100, 3) + "%" },
	"met": func(b *bool) string {
		if b == nil {
			return "none"
		}
		return map[bool]string{true: "met", false: "missed"}[*b]
	},
}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>
  body { margin:24px; font:15px/1.5 -apple-system,BlinkMacSystemFont,"Segoe UI",Helvetica,Arial,"Hiragino Sans",sans-serif; color:#1f2328; max-width:960px; }
  table { border-collapse:collapse; width:100%; } td, th { padding:6px 10px; text-align:left; border-bottom:1px solid #d0d7de; vertical-align:top; }
  .missed { color:#cf222e; font-weight:600; } .met { color:#1a7f37; font-weight:600; } .note { color:#57606a; font-size:13px; }
  @media (max-width: 600px) { body { margin:12px; } td, th { padding:4px; font-size:13px; } }
</style></head><body>
{{- range .Reports}}
<section class="service" id="{{.Service}}">
<h1>{{.Service}}: SLO report for {{.Month}}</h1>
<p class="summary">{{if .Missed}}{{.Missed}} of {{len .SLOs}} SLOs missed their objective.{{else}}Every SLO met its objective.{{end}} Months are UTC; times in {{$.Zone}}.</p>
<table class="slos"><thead><tr><th>SLO</th><th>objective</th><th>SLI</th><th>budget spent</th><th>trend</th><th>biggest spender</th></tr></thead><tbody>
{{- range .SLOs}}
<tr><td>{{.SLO}}</td><td class="{{met .Met}}">{{met .Met}} ({{objective .Objective}})</td><td>{{pct .SLI}}</td><td>{{spent .Spent}}</td><td>{{.Trend "en"}}</td><td>{{.Top}}{{if .Note}}<div class="note">{{.Note}}</div>{{end}}</td></tr>
{{- end}}
</tbody></table>
</section>
{{- end}}
</body></html>
`))

// WriteMonthHTML writes monthly reports as one self-contained HTML page
// (no script), for stakeholders: the page serve links from Slack, and
// what `kakeibo report --period --format html` prints.
func WriteMonthHTML(w io.Writer, reports []*alerting.MonthReport, loc *time.Location) error {
	if loc == nil {
		loc = time.UTC
	}
	title := "SLO report"
	if len(reports) == 1 {
		title = reports[0].Service + ": SLO report for " + reports[0].Month
	} else if len(reports) > 1 {
		title = "SLO report for " + reports[0].Month
	}
	return monthTmpl.Execute(w, struct {
		Title   string
		Reports []*alerting.MonthReport
		Zone    string
	}{title, reports, loc.String()})
}

// reportPage serves /reports/{service}/{month}.
func (s *Server) reportPage(w http.ResponseWriter, r *http.Request) {
	month, err := time.Parse("2006-01", r.PathValue("month"))
	if err != nil {
		http.Error(w, "want a month as YYYY-MM", http.StatusBadRequest)
		return
	}
	service := r.PathValue("service")
	var loc *time.Location
	for _, svc := range s.specs.Load().Services {
		if svc.Name == service {
			loc = svc.Notify.Location
		}
	}
	m := s.monthReportOf(service, month, loc)
	if m == nil {
		http.Error(w, "no monthly report for "+service+": it has no ALB SLO with event budgets", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := WriteMonthHTML(w, []*alerting.MonthReport{m}, loc); err != nil {
		s.log.Error("report page", "err", err)
	}
}
