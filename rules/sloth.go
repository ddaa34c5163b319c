package rules

import (
	"bytes"
	"fmt"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/kakeibo-slo/kakeibo/slo"
)

// Sloth spec (prometheus/v1), for teams that already run Sloth
// (https://sloth.dev): one document per service. Sloth takes rates where
// kakeibo's queries count events; the ratio over a window is the same, so
// the queries carry over, with bad = total - good where the spec gives good.

type slothSpec struct {
	Version string            `yaml:"version"`
	Service string            `yaml:"service"`
	Labels  map[string]string `yaml:"labels,omitempty"`
	SLOs    []slothSLO        `yaml:"slos"`
}

type slothSLO struct {
	Name        string            `yaml:"name"`
	Objective   float64           `yaml:"objective"`
	Description string            `yaml:"description,omitempty"`
	Labels      map[string]string `yaml:"labels,omitempty"`
	SLI         struct {
		Events struct {
			ErrorQuery string `yaml:"error_query"`
			TotalQuery string `yaml:"total_query"`
		} `yaml:"events"`
	} `yaml:"sli"`
	Alerting slothAlerting `yaml:"alerting"`
}

type slothAlerting struct {
	Name        string            `yaml:"name"`
	Labels      map[string]string `yaml:"labels,omitempty"`
	Annotations map[string]string `yaml:"annotations,omitempty"`
	PageAlert   slothAlert        `yaml:"page_alert"`
	TicketAlert slothAlert        `yaml:"ticket_alert"`
}

type slothAlert struct {
	Disable bool              `yaml:"disable,omitempty"`
	Labels  map[string]string `yaml:"labels,omitempty"`
}

// Sloth renders the Prometheus-backed SLOs as Sloth specs. Sloth knows
// rolling windows and occurrences only; other SLOs are skipped with a note.
func Sloth(services []*slo.Service) ([]byte, []string, error) {
	var b bytes.Buffer
	b.WriteString(Header)
	var notes []string
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	for _, svc := range services {
		spec := slothSpec{Version: "prometheus/v1", Service: svc.Name, Labels: svc.Labels}
		for _, o := range svc.SLOs {
			switch {
			case o.SLI.Prometheus == nil:
				notes = append(notes, fmt.Sprintf("%s: skipped: ALB-backed SLOs are evaluated by kakeibo serve", o.ID()))
				continue
			case o.Window.IsCalendar() || o.Budgeting.Method == slo.Timeslices:
				notes = append(notes, fmt.Sprintf("%s: skipped: Sloth has no calendar windows or timeslices", o.ID()))
				continue
			}
			ps := o.SLI.Prometheus
			s := slothSLO{Name: o.Name, Objective: o.Target * 100, Description: o.Description}
			s.SLI.Events.TotalQuery = ps.Total
			s.SLI.Events.ErrorQuery = ps.Bad
			if ps.Good != "" {
				s.SLI.Events.ErrorQuery = fmt.Sprintf("(%s) - (%s)", ps.Total, ps.Good)
			}
			s.Alerting = slothAlerting{
				Name:        "SLOErrorBudgetBurn",
				Labels:      map[string]string{"alert_source": "sloth"},
				Annotations: map[string]string{"summary": fmt.Sprintf("%s is burning its error budget too fast", o.ID())},
				PageAlert:   slothAlert{Labels: map[string]string{"severity": "page"}},
				TicketAlert: slothAlert{Labels: map[string]string{"severity": "ticket"}},
			}
			if o.Links.Runbook != "" {
				s.Alerting.Annotations["runbook_url"] = o.Links.Runbook
			}
			pages, tickets := false, false
			for _, w := range o.Alerting.Windows {
				pages = pages || w.Severity == slo.Page
				tickets = tickets || w.Severity == slo.Ticket
			}
			s.Alerting.PageAlert.Disable, s.Alerting.TicketAlert.Disable = !pages, !tickets
			if o.Window.Length != 30*24*time.Hour {
				notes = append(notes, fmt.Sprintf("%s: window %s: Sloth evaluates every SLO of a run over one period (30d by default); generate it with that period set to %s", o.ID(), o.Window, o.Window))
			}
			spec.SLOs = append(spec.SLOs, s)
		}
		if len(spec.SLOs) == 0 {
			continue
		}
		if err := enc.Encode(spec); err != nil {
			return nil, nil, err
		}
	}
	return b.Bytes(), notes, enc.Close()
}
