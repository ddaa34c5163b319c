package slo

import (
	"sort"
	"time"
)

// MinuteCount is the events of one minute.
type MinuteCount struct {
	At          time.Time
	Good, Total float64
}

// Spender is a stretch of time that spent error budget: its first and
// last bad minute (To is the end of the last), its bad events, and the
// share of the period's budget they spent.
type Spender struct {
	From  time.Time `json:"from"`
	To    time.Time `json:"to"`
	Bad   float64   `json:"bad"`
	Share float64   `json:"share"`
}

// PeriodReport is one SLO over a past period (a calendar month, say):
// whether it met its objective, how much of the period's budget it spent
// and on what.
type PeriodReport struct {
	Service   string    `json:"service"`
	SLO       string    `json:"slo"`
	From      time.Time `json:"from"`
	To        time.Time `json:"to"`
	Objective float64   `json:"objective"`
	Good      float64   `json:"good"`
	Total     float64   `json:"total"`
	SLI       *float64  `json:"sli"`
	Met       *bool     `json:"met"`
	// BudgetSpent is the share of the period's error budget spent (above
	// 1: overspent).
	BudgetSpent *float64  `json:"budget_spent"`
	Spenders    []Spender `json:"spenders"`
	Note        string    `json:"note,omitempty"`
}

// spenderGap joins bad minutes closer than this into one spender.
const spenderGap = 30 * time.Minute

// NewPeriodReport measures an objective over [from, to) from its minute
// counts (any order), with its top spenders, the biggest first.
func NewPeriodReport(o *Objective, from, to time.Time, minutes []MinuteCount, top int) PeriodReport {
	p := PeriodReport{Service: o.Service, SLO: o.Name, From: from, To: to, Objective: o.Target}
	sort.Slice(minutes, func(i, j int) bool { return minutes[i].At.Before(minutes[j].At) })
	var spenders []Spender
	for _, m := range minutes {
		if m.At.Before(from) || !m.At.Before(to) {
			continue
		}
		p.Good += m.Good
		p.Total += m.Total
		bad := m.Total - m.Good
		if bad <= 0 {
			continue
		}
		if n := len(spenders); n > 0 && m.At.Sub(spenders[n-1].To) < spenderGap {
			spenders[n-1].To, spenders[n-1].Bad = m.At.Add(time.Minute), spenders[n-1].Bad+bad
			continue
		}
		spenders = append(spenders, Spender{From: m.At, To: m.At.Add(time.Minute), Bad: bad})
	}
	if p.Total == 0 {
		p.Note = "no events in the period"
		return p
	}
	sli := p.Good / p.Total
	met := sli >= o.Target
	budget := (1 - o.Target) * p.Total // bad events the period could afford
	spent := (p.Total - p.Good) / budget
	p.SLI, p.Met, p.BudgetSpent = &sli, &met, &spent
	for i := range spenders {
		spenders[i].Share = spenders[i].Bad / budget
	}
	sort.SliceStable(spenders, func(i, j int) bool { return spenders[i].Bad > spenders[j].Bad })
	if len(spenders) > top {
		spenders = spenders[:top]
	}
	p.Spenders = spenders
	return p
}
