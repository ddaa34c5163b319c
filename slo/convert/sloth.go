package convert

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"gopkg.in/yaml.v3"

	"github.com/kakeibo-slo/kakeibo/slo"
)

// Sloth's spec, version prometheus/v1 (https://sloth.dev, the Go types in
// github.com/slok/sloth pkg/prometheus/api/v1), and its Kubernetes form
// (apiVersion sloth.slok.dev/v1, kind PrometheusServiceLevel, the same
// fields under spec): read by FromSloth, written by ToSloth. Sloth takes
// rates where kakeibo's queries count events; the ratio over a window is the
// same, so queries carry over both ways (rate() becomes increase() on the
// way in; bad = total - good on the way out).

type slothSpec struct {
	Version    string            `yaml:"version,omitempty"`
	APIVersion string            `yaml:"apiVersion,omitempty"`
	Kind       string            `yaml:"kind,omitempty"`
	Metadata   yaml.Node         `yaml:"metadata,omitempty"`
	Spec       *slothSpec        `yaml:"spec,omitempty"`
	Service    string            `yaml:"service"`
	Labels     map[string]string `yaml:"labels,omitempty"`
	SLOPlugins yaml.Node         `yaml:"slo_plugins,omitempty"`
	SLOs       []slothSLO        `yaml:"slos"`
}

type slothSLO struct {
	Name        string            `yaml:"name"`
	Objective   float64           `yaml:"objective"`
	Description string            `yaml:"description,omitempty"`
	Labels      map[string]string `yaml:"labels,omitempty"`
	Plugins     yaml.Node         `yaml:"plugins,omitempty"`
	SLI         slothSLI          `yaml:"sli"`
	Alerting    slothAlerting     `yaml:"alerting"`
}

type slothSLI struct {
	Raw *struct {
		ErrorRatioQuery string `yaml:"error_ratio_query"`
	} `yaml:"raw,omitempty"`
	Events *slothEvents `yaml:"events,omitempty"`
	Plugin *struct {
		ID      string            `yaml:"id"`
		Options map[string]string `yaml:"options"`
	} `yaml:"plugin,omitempty"`
}

type slothEvents struct {
	ErrorQuery string `yaml:"error_query"`
	TotalQuery string `yaml:"total_query"`
}

type slothAlerting struct {
	Name        string            `yaml:"name"`
	Labels      map[string]string `yaml:"labels,omitempty"`
	Annotations map[string]string `yaml:"annotations,omitempty"`
	PageAlert   slothAlert        `yaml:"page_alert"`
	TicketAlert slothAlert        `yaml:"ticket_alert"`
}

type slothAlert struct {
	Disable     bool              `yaml:"disable,omitempty"`
	Labels      map[string]string `yaml:"labels,omitempty"`
	Annotations map[string]string `yaml:"annotations,omitempty"`
}

// FromSloth converts Sloth specs (every document of data) into native
// specs with the given period (Sloth sets the period per run, 30d by
// default). Sloth's rate() queries become increase() so the SLI counts
// events; everything kakeibo does not carry over (alert names, labels and
// annotations, plugins, raw ratio SLIs) is a comment in the output and a
// note. The output is checked by loading it.
func FromSloth(name string, data []byte, period time.Duration) ([]byte, []string, error) {
	// Each document is read into nodes first: a Kubernetes CRD has its
	// camelCase keys renamed, then keys are matched the way Sloth matches
	// them (see normalizeSlothKeys) before decoding.
	nodes := yaml.NewDecoder(bytes.NewReader(data))
	var docs []nativeDoc
	var notes []string
	seen := map[string]bool{}
	for i := 1; ; i++ {
		var doc yaml.Node
		err := nodes.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		var s slothSpec
		var keyNotes []string
		switch {
		case err != nil:
		case strings.HasPrefix(apiVersion(&doc), "openslo/"):
			err = fmt.Errorf("apiVersion %s is OpenSLO, which Sloth reads too: convert it with kakeibo import openslo", apiVersion(&doc))
		case isCRD(&doc):
			err = decodeCRD(&doc, &s, &keyNotes)
		default:
			normalizeSlothKeys(&doc, slothSpecKeys, "", &keyNotes)
			err = doc.Decode(&s)
		}
		for _, n := range keyNotes {
			notes = append(notes, name+":"+strings.TrimPrefix(n, "line "))
		}
		if err != nil {
			return nil, nil, fmt.Errorf("%s: document %d: %w", name, i, err)
		}
		if s.APIVersion != "" || s.Kind != "" {
			if !strings.HasPrefix(s.APIVersion, "sloth.slok.dev/") || s.Kind != "PrometheusServiceLevel" || s.Spec == nil {
				return nil, nil, fmt.Errorf("%s: document %d: apiVersion %q kind %q is not a Sloth PrometheusServiceLevel", name, i, s.APIVersion, s.Kind)
			}
			s = *s.Spec
			s.Version = "prometheus/v1"
		}
		if s.Version != "prometheus/v1" {
			return nil, nil, fmt.Errorf("%s: document %d: version %q: kakeibo reads Sloth prometheus/v1 specs", name, i, s.Version)
		}
		if err := checkSloth(&s, seen); err != nil {
			return nil, nil, fmt.Errorf("%s: document %d: %w (Sloth refuses it too)", name, i, err)
		}
		d, n := slothService(&s, period)
		notes = append(notes, n...)
		if len(d.svc.SLOs) > 0 {
			docs = append(docs, d)
		}
	}
	if len(docs) == 0 {
		return nil, notes, fmt.Errorf("%s: no SLO could be converted", name)
	}
	out, err := writeNative(Header+"# Converted from the Sloth spec "+name+" with a period of "+slo.FormatDuration(period)+".\n", docs)
	if err != nil {
		return nil, nil, err
	}
	if _, err := slo.LoadBytes(name+" (converted)", out); err != nil {
		return out, notes, fmt.Errorf("the converted spec does not validate: %w", err)
	}
	return out, notes, nil
}

// crdKeys are the Kubernetes spelling (sloth.slok.dev/v1
// PrometheusServiceLevel) of the prometheus/v1 keys that differ.
var crdKeys = map[string]string{
	"errorQuery": "error_query", "totalQuery": "total_query", "errorRatioQuery": "error_ratio_query",
	"pageAlert": "page_alert", "ticketAlert": "ticket_alert", "sloPlugins": "slo_plugins",
}

func rootMapping(doc *yaml.Node) *yaml.Node {
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		doc = doc.Content[0]
	}
	if doc.Kind != yaml.MappingNode {
		return nil
	}
	return doc
}

func apiVersion(doc *yaml.Node) string {
	root := rootMapping(doc)
	for i := 0; root != nil && i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == "apiVersion" {
			return root.Content[i+1].Value
		}
	}
	return ""
}

// isCRD says whether a document is a Sloth Kubernetes CRD.
func isCRD(doc *yaml.Node) bool { return strings.HasPrefix(apiVersion(doc), "sloth.slok.dev/") }

// decodeCRD decodes a Kubernetes CRD strictly after renaming its spec's
// camelCase keys to prometheus/v1's (line numbers in its errors are those
// of the document as re-encoded).
func decodeCRD(doc *yaml.Node, s *slothSpec, notes *[]string) error {
	var rename func(n *yaml.Node)
	rename = func(n *yaml.Node) {
		if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				if to, ok := crdKeys[n.Content[i].Value]; ok {
					n.Content[i].Value = to
				}
			}
		}
		for _, c := range n.Content {
			rename(c)
		}
	}
	root := rootMapping(doc)
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == "spec" {
			rename(root.Content[i+1])
			normalizeSlothKeys(root.Content[i+1], slothSpecKeys, "spec.", notes)
		}
	}
	return doc.Decode(s)
}

// checkSloth refuses what Sloth refuses (its validate command): an SLO
// without a name, an objective outside (0, 100], an SLO with no SLI, an
// SLO plugin that is not one of Sloth's own (sloth.dev/...), and an SLO
// named twice in a service (seen spans the documents of a file).
func checkSloth(s *slothSpec, seen map[string]bool) error {
	var errs []error
	plugin := func(where string, p yaml.Node) {
		var plugins struct {
			Chain []struct {
				ID string `yaml:"id"`
			} `yaml:"chain"`
		}
		if p.IsZero() || p.Decode(&plugins) != nil {
			return
		}
		for _, c := range plugins.Chain {
			if !strings.HasPrefix(c.ID, "sloth.dev/") {
				errs = append(errs, fmt.Errorf("%s: SLO plugin %q is not one of Sloth's own (sloth.dev/...); Sloth loads it only from --slo-plugins-path", where, c.ID))
			}
		}
	}
	plugin(s.Service, s.SLOPlugins)
	for _, o := range s.SLOs {
		id := s.Service + "/" + o.Name
		switch {
		case o.Name == "":
			errs = append(errs, fmt.Errorf("%s: an SLO has no name", s.Service))
		case seen[id]:
			errs = append(errs, fmt.Errorf("%s: SLO named twice", id))
		}
		seen[id] = true
		if !(o.Objective > 0 && o.Objective <= 100) {
			errs = append(errs, fmt.Errorf("%s: objective %g: Sloth's objective must be > 0 and <= 100", id, o.Objective))
		}
		if o.SLI.Raw == nil && o.SLI.Events == nil && o.SLI.Plugin == nil {
			errs = append(errs, fmt.Errorf("%s: sli: at least one SLI type (events, raw, plugin) is required", id))
		}
		if p := o.SLI.Plugin; p != nil && o.SLI.Events == nil && o.SLI.Raw == nil {
			errs = append(errs, fmt.Errorf("%s: SLI plugin %q: Sloth loads SLI plugins only from --sli-plugins-path; write its queries as sli.events", id, p.ID))
		}
		if a := o.Alerting; a.Name == "" && (!a.PageAlert.Disable || !a.TicketAlert.Disable) {
			errs = append(errs, fmt.Errorf("%s: alerting.name: Sloth needs an alert name while page or ticket alerts are enabled", id))
		}
		plugin(id, o.Plugins)
	}
	return errors.Join(errs...)
}

func slothService(s *slothSpec, period time.Duration) (nativeDoc, []string) {
	d := nativeDoc{svc: nativeService{Service: s.Service, Labels: s.Labels}}
	var notes []string
	note := func(o *nativeSLO, format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		o.notes = append(o.notes, msg)
		notes = append(notes, s.Service+"/"+o.Name+": "+msg)
	}
	if !s.SLOPlugins.IsZero() {
		d.notes = append(d.notes, "slo_plugins are Sloth's own: not carried over.")
		notes = append(notes, s.Service+": slo_plugins not carried over")
	}
	for _, in := range s.SLOs {
		o := nativeSLO{Name: in.Name, Description: in.Description, Objective: in.Objective, Window: slo.FormatDuration(period), Labels: in.Labels}
		switch {
		case in.SLI.Events != nil:
			bad, okBad := slo.RateToCount(in.SLI.Events.ErrorQuery)
			total, okTotal := slo.RateToCount(in.SLI.Events.TotalQuery)
			if err := errors.Join(slo.CheckQueryTemplate(bad), slo.CheckQueryTemplate(total)); err != nil {
				// Sloth passes queries through unparsed: MetricsQL for
				// VictoriaMetrics, say.
				d.notes = append(d.notes, fmt.Sprintf("%s: not converted: its queries are not PromQL kakeibo can run (%v).", in.Name, err))
				notes = append(notes, fmt.Sprintf("%s/%s: skipped: not PromQL: %v", s.Service, in.Name, err))
				continue
			}
			o.SLI.Prometheus = &nativePrometheus{Bad: bad, Total: total}
			if !okBad || !okTotal {
				note(&o, "A query is kept as Sloth wrote it (no rate(x[{{.window}}]) to turn into increase): if it is a rate, ratios and burn rates are right but event counts (min_events) are per second.")
			}
		case in.SLI.Raw != nil:
			q := in.SLI.Raw.ErrorRatioQuery
			if err := slo.CheckQueryTemplate(q); err != nil {
				d.notes = append(d.notes, fmt.Sprintf("%s: not converted: its error_ratio_query is not PromQL kakeibo can run (%v).", in.Name, err))
				notes = append(notes, fmt.Sprintf("%s/%s: skipped: not PromQL: %v", s.Service, in.Name, err))
				continue
			}
			o.SLI.Prometheus = &nativePrometheus{ErrorRatio: q}
		case in.SLI.Plugin != nil:
			d.notes = append(d.notes, fmt.Sprintf("%s: not converted: the SLI plugin %q is Sloth's own: write its queries as sli.prometheus.", in.Name, in.SLI.Plugin.ID))
			notes = append(notes, fmt.Sprintf("%s/%s: skipped: SLI plugin %s", s.Service, in.Name, in.SLI.Plugin.ID))
			continue
		default:
			d.notes = append(d.notes, fmt.Sprintf("%s: not converted: it has no sli.", in.Name))
			continue
		}
		a := in.Alerting
		var lost []string
		// Alert labels and annotations carry over; a label kakeibo sets
		// itself (severity, alert, ...) or the SLO's labels set cannot.
		carry := func(where string, labels map[string]string) map[string]string {
			out := map[string]string{}
			for k, v := range labels {
				if slices.Contains(slo.ReservedLabels(), k) || in.Labels[k] != "" || s.Labels[k] != "" {
					lost = append(lost, fmt.Sprintf("%s.labels %s=%q (kakeibo sets %s itself)", where, k, v, k))
					continue
				}
				out[k] = v
			}
			if len(out) == 0 {
				return nil
			}
			return out
		}
		al := &nativeAlerting{Labels: carry("alerting", a.Labels), Annotations: without(a.Annotations, "runbook", "runbook_url")}
		for _, sw := range []struct {
			name string
			in   slothAlert
			out  **nativeSwitch
		}{{"page_alert", a.PageAlert, &al.Page}, {"ticket_alert", a.TicketAlert, &al.Ticket}} {
			ns := &nativeSwitch{Disable: sw.in.Disable, Labels: carry("alerting."+sw.name, sw.in.Labels), Annotations: sw.in.Annotations}
			if ns.Disable || len(ns.Labels) > 0 || len(ns.Annotations) > 0 {
				*sw.out = ns
			}
		}
		if len(al.Labels) == 0 {
			al.Labels = nil
		}
		if len(al.Annotations) == 0 {
			al.Annotations = nil
		}
		if al.Labels != nil || al.Annotations != nil || al.Page != nil || al.Ticket != nil {
			o.Alerting = al
		}
		for _, k := range []string{"runbook", "runbook_url"} {
			if v := a.Annotations[k]; v != "" && o.Links == nil {
				o.Links = &nativeLinks{Runbook: v}
			}
		}
		if a.Name != "" {
			lost = append(lost, fmt.Sprintf("alerting.name %s (kakeibo's alerts are SLOErrorBudgetBurn and SLOErrorBudgetExhausted, with alert, service and slo labels)", a.Name))
		}
		slices.Sort(lost)
		for _, l := range lost {
			note(&o, "Not carried over: %s.", l)
		}
		if !in.Plugins.IsZero() {
			note(&o, "Not carried over: Sloth SLO plugins.")
		}
		d.svc.SLOs = append(d.svc.SLOs, o)
	}
	return d, notes
}

func kv(m map[string]string) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s=%q", k, m[k]))
	}
	return strings.Join(parts, " ")
}

func without(m map[string]string, keys ...string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		if !slices.Contains(keys, k) {
			out[k] = v
		}
	}
	return out
}

func merge(a, b map[string]string) map[string]string {
	out := maps.Clone(a)
	if out == nil {
		out = map[string]string{}
	}
	maps.Copy(out, b)
	return out
}

// SlothPeriod is the Sloth spec of one service's SLOs of one period:
// Sloth sets the period per run (sloth generate --default-slo-period), and
// sloth generate writes one rule document per spec document, of which
// promtool and Prometheus read only the first, so each service and period
// is its own file and run.
type SlothPeriod struct {
	Period  time.Duration
	Service string
	Data    []byte
}

// ToSloth renders the Prometheus-backed SLOs as Sloth specs, one set per
// period, each headed by header. Sloth knows rolling windows and occurrences only; other SLOs are
// skipped with a note. Every SLO's alerts get their own name; what Sloth
// cannot express (custom alert pairs, min_events, scaled windows outside
// 28d/30d) is a comment on the SLO and a note.
func ToSloth(services []*slo.Service, header string) ([]SlothPeriod, []string, error) {
	var notes []string
	type key struct {
		period  time.Duration
		service string
	}
	specs := map[key]*slothSpec{}
	comments := map[*slothSpec][]string{}
	var order []key
	for _, svc := range services {
		for _, o := range svc.SLOs {
			switch {
			case o.SLI.Prometheus == nil:
				notes = append(notes, fmt.Sprintf("%s: skipped: ALB-backed SLOs are evaluated by kakeibo serve", o.ID()))
				continue
			case o.SLI.Grouped():
				notes = append(notes, fmt.Sprintf("%s: skipped: grouped by %s, and Sloth has no grouping (kakeibo rules has)", o.ID(), strings.Join(o.SLI.Prometheus.By, ", ")))
				continue
			case o.Window.IsCalendar() || o.Budgeting.Method == slo.Timeslices:
				notes = append(notes, fmt.Sprintf("%s: skipped: Sloth has no calendar windows or timeslices", o.ID()))
				continue
			}
			k := key{o.Window.Length, svc.Name}
			spec := specs[k]
			if spec == nil {
				spec = &slothSpec{Version: "prometheus/v1", Service: svc.Name, Labels: svc.Labels}
				specs[k] = spec
				order = append(order, k)
			}
			s, lost := slothObjective(svc, o)
			for _, l := range lost {
				notes = append(notes, fmt.Sprintf("%s: %s", o.ID(), l))
			}
			spec.SLOs = append(spec.SLOs, s)
			comments[spec] = append(comments[spec], strings.Join(lost, "\n"))
		}
	}
	periods := map[time.Duration][]key{}
	var periodOrder []time.Duration
	for _, k := range order {
		if periods[k.period] == nil {
			periodOrder = append(periodOrder, k.period)
		}
		periods[k.period] = append(periods[k.period], k)
	}
	slices.Sort(periodOrder)
	var out []SlothPeriod
	for _, p := range periodOrder {
		for _, k := range periods[p] {
			var b bytes.Buffer
			b.WriteString(header)
			fmt.Fprintf(&b, "# Sloth spec for the SLOs of %s with a %s period: sloth generate --default-slo-period %s -i FILE\n", k.service, slo.FormatDuration(p), slo.FormatDuration(p))
			enc := yaml.NewEncoder(&b)
			enc.SetIndent(2)
			spec := specs[k]
			var n yaml.Node
			if err := n.Encode(spec); err != nil {
				return nil, nil, err
			}
			if items := mapValue(&n, "slos"); items != nil {
				for i, item := range items.Content {
					item.HeadComment = comments[spec][i]
				}
			}
			if err := enc.Encode(&n); err != nil {
				return nil, nil, err
			}
			if err := enc.Close(); err != nil {
				return nil, nil, err
			}
			out = append(out, SlothPeriod{Period: p, Service: k.service, Data: b.Bytes()})
		}
	}
	return out, notes, nil
}

// slothObjective is one SLO as Sloth writes it, and what it loses.
func slothObjective(svc *slo.Service, o *slo.Objective) (slothSLO, []string) {
	ps := o.SLI.Prometheus
	s := slothSLO{Name: o.Name, Objective: percent(o.Target), Description: o.Description,
		SLI: slothSLI{Events: &slothEvents{ErrorQuery: ps.Bad, TotalQuery: ps.Total}}}
	switch {
	case ps.ErrorRatio != "":
		s.SLI = slothSLI{Raw: &struct {
			ErrorRatioQuery string `yaml:"error_ratio_query"`
		}{ps.ErrorRatio}}
	case ps.Good != "":
		s.SLI.Events.ErrorQuery = fmt.Sprintf("(%s) - (%s)", ps.Total, ps.Good)
	}
	s.Alerting = slothAlerting{
		Name:        camel(svc.Name) + camel(o.Name) + "ErrorBudgetBurn",
		Labels:      map[string]string{"alert_source": "sloth"},
		Annotations: map[string]string{"summary": fmt.Sprintf("%s is burning its error budget too fast", o.ID())},
		PageAlert:   slothAlert{Labels: map[string]string{"severity": "page"}},
		TicketAlert: slothAlert{Labels: map[string]string{"severity": "ticket"}},
	}
	if o.Links.Runbook != "" {
		s.Alerting.Annotations["runbook_url"] = o.Links.Runbook
	}
	// The spec's alert labels and annotations, per severity.
	for sev, al := range map[slo.Severity]*slothAlert{slo.Page: &s.Alerting.PageAlert, slo.Ticket: &s.Alerting.TicketAlert} {
		for k, v := range o.Alerting.Labels[sev] {
			al.Labels[k] = v
		}
		if a := o.Alerting.Annotations[sev]; len(a) > 0 {
			al.Annotations = maps.Clone(a)
		}
	}
	pages, tickets := false, false
	for _, w := range o.Alerting.Windows {
		pages = pages || w.Severity == slo.Page
		tickets = tickets || w.Severity == slo.Ticket
	}
	s.Alerting.PageAlert.Disable, s.Alerting.TicketAlert.Disable = !pages, !tickets
	var lost []string
	period := o.Window.Length
	defaults := slo.DefaultAlertWindowsFor(period, o.SLI.MinWindow())
	custom := len(o.Alerting.Windows) != len(defaults)
	for i := 0; !custom && i < len(defaults); i++ {
		custom = o.Alerting.Windows[i] != defaults[i]
	}
	switch {
	case custom && pages || custom && tickets:
		var pairs []string
		for _, w := range o.Alerting.Windows {
			pairs = append(pairs, fmt.Sprintf("%s %s/%s > %s", w.Name, slo.FormatDuration(w.Long), slo.FormatDuration(w.Short), number(math.Round(w.Threshold(period)*1e4)/1e4)))
		}
		lost = append(lost, "kakeibo's alert pairs ("+strings.Join(pairs, ", ")+") are not carried: Sloth uses its own windows for the period")
	case period == 28*24*time.Hour:
		lost = append(lost, "Sloth's 28d thresholds are 13.44, 5.6, 2.8 and 0.933 (it keeps the budget shares); kakeibo's are 14.4, 6, 3 and 1")
	case period != 30*24*time.Hour:
		lost = append(lost, fmt.Sprintf("Sloth ships alert windows for 28d and 30d only: generate the %s period with --slo-period-windows-path", slo.FormatDuration(period)))
	}
	if o.Alerting.MinEvents > 0 {
		lost = append(lost, fmt.Sprintf("min_events %s is not carried: Sloth has no minimum of events", number(o.Alerting.MinEvents)))
	}
	if o.Alerting.BudgetExhausted {
		lost = append(lost, "the budget-exhausted ticket is not carried: Sloth has no such alert")
	}
	return s, lost
}

// camel turns a name such as "payment-latency" into "PaymentLatency".
func camel(name string) string {
	var b strings.Builder
	up := true
	for _, r := range name {
		switch {
		case r == '-' || r == '_' || r == '.':
			up = true
		case up:
			b.WriteRune(unicode.ToUpper(r))
			up = false
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func number(f float64) string {
	return strconv.FormatFloat(f, 'g', 12, 64)
}
