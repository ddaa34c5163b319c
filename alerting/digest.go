package alerting

import (
	"embed"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/template"
	"time"

	"github.com/prometheus/common/model"

	"github.com/kakeibo-slo/kakeibo/slo"
)

// Digest is a reminder: every SLO routed to a channel, whether it is kept,
// how much budget is left and how fast it burns. It answers one question
// first: is any SLO violated?
type Digest struct {
	Channel  string `json:"channel"`
	Language string `json:"language"`
	// At is when the numbers are for; TimeZone (IANA) is the zone the
	// digest states times in, kept by name so that a digest delivered late
	// (from the outbox) still says "JST".
	At       time.Time    `json:"at"`
	TimeZone string       `json:"time_zone,omitempty"`
	Lines    []DigestLine `json:"lines"`
	// Frozen says which actions the service's error budget policy stops,
	// and why (see slo.Gate); empty while nothing is frozen.
	Frozen []string `json:"frozen,omitempty"`
	// Month, when set, makes this a monthly report (notify.reports)
	// instead of a digest of the current numbers.
	Month *MonthReport `json:"month,omitempty"`
}

// MonthReport is a service's calendar month for its stakeholders.
type MonthReport struct {
	Service string `json:"service"`
	Month   string `json:"month"` // YYYY-MM (UTC)
	// Link is the report's page on kakeibo (empty without --external-url).
	Link string      `json:"link,omitempty"`
	SLOs []MonthLine `json:"slos"`
}

// MonthLine is one SLO in a monthly report, with the month before for the
// trend.
type MonthLine struct {
	SLO       string   `json:"slo"`
	Objective float64  `json:"objective"`
	Met       *bool    `json:"met"`
	SLI       *float64 `json:"sli"`
	Spent     *float64 `json:"spent"`      // share of the month's budget
	PrevSpent *float64 `json:"prev_spent"` // the month before
	Top       string   `json:"top,omitempty"`
	Note      string   `json:"note,omitempty"`
}

// Trend compares a line's budget spent with the month before.
func (l MonthLine) Trend(lang string) string {
	ja := lang == "ja"
	if l.Spent == nil || l.PrevSpent == nil {
		return ""
	}
	d := *l.Spent - *l.PrevSpent
	prev := slo.TrimFloat(*l.PrevSpent*100, 1) + "%"
	switch {
	case d > 0.05:
		return map[bool]string{false: "worse than the month before (" + prev + " spent)", true: "前月より悪化（前月 " + prev + " 消費）"}[ja]
	case d < -0.05:
		return map[bool]string{false: "better than the month before (" + prev + " spent)", true: "前月より改善（前月 " + prev + " 消費）"}[ja]
	}
	return map[bool]string{false: "about as the month before (" + prev + " spent)", true: "前月並み（前月 " + prev + " 消費）"}[ja]
}

// Missed counts the SLOs that missed their objective in the month.
func (m *MonthReport) Missed() int {
	n := 0
	for _, l := range m.SLOs {
		if l.Met != nil && !*l.Met {
			n++
		}
	}
	return n
}

// AddGate notes in the digest an action its service's policy stops.
func (d *Digest) AddGate(g slo.GateDecision) {
	if g.Open {
		return
	}
	d.Frozen = append(d.Frozen, fmt.Sprintf("%s: %s frozen by the error budget policy (%s)", g.Service, g.Action, strings.Join(g.Frozen, "; ")))
}

// GateDigest adds the deploy gate of svc, decided from results, to d.
func GateDigest(d *Digest, svc *slo.Service, results []slo.Result, overrides []slo.GateOverride, now time.Time) {
	if svc == nil || svc.Policy == nil {
		return
	}
	rep := make([]slo.ReportSLO, 0, len(results))
	for _, r := range results {
		rep = append(rep, slo.NewReportSLO(r))
	}
	d.AddGate(slo.Gate(svc, rep, "deploy", overrides, now))
}

// DigestLine is one SLO in a digest.
type DigestLine struct {
	Service         string     `json:"service"`
	SLO             string     `json:"slo"`
	Status          slo.Status `json:"status"`
	SLI             *float64   `json:"sli,omitempty"`
	Objective       float64    `json:"objective"`
	Window          string     `json:"window"`
	Calendar        bool       `json:"calendar,omitempty"`
	BudgetRemaining *float64   `json:"budget_remaining,omitempty"`
	BudgetSeconds   float64    `json:"budget_seconds"`
	FastestBurn     *float64   `json:"fastest_burn,omitempty"`
	FastestWindow   string     `json:"fastest_window,omitempty"`
	// Firing names the alerts that fire.
	Firing []string `json:"firing,omitempty"`
	// DataEnd is when the SLO's data ends (stale lines say since when).
	DataEnd time.Time `json:"data_end"`
	// Reason says why there is no data.
	Reason    string `json:"reason,omitempty"`
	Dashboard string `json:"dashboard,omitempty"`
}

// Kept counts the SLOs with status ok.
func (d *Digest) Kept() int { return d.count(slo.StatusOK) }

// NeedAttention counts the SLOs that are not ok (at risk, violated, stale, no data).
func (d *Digest) NeedAttention() int { return len(d.Lines) - d.Kept() }

func (d *Digest) count(sts ...slo.Status) int {
	n := 0
	for _, l := range d.Lines {
		if slices.Contains(sts, l.Status) {
			n++
		}
	}
	return n
}

// BuildDigest makes the digest of results for a channel, with times in loc.
// at is when the numbers are for.
func BuildDigest(channel, language string, results []slo.Result, at time.Time, loc *time.Location) Digest {
	if loc == nil {
		loc = time.UTC
	}
	d := Digest{Channel: channel, Language: language, At: at, TimeZone: loc.String()}
	for _, r := range results {
		o := r.Objective
		rep := slo.NewReportSLO(r)
		l := DigestLine{
			Service: o.Service, SLO: o.Name, Status: r.Status, SLI: rep.SLI, Objective: o.Target,
			Window: o.Window.String(), Calendar: o.Window.IsCalendar(), BudgetRemaining: rep.ErrorBudget.Remaining,
			BudgetSeconds: rep.ErrorBudget.RemainingSeconds, Dashboard: o.Links.Dashboard, DataEnd: r.LastData(),
		}
		if rate, w, ok := r.FastestBurn(); ok && r.Err == nil {
			l.FastestBurn, l.FastestWindow = &rate, slo.FormatDuration(w)
		}
		for _, a := range r.Alerts {
			if a.Firing {
				l.Firing = append(l.Firing, a.Name)
			}
		}
		if r.Err != nil {
			l.Reason = r.Err.Error()
		}
		d.Lines = append(d.Lines, l)
	}
	return d
}

// rank orders a digest: violated, at risk, stale or no data, kept.
var rank = map[slo.Status]int{slo.StatusViolated: 0, slo.StatusAtRisk: 1, slo.StatusStale: 2, slo.StatusNoData: 3, slo.StatusBackfilling: 3, slo.StatusOK: 4}

// Sorted returns the lines, what needs attention first.
func (d *Digest) Sorted() []DigestLine {
	out := slices.Clone(d.Lines)
	slices.SortStableFunc(out, func(a, b DigestLine) int { return rank[a.Status] - rank[b.Status] })
	return out
}

func (d *Digest) location() *time.Location {
	if d.TimeZone != "" {
		if l, err := time.LoadLocation(d.TimeZone); err == nil {
			return l
		}
	}
	if d.At.Location() != nil {
		return d.At.Location()
	}
	return time.UTC
}

// When states At in the digest's zone, by name: "2026-11-25 11:00 JST".
func (d *Digest) When() string { return d.At.In(d.location()).Format("2006-01-02 15:04 MST") }

// Verdict is the digest's first line: whether any SLO is violated, in the
// digest's language.
func (d *Digest) Verdict() string {
	ja := d.Language == "ja"
	var violated []string
	for _, l := range d.Sorted() {
		if l.Status != slo.StatusViolated {
			continue
		}
		spent := ""
		if l.BudgetRemaining != nil {
			x := slo.TrimFloat(1-*l.BudgetRemaining, 1)
			spent = map[bool]string{false: " (budget spent " + x + "×)", true: "（予算超過 " + x + "倍）"}[ja]
		}
		violated = append(violated, l.Service+"/"+l.SLO+spent)
	}
	risk, stale := d.count(slo.StatusAtRisk), d.count(slo.StatusStale, slo.StatusNoData, slo.StatusBackfilling)
	var notes []string
	if ja {
		if risk > 0 {
			notes = append(notes, fmt.Sprintf("要注意 %d件", risk))
		}
		if stale > 0 {
			notes = append(notes, fmt.Sprintf("データなし %d件", stale))
		}
		if len(violated) > 0 {
			return "SLO違反あり: " + strings.Join(violated, "、") + joinNotes(notes, "・", "", "、")
		}
		return "SLO違反: なし" + joinNotes(notes, "・", "", "、")
	}
	if risk > 0 {
		notes = append(notes, fmt.Sprintf("%d at risk", risk))
	}
	if stale > 0 {
		notes = append(notes, fmt.Sprintf("%d without current data", stale))
	}
	if len(violated) > 0 {
		return "SLO violated: " + strings.Join(violated, ", ") + joinNotes(notes, " · ", "", ", ")
	}
	return "SLO violations: none" + joinNotes(notes, " · ", "", ", ")
}

func joinNotes(notes []string, open, close, sep string) string {
	if len(notes) == 0 {
		return ""
	}
	return open + strings.Join(notes, sep) + close
}

// Describe says in words, in lang, how the SLO stands and why.
func (l DigestLine) Describe(lang string, d *Digest) string {
	ja := lang == "ja"
	pct := func(f *float64) string {
		if f == nil {
			return "-"
		}
		return slo.TrimFloat(*f*100, 3) + "%"
	}
	window := windowText(l.Window, l.Calendar, ja)
	objective := slo.TrimFloat(l.Objective*100, 4) + "%"
	sli := fmt.Sprintf("SLI %s vs %s over %s", pct(l.SLI), objective, window)
	if ja {
		sli = fmt.Sprintf("SLI %s（目標 %s・%s）", pct(l.SLI), objective, window)
	}
	left := func() string {
		if l.BudgetRemaining == nil {
			return ""
		}
		t := NaturalDuration(time.Duration(l.BudgetSeconds*float64(time.Second)), lang)
		if ja {
			return fmt.Sprintf("残りエラーバジェット %s%%（%s）", slo.TrimFloat(*l.BudgetRemaining*100, 1), t)
		}
		return fmt.Sprintf("budget left %s%% (%s)", slo.TrimFloat(*l.BudgetRemaining*100, 1), t)
	}
	burn := func() string {
		if l.FastestBurn == nil || *l.FastestBurn <= 0 {
			return ""
		}
		w := windowText(l.FastestWindow, false, ja)
		if ja {
			return fmt.Sprintf("直近%sは許容の%s倍の速さで消費中", w, slo.TrimFloat(*l.FastestBurn, 1))
		}
		return fmt.Sprintf("burning %s× the sustainable rate over %s", slo.TrimFloat(*l.FastestBurn, 1), w)
	}
	firing := ""
	if len(l.Firing) > 0 {
		firing = map[bool]string{false: " (" + strings.Join(l.Firing, ", ") + " firing)", true: "（" + strings.Join(l.Firing, "、") + " 発火中）"}[ja]
	}
	join := func(parts ...string) string {
		var out []string
		for _, p := range parts {
			if p != "" {
				out = append(out, p)
			}
		}
		return strings.Join(out, map[bool]string{false: "; ", true: "、"}[ja])
	}
	switch l.Status {
	case slo.StatusViolated:
		x := "-"
		if l.BudgetRemaining != nil {
			x = slo.TrimFloat(1-*l.BudgetRemaining, 1)
		}
		if ja {
			return "違反 — " + join("エラーバジェットの"+x+"倍を消費（予算超過）", sli, burn()+firing)
		}
		return "violated — " + join("has spent "+x+" times its error budget", sli, burn()+firing)
	case slo.StatusAtRisk:
		if ja {
			return "要注意 — " + join(burn()+firing, left(), sli)
		}
		return "at risk — " + join(burn()+firing, left(), sli)
	case slo.StatusStale:
		since := l.DataEnd.In(d.location()).Format("2006-01-02 15:04 MST")
		if ja {
			return "データ停止 — " + since + " 以降のデータがありません（最後のSLI " + pct(l.SLI) + "）"
		}
		return "stale — no data since " + since + " (last known SLI " + pct(l.SLI) + ")"
	case slo.StatusBackfilling:
		if ja {
			return "集計中 — 新しいSLOの履歴を読み込んでいます（" + l.Reason + "）"
		}
		return "backfilling — counting the new SLO's history (" + l.Reason + ")"
	case slo.StatusNoData:
		reason := l.Reason
		if reason == "" {
			reason = map[bool]string{false: "no requests in the period", true: "期間内にリクエストがありません"}[ja]
		}
		if ja {
			return "データなし — " + reason
		}
		return "no data — " + reason
	}
	if ja {
		return "達成 — " + join(sli, left())
	}
	return "kept — " + join(sli, left())
}

// windowText names a window in words: "30 days", "this month"; "30日間", "今月".
func windowText(w string, calendar, ja bool) string {
	if calendar {
		switch w {
		case "month":
			return map[bool]string{false: "this calendar month", true: "今月"}[ja]
		case "week":
			return map[bool]string{false: "this calendar week", true: "今週"}[ja]
		}
	}
	d, err := model.ParseDuration(w)
	if err != nil {
		return w
	}
	return NaturalDuration(time.Duration(d), map[bool]string{false: "en", true: "ja"}[ja])
}

// NaturalDuration prints a span of time as people say it, to two adjacent
// units: "2 hours 3 minutes", "38 minutes 52 seconds", "30 days"; "2時間3分",
// "38分52秒", "30日間" ("0 seconds" / "0秒" for less than a second).
func NaturalDuration(d time.Duration, lang string) string {
	ja := lang == "ja"
	type unit struct {
		d      time.Duration
		en, ja string
	}
	units := []unit{{24 * time.Hour, "day", "日"}, {time.Hour, "hour", "時間"}, {time.Minute, "minute", "分"}, {time.Second, "second", "秒"}}
	d = d.Round(time.Second)
	say := func(n time.Duration, u unit) string {
		if ja {
			return fmt.Sprintf("%d%s", n, u.ja)
		}
		if n == 1 {
			return "1 " + u.en
		}
		return fmt.Sprintf("%d %ss", n, u.en)
	}
	for i, u := range units {
		n := d / u.d
		if n == 0 {
			continue
		}
		out := say(n, u)
		rest := d - n*u.d
		if i+1 < len(units) {
			if m := rest / units[i+1].d; m > 0 {
				if ja {
					return out + say(m, units[i+1])
				}
				return out + " " + say(m, units[i+1])
			}
		}
		if ja && u.ja == "日" {
			out += "間" // 30日間: a span, not a date
		}
		return out
	}
	return map[bool]string{false: "0 seconds", true: "0秒"}[ja]
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
	"deref":    func(b *bool) bool { return b != nil && *b },
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
		if s == slo.StatusStale {
			return ":hourglass:"
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

// Digest renders a digest in its language (English when unknown); a
// monthly report with the report templates.
func (t *Templates) Digest(d *Digest) (string, error) {
	kind := "digest"
	if d.Month != nil {
		kind = "report"
	}
	tmpl := t.byName[kind+"."+d.Language+".tmpl"]
	if tmpl == nil {
		tmpl = t.byName[kind+".en.tmpl"]
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
