package alerting

import (
	"embed"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/template"
	"time"

	"github.com/kakeibo-slo/kakeibo/slo"
)

// Digest is a reminder: every SLO routed to a channel, whether it is kept,
// how much budget is left and how fast it burns.
type Digest struct {
	Channel  string       `json:"channel"`
	Language string       `json:"language"`
	At       time.Time    `json:"at"`
	Lines    []DigestLine `json:"lines"`
}

// DigestLine is one SLO in a digest.
type DigestLine struct {
	Service         string     `json:"service"`
	SLO             string     `json:"slo"`
	Status          slo.Status `json:"status"`
	SLI             *float64   `json:"sli,omitempty"`
	Objective       float64    `json:"objective"`
	Window          string     `json:"window"`
	BudgetRemaining *float64   `json:"budget_remaining,omitempty"`
	BudgetSeconds   float64    `json:"budget_seconds"`
	FastestBurn     *float64   `json:"fastest_burn,omitempty"`
	FastestWindow   string     `json:"fastest_window,omitempty"`
	Dashboard       string     `json:"dashboard,omitempty"`
}

// Kept counts the SLOs with status ok.
func (d *Digest) Kept() int {
	n := 0
	for _, l := range d.Lines {
		if l.Status == slo.StatusOK {
			n++
		}
	}
	return n
}

// NeedAttention counts the SLOs that are not ok (at risk, violated, no data).
func (d *Digest) NeedAttention() int { return len(d.Lines) - d.Kept() }

// BuildDigest makes the digest of results for a channel.
func BuildDigest(channel, language string, results []slo.Result, at time.Time) Digest {
	d := Digest{Channel: channel, Language: language, At: at}
	for _, r := range results {
		o := r.Objective
		rep := slo.NewReportSLO(r)
		l := DigestLine{
			Service: o.Service, SLO: o.Name, Status: r.Status, SLI: rep.SLI, Objective: o.Target,
			Window: o.Window.String(), BudgetRemaining: rep.ErrorBudget.Remaining,
			BudgetSeconds: rep.ErrorBudget.RemainingSeconds, Dashboard: o.Links.Dashboard,
		}
		if rate, w, ok := r.FastestBurn(); ok && r.Err == nil {
			l.FastestBurn, l.FastestWindow = &rate, slo.FormatDuration(w)
		}
		d.Lines = append(d.Lines, l)
	}
	return d
}

//go:embed templates/*.tmpl
var builtinTemplates embed.FS

// Templates renders digests and alert messages per language.
type Templates struct {
	byName map[string]*template.Template
}

var funcs = template.FuncMap{
	"esc":     EscapeMrkdwn,
	"percent": func(f float64) string { return slo.TrimFloat(f*100, 3) + "%" },
	"ratio": func(f *float64) string {
		if f == nil {
			return "-"
		}
		return slo.TrimFloat(*f*100, 3) + "%"
	},
	"budget": func(f *float64) string {
		if f == nil {
			return "-"
		}
		return slo.TrimFloat(*f*100, 1) + "%"
	},
	"duration": func(secs float64) string { return slo.HumanDuration(time.Duration(secs * float64(time.Second))) },
	"burn": func(f *float64) string {
		if f == nil {
			return "-"
		}
		return slo.TrimFloat(*f, 2) + "×"
	},
	"mark": func(s slo.Status) string {
		switch s {
		case slo.StatusOK:
			return ":white_check_mark:"
		case slo.StatusAtRisk:
			return ":warning:"
		case slo.StatusViolated:
			return ":x:"
		}
		return ":grey_question:"
	},
}

// LoadTemplates returns the built-in templates, overridden by files named
// like them (digest.en.tmpl, digest.ja.tmpl) in dir when dir is set.
func LoadTemplates(dir string) (*Templates, error) {
	t := &Templates{byName: map[string]*template.Template{}}
	entries, err := builtinTemplates.ReadDir("templates")
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		text, err := builtinTemplates.ReadFile("templates/" + e.Name())
		if err != nil {
			return nil, err
		}
		if dir != "" {
			if override, err := os.ReadFile(filepath.Join(dir, e.Name())); err == nil {
				text = override
			} else if !os.IsNotExist(err) {
				return nil, fmt.Errorf("template %s: %w", e.Name(), err)
			}
		}
		tmpl, err := template.New(e.Name()).Funcs(funcs).Option("missingkey=error").Parse(string(text))
		if err != nil {
			return nil, fmt.Errorf("template %s: %w", e.Name(), err)
		}
		t.byName[e.Name()] = tmpl
	}
	return t, nil
}

// Digest renders a digest in its language (English when unknown).
func (t *Templates) Digest(d *Digest) (string, error) {
	tmpl := t.byName["digest."+d.Language+".tmpl"]
	if tmpl == nil {
		tmpl = t.byName["digest.en.tmpl"]
	}
	var b strings.Builder
	if err := tmpl.Execute(&b, d); err != nil {
		return "", fmt.Errorf("render digest: %w", err)
	}
	return b.String(), nil
}

// EscapeMrkdwn escapes text for Slack's mrkdwn, as Slack's "Formatting text
// for app surfaces" page asks (&, <, > become entities), so spec text can
// neither open a link nor post a mention such as <!channel>.
func EscapeMrkdwn(s string) string {
	return mrkdwnEscaper.Replace(s)
}

var mrkdwnEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")
