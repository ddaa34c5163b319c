package slo

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"
)

// OpenSLO v1 (https://github.com/OpenSLO/OpenSLO) documents, mapped onto the
// same model as kakeibo's own specs. Supported: kind SLO with a ratioMetric
// over Prometheus-compatible queries, inline or referenced kind SLI, kind
// Service and kind DataSource; rolling and calendar (1M, 1w) time windows;
// Occurrences and Timeslices budgeting. What kakeibo cannot evaluate is an
// error naming the document and the field.

type osMetadata struct {
	Name        string            `yaml:"name"`
	DisplayName string            `yaml:"displayName"`
	Labels      map[string]any    `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

type osHeader struct {
	APIVersion string     `yaml:"apiVersion"`
	Kind       string     `yaml:"kind"`
	Metadata   osMetadata `yaml:"metadata"`
}

type osSLO struct {
	APIVersion string     `yaml:"apiVersion"`
	Kind       string     `yaml:"kind"`
	Metadata   osMetadata `yaml:"metadata"`
	Spec       struct {
		Description     string         `yaml:"description"`
		Service         string         `yaml:"service"`
		Indicator       *osSLI         `yaml:"indicator"`
		IndicatorRef    string         `yaml:"indicatorRef"`
		TimeWindow      []osTimeWindow `yaml:"timeWindow"`
		BudgetingMethod string         `yaml:"budgetingMethod"`
		Objectives      []osObjective  `yaml:"objectives"`
		AlertPolicies   []any          `yaml:"alertPolicies"`
	} `yaml:"spec"`
}

type osTimeWindow struct {
	Duration  string `yaml:"duration"`
	IsRolling *bool  `yaml:"isRolling"`
	Calendar  *struct {
		StartTime string `yaml:"startTime"`
		TimeZone  string `yaml:"timeZone"`
	} `yaml:"calendar"`
}

type osObjective struct {
	DisplayName     string   `yaml:"displayName"`
	Op              string   `yaml:"op"`
	Value           *float64 `yaml:"value"`
	Target          *float64 `yaml:"target"`
	TargetPercent   *float64 `yaml:"targetPercent"`
	TimeSliceTarget *float64 `yaml:"timeSliceTarget"`
	TimeSliceWindow string   `yaml:"timeSliceWindow"`
	Indicator       *osSLI   `yaml:"indicator"`
	IndicatorRef    string   `yaml:"indicatorRef"`
	CompositeWeight *float64 `yaml:"compositeWeight"`
}

// osSLI is a kind SLI document, or an inline indicator (which has no
// apiVersion or kind).
type osSLI struct {
	APIVersion string     `yaml:"apiVersion"`
	Kind       string     `yaml:"kind"`
	Metadata   osMetadata `yaml:"metadata"`
	Spec       struct {
		Description     string         `yaml:"description"`
		ThresholdMetric *osMetric      `yaml:"thresholdMetric"`
		RatioMetric     *osRatioMetric `yaml:"ratioMetric"`
	} `yaml:"spec"`
	d *decoder
}

type osRatioMetric struct {
	Counter bool      `yaml:"counter"`
	Good    *osMetric `yaml:"good"`
	Bad     *osMetric `yaml:"bad"`
	Total   *osMetric `yaml:"total"`
	RawType string    `yaml:"rawType"`
	Raw     *osMetric `yaml:"raw"`
}

type osMetric struct {
	MetricSource struct {
		MetricSourceRef string         `yaml:"metricSourceRef"`
		Type            string         `yaml:"type"`
		Spec            map[string]any `yaml:"spec"`
	} `yaml:"metricSource"`
}

type osService struct {
	APIVersion string     `yaml:"apiVersion"`
	Kind       string     `yaml:"kind"`
	Metadata   osMetadata `yaml:"metadata"`
	Spec       struct {
		Description string `yaml:"description"`
	} `yaml:"spec"`
	d *decoder
}

type osDataSource struct {
	APIVersion string     `yaml:"apiVersion"`
	Kind       string     `yaml:"kind"`
	Metadata   osMetadata `yaml:"metadata"`
	Spec       struct {
		Description       string `yaml:"description"`
		Type              string `yaml:"type"`
		ConnectionDetails any    `yaml:"connectionDetails"`
	} `yaml:"spec"`
	d *decoder
}

type osSLODoc struct {
	slo *osSLO
	d   *decoder
}

// openSLOIndex collects OpenSLO documents from every file first, because an
// SLO may refer to an SLI, Service or DataSource declared in another file.
type openSLOIndex struct {
	slos        []osSLODoc
	slis        map[string]*osSLI
	services    map[string]*osService
	dataSources map[string]*osDataSource
}

func newOpenSLOIndex() *openSLOIndex {
	return &openSLOIndex{slis: map[string]*osSLI{}, services: map[string]*osService{}, dataSources: map[string]*osDataSource{}}
}

// promTypes are OpenSLO metric source types that speak the Prometheus query API.
var promTypes = []string{"prometheus", "thanos", "mimir", "cortex", "victoriametrics"}

func (x *openSLOIndex) add(d *decoder, root *yaml.Node) {
	apiVersion := mappingValue(root, "apiVersion")
	switch apiVersion.Value {
	case "openslo/v1":
	case "openslo/v1alpha":
		if !upgradeV1alpha(d, root) {
			return
		}
		if docs := splitObjectives(root); len(docs) > 1 {
			for _, doc := range docs {
				x.add(d, doc)
			}
			return
		}
	default:
		d.errorf(apiVersion, "apiVersion: %q is not supported: kakeibo reads openslo/v1 (and the SLO documents of openslo/v1alpha)", apiVersion.Value)
		return
	}
	kind := mappingValue(root, "kind")
	if kind == nil {
		d.errorf(root, "kind: is required in an OpenSLO document")
		return
	}
	switch kind.Value {
	case "SLO":
		s := &osSLO{}
		d.decodeValue(root, s, "")
		x.slos = append(x.slos, osSLODoc{slo: s, d: d})
	case "SLI":
		s := &osSLI{d: d}
		d.decodeValue(root, s, "")
		x.put(d, root, "SLI", s.Metadata.Name, func() bool { _, dup := x.slis[s.Metadata.Name]; x.slis[s.Metadata.Name] = s; return dup })
	case "Service":
		s := &osService{d: d}
		d.decodeValue(root, s, "")
		x.put(d, root, "Service", s.Metadata.Name, func() bool { _, dup := x.services[s.Metadata.Name]; x.services[s.Metadata.Name] = s; return dup })
	case "DataSource":
		s := &osDataSource{d: d}
		d.decodeValue(root, s, "")
		x.put(d, root, "DataSource", s.Metadata.Name, func() bool { _, dup := x.dataSources[s.Metadata.Name]; x.dataSources[s.Metadata.Name] = s; return dup })
	case "AlertPolicy", "AlertCondition", "AlertNotificationTarget":
		h := &osHeader{}
		d.decodeValue(&yaml.Node{Kind: yaml.MappingNode, Content: withoutKey(root, "spec")}, h, "")
		d.errs = append(d.errs, &Error{Pos: d.pos(kind), Warning: true,
			Msg: fmt.Sprintf("%s %q is ignored: kakeibo alerts with its multi-window multi-burn-rate policy (see alerting in kakeibo specs)", kind.Value, h.Metadata.Name)})
	default:
		d.errorf(kind, "kind: %q is not supported: kakeibo reads OpenSLO SLO, SLI, Service and DataSource documents", kind.Value)
	}
}

func (x *openSLOIndex) put(d *decoder, root *yaml.Node, kind, name string, store func() (dup bool)) {
	if name == "" {
		d.errorf(root, "%s: metadata.name: is required", kind)
		return
	}
	if store() {
		d.errorf(root, "%s %q: declared twice", kind, name)
	}
}

func withoutKey(m *yaml.Node, key string) []*yaml.Node {
	var out []*yaml.Node
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value != key {
			out = append(out, m.Content[i], m.Content[i+1])
		}
	}
	return out
}

// compile maps every OpenSLO SLO onto an Objective, grouped into Services by
// spec.service. Problems are appended to errs.
func (x *openSLOIndex) compile(errs *Errors) []*Service {
	byName := map[string]*Service{}
	var order []*Service
	for _, doc := range x.slos {
		c := &compiler{d: doc.d}
		o, svcName := x.objective(c, doc.slo)
		*errs = append(*errs, doc.d.errs...)
		doc.d.errs = nil
		if o == nil {
			continue
		}
		svc := byName[svcName]
		if svc == nil {
			svc = &Service{Name: svcName, Labels: map[string]string{}, Pos: o.Pos}
			if s := x.services[svcName]; s != nil {
				svc.Description = s.Spec.Description
				svc.Pos = s.d.at[&s.Metadata.Name]
				sc := &compiler{d: s.d}
				svc.Labels = osLabels(sc, fmt.Sprintf("OpenSLO Service %q", svcName), sc.at(&s.Metadata.Labels, &s.Metadata), s.Metadata.Labels)
			}
			byName[svcName] = svc
			order = append(order, svc)
		}
		o.Service = svcName
		for k, v := range svc.Labels {
			if _, own := o.Labels[k]; !own {
				o.Labels[k] = v // the service's labels, the SLO's own on top
			}
		}
		svc.SLOs = append(svc.SLOs, o)
	}
	// Errors found while decoding SLI, Service and DataSource documents.
	for _, s := range x.slis {
		*errs = append(*errs, s.d.errs...)
		s.d.errs = nil
	}
	for _, s := range x.services {
		*errs = append(*errs, s.d.errs...)
		s.d.errs = nil
	}
	for _, s := range x.dataSources {
		*errs = append(*errs, s.d.errs...)
		s.d.errs = nil
	}
	return order
}

func (x *openSLOIndex) objective(c *compiler, s *osSLO) (*Objective, string) {
	ctx := fmt.Sprintf("OpenSLO SLO %q", s.Metadata.Name)
	top := c.at(&s.Metadata.Name, s)
	o := &Objective{Name: s.Metadata.Name, Description: s.Spec.Description, Pos: top, Labels: map[string]string{}}
	if err := checkName(s.Metadata.Name); err != nil {
		c.errorAt(top, "%s: metadata.name: %v", ctx, err)
	}
	o.Labels = osLabels(c, ctx, c.at(&s.Metadata.Labels, &s.Metadata), s.Metadata.Labels)
	svcName := s.Spec.Service
	if err := checkName(svcName); err != nil {
		c.errorAt(c.at(&s.Spec.Service, &s.Spec), "%s: spec.service: %v", ctx, err)
	}

	// The objective.
	if len(s.Spec.Objectives) != 1 {
		c.errorAt(c.at(&s.Spec.Objectives, &s.Spec), "%s: spec.objectives: kakeibo supports exactly one objective per SLO, got %d", ctx, len(s.Spec.Objectives))
		return nil, ""
	}
	obj := &s.Spec.Objectives[0]
	switch obj.Op {
	case "", "gt", "gte":
		// OpenSLO needs op only for threshold metrics; its examples also put
		// gt on ratio objectives, which is what a ratio objective means.
	case "lt", "lte":
		c.errorAt(c.at(&obj.Op, obj), "%s: spec.objectives[0].op: %q would have the good ratio stay below the target, the opposite of what kakeibo measures (an objective is met while the good ratio is at or above it): drop op, or use gte, with the good events as the ratio's good", ctx, obj.Op)
	default:
		c.errorAt(c.at(&obj.Op, obj), "%s: spec.objectives[0].op: %q is not an OpenSLO operator (lt, lte, gt, gte)", ctx, obj.Op)
	}
	switch {
	case obj.Value != nil:
		c.errorAt(c.at(&obj.Value, obj), "%s: spec.objectives[0].value: a threshold value belongs to threshold metrics, which kakeibo does not support; use a ratioMetric with target", ctx)
	case obj.Target != nil && obj.TargetPercent != nil:
		c.errorAt(c.at(&obj.TargetPercent, obj), "%s: spec.objectives[0]: set target or targetPercent, not both", ctx)
	case obj.Target != nil:
		switch {
		case !(*obj.Target > 0 && *obj.Target < 1):
			c.errorAt(c.at(&obj.Target, obj), "%s: spec.objectives[0].target must be in (0, 1), got %s", ctx, formatFloat(*obj.Target))
		case *obj.Target*100 > MaxObjectivePercent:
			c.errorAt(c.at(&obj.Target, obj), "%s: spec.objectives[0].target %s leaves no error budget to measure: use at most %s", ctx, strconv.FormatFloat(*obj.Target, 'g', -1, 64), formatFloat(MaxObjectivePercent/100))
		default:
			o.Target = *obj.Target
		}
	case obj.TargetPercent != nil:
		switch {
		case !(*obj.TargetPercent > 0 && *obj.TargetPercent < 100):
			c.errorAt(c.at(&obj.TargetPercent, obj), "%s: spec.objectives[0].targetPercent must be in (0, 100), got %s", ctx, formatFloat(*obj.TargetPercent))
		case *obj.TargetPercent > MaxObjectivePercent:
			c.errorAt(c.at(&obj.TargetPercent, obj), "%s: spec.objectives[0].targetPercent %s leaves no error budget to measure: use at most %s", ctx, strconv.FormatFloat(*obj.TargetPercent, 'g', -1, 64), formatFloat(MaxObjectivePercent))
		default:
			o.Target = percentToRatio(*obj.TargetPercent)
		}
	default:
		c.errorAt(c.at(obj, &s.Spec), "%s: spec.objectives[0]: target or targetPercent is required", ctx)
	}

	// The window.
	if len(s.Spec.TimeWindow) != 1 {
		c.errorAt(c.at(&s.Spec.TimeWindow, &s.Spec), "%s: spec.timeWindow: exactly one time window is required, got %d", ctx, len(s.Spec.TimeWindow))
	} else {
		o.Window = x.window(c, ctx, &s.Spec.TimeWindow[0])
	}

	// Budgeting.
	switch s.Spec.BudgetingMethod {
	case "Occurrences":
		o.Budgeting = Budgeting{Method: Occurrences}
	case "Timeslices":
		o.Budgeting = x.timeslices(c, ctx, obj)
	case "":
		c.errorAt(c.at(&s.Spec.BudgetingMethod, &s.Spec), "%s: spec.budgetingMethod: is required (Occurrences or Timeslices)", ctx)
	default:
		c.errorAt(c.at(&s.Spec.BudgetingMethod, &s.Spec), "%s: spec.budgetingMethod: %q is not supported: use Occurrences or Timeslices", ctx, s.Spec.BudgetingMethod)
	}

	// The indicator: on the objective, on the SLO, inline or by reference.
	sli, sliPos := x.indicator(c, ctx, s, obj)
	if sli != nil {
		o.SLI.Prometheus = x.ratio(c, ctx, sli, sliPos)
	}
	if len(s.Spec.AlertPolicies) > 0 {
		c.warnAt(c.at(&s.Spec.AlertPolicies, &s.Spec), "%s: spec.alertPolicies are ignored: kakeibo alerts with its default multi-window multi-burn-rate policy", ctx)
	}
	o.Alerting = AlertPolicy{Windows: DefaultAlertWindowsFor(o.Window.Nominal(), PrometheusMinWindow), BudgetExhausted: true, Repeat: maps.Clone(DefaultRepeat), Cooldown: DefaultCooldown}
	return o, svcName
}

// osLabels maps OpenSLO metadata labels onto Prometheus labels: a list of
// values (OpenSLO allows one) is joined with commas; names must be valid
// label names and not kakeibo's own.
func osLabels(c *compiler, ctx string, at Pos, in map[string]any) map[string]string {
	out := map[string]string{}
	for _, k := range slices.Sorted(maps.Keys(in)) {
		switch {
		case !labelNameRE.MatchString(k) || strings.HasPrefix(k, "__"):
			c.errorAt(at, "%s: metadata.labels: %q is not a valid Prometheus label name", ctx, k)
			continue
		case slices.Contains(reservedLabels, k):
			c.errorAt(at, "%s: metadata.labels: %q is set by kakeibo; reserved names are %s", ctx, k, strings.Join(reservedLabels, ", "))
			continue
		}
		switch v := in[k].(type) {
		case string:
			out[k] = v
		case []any:
			var parts []string
			for _, e := range v {
				parts = append(parts, fmt.Sprint(e))
			}
			out[k] = strings.Join(parts, ",")
		default:
			out[k] = fmt.Sprint(v)
		}
	}
	return out
}

func (x *openSLOIndex) window(c *compiler, ctx string, tw *osTimeWindow) Window {
	rolling := tw.Calendar == nil
	if tw.IsRolling != nil {
		rolling = *tw.IsRolling
	}
	at := c.at(&tw.Duration, tw)
	if rolling {
		if tw.Calendar != nil {
			c.errorAt(c.at(&tw.IsRolling, tw), "%s: spec.timeWindow[0]: isRolling is true but a calendar is set", ctx)
		}
		d, err := model.ParseDuration(tw.Duration)
		if err != nil || d == 0 {
			c.errorAt(at, "%s: spec.timeWindow[0].duration: bad rolling duration %q: use e.g. 28d or 4w", ctx, tw.Duration)
			return Window{}
		}
		if l := time.Duration(d); l < time.Hour || l > 366*24*time.Hour {
			c.errorAt(at, "%s: spec.timeWindow[0].duration: %s is out of range: use between 1h and 366d", ctx, tw.Duration)
			return Window{}
		}
		return Rolling(time.Duration(d))
	}
	var loc = time.UTC
	var anchor time.Time
	if tw.Calendar != nil {
		loc = c.location(ctx, "spec.timeWindow[0].calendar.timeZone", &tw.Calendar.TimeZone, tw.Calendar)
		if st := tw.Calendar.StartTime; st != "" {
			var err error
			if anchor, err = parseStartTime(st, loc); err != nil {
				c.errorAt(c.at(&tw.Calendar.StartTime, tw.Calendar), "%s: spec.timeWindow[0].calendar.startTime: %q: want a date and time such as 2022-01-01 12:00:00 (in calendar.timeZone)", ctx, st)
			}
		}
	}
	if a := anchor; !a.IsZero() && a.Hour() == 0 && a.Minute() == 0 && a.Second() == 0 &&
		((tw.Duration == "1M" && a.Day() == 1) || (tw.Duration != "1M" && a.Weekday() == time.Monday)) {
		anchor = time.Time{} // kakeibo's own calendar: months on the 1st, weeks on Monday
	}
	switch tw.Duration {
	case "1M":
		w := CalendarWindow(Month, loc)
		w.Anchor = anchor
		return w
	case "1w", "7d":
		w := CalendarWindow(Week, loc)
		w.Anchor = anchor
		return w
	}
	c.errorAt(at, "%s: spec.timeWindow[0].duration: calendar window %q is not supported: use 1M (month) or 1w (week)", ctx, tw.Duration)
	return Window{}
}

// parseStartTime reads OpenSLO's calendar.startTime: a wall-clock date and
// time without zone (the zone is calendar.timeZone), or RFC 3339.
func parseStartTime(s string, loc *time.Location) (time.Time, error) {
	for _, layout := range []string{"2006-01-02 15:04:05", "2006-01-02T15:04:05", "2006-01-02 15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t, nil
		}
	}
	return time.Parse(time.RFC3339, s)
}

func (x *openSLOIndex) timeslices(c *compiler, ctx string, obj *osObjective) Budgeting {
	b := Budgeting{Method: Timeslices, SliceTarget: 1}
	switch {
	case obj.TimeSliceTarget == nil:
		c.errorAt(c.at(&obj.TimeSliceTarget, obj), "%s: spec.objectives[0].timeSliceTarget: is required with Timeslices", ctx)
	case !(*obj.TimeSliceTarget > 0 && *obj.TimeSliceTarget <= 1):
		c.errorAt(c.at(&obj.TimeSliceTarget, obj), "%s: spec.objectives[0].timeSliceTarget must be in (0, 1], got %s", ctx, formatFloat(*obj.TimeSliceTarget))
	default:
		b.SliceTarget = *obj.TimeSliceTarget
	}
	w := obj.TimeSliceWindow
	if w == "" {
		c.errorAt(c.at(&obj.TimeSliceWindow, obj), "%s: spec.objectives[0].timeSliceWindow: is required with Timeslices", ctx)
		return b
	}
	if !strings.ContainsAny(w, "smhdwy") {
		w += "s" // a bare number is seconds
	}
	d, err := model.ParseDuration(w)
	slice := time.Duration(d)
	if err != nil || slice < time.Minute || slice%time.Minute != 0 || (24*time.Hour)%slice != 0 {
		c.errorAt(c.at(&obj.TimeSliceWindow, obj), "%s: spec.objectives[0].timeSliceWindow: %q must be whole minutes that divide a day (e.g. 1m, 5m)", ctx, obj.TimeSliceWindow)
		return b
	}
	b.Slice = slice
	return b
}

func (x *openSLOIndex) indicator(c *compiler, ctx string, s *osSLO, obj *osObjective) (*osSLI, Pos) {
	inline, ref := s.Spec.Indicator, s.Spec.IndicatorRef
	refPos := c.at(&s.Spec.IndicatorRef, &s.Spec)
	if obj.Indicator != nil || obj.IndicatorRef != "" {
		inline, ref = obj.Indicator, obj.IndicatorRef
		refPos = c.at(&obj.IndicatorRef, obj)
	}
	switch {
	case inline != nil && ref != "":
		c.errorAt(refPos, "%s: set indicator or indicatorRef, not both", ctx)
	case inline != nil:
		inline.d = c.d
		return inline, c.at(inline, &s.Spec)
	case ref != "":
		sli := x.slis[ref]
		if sli == nil {
			c.errorAt(refPos, "%s: indicatorRef: no SLI named %q is loaded", ctx, ref)
			return nil, Pos{}
		}
		return sli, sli.d.at[sli]
	default:
		c.errorAt(c.at(&s.Spec, s), "%s: spec: an indicator or indicatorRef is required", ctx)
	}
	return nil, Pos{}
}

// ratio maps a ratioMetric onto a Prometheus SLI. Positions come from the
// document the SLI was declared in, which may be another file.
func (x *openSLOIndex) ratio(c *compiler, ctx string, sli *osSLI, at Pos) *PrometheusSLI {
	sc := &compiler{d: sli.d}
	name := sli.Metadata.Name
	if name != "" {
		ctx = fmt.Sprintf("%s: SLI %q", ctx, name)
	}
	if sli.Spec.ThresholdMetric != nil {
		sc.errorAt(sc.at(&sli.Spec.ThresholdMetric, sli), "%s: spec.thresholdMetric is not supported: kakeibo evaluates ratioMetric SLIs (good or bad, and total)", ctx)
		return nil
	}
	r := sli.Spec.RatioMetric
	if r == nil {
		sc.errorAt(at, "%s: spec.ratioMetric: is required", ctx)
		return nil
	}
	fn := "sum_over_time"
	if r.Counter {
		fn = "increase"
	}
	out := &PrometheusSLI{}
	// source is the PromQL of a metric, from a Prometheus-compatible source.
	source := func(key string, m *osMetric) string {
		if m == nil {
			return ""
		}
		src := &m.MetricSource
		typ := src.Type
		if src.MetricSourceRef != "" {
			ds := x.dataSources[src.MetricSourceRef]
			if ds == nil {
				sc.errorAt(sc.at(&src.MetricSourceRef, src), "%s: spec.ratioMetric.%s.metricSource.metricSourceRef: no DataSource named %q is loaded", ctx, key, src.MetricSourceRef)
				return ""
			}
			if typ == "" {
				typ = ds.Spec.Type
			}
		}
		if !slices.Contains(promTypes, strings.ToLower(typ)) {
			sc.errorAt(sc.at(&src.Type, src), "%s: spec.ratioMetric.%s.metricSource.type: %q is not supported: kakeibo queries Prometheus-compatible sources (%s)", ctx, key, typ, strings.Join(promTypes, ", "))
			return ""
		}
		q, ok := src.Spec["query"].(string)
		if !ok || q == "" {
			sc.errorAt(sc.at(&src.Spec, src), "%s: spec.ratioMetric.%s.metricSource.spec.query: a PromQL query is required", ctx, key)
			return ""
		}
		for k := range src.Spec {
			if k != "query" {
				sc.errorAt(sc.at(&src.Spec, src), "%s: spec.ratioMetric.%s.metricSource.spec: unknown key %q (kakeibo reads query)", ctx, key, k)
			}
		}
		return q
	}
	query := func(key string, m *osMetric) string {
		q := source(key, m)
		if q == "" {
			return ""
		}
		src := &m.MetricSource
		var tmpl string
		var err error
		if strings.Contains(q, "{{.window}}") {
			// Already a template over the window, as Sloth reads OpenSLO
			// queries: rate() becomes increase(), to count events.
			tmpl, _ = RateToCount(q)
		} else {
			tmpl, err = counterQueryTemplate(q, fn)
		}
		if err == nil {
			// The rewritten query is checked like a native one.
			err = CheckQueryTemplate(tmpl)
		}
		if err != nil {
			sc.errorAt(sc.at(&src.Spec, src), "%s: spec.ratioMetric.%s.metricSource.spec.query: %v", ctx, key, err)
			return ""
		}
		return tmpl
	}
	if r.Raw != nil || r.RawType != "" {
		return x.rawRatio(sc, ctx, r, source)
	}
	switch {
	case r.Good != nil && r.Bad != nil:
		sc.errorAt(sc.at(&r.Bad, r), "%s: spec.ratioMetric: set good or bad, not both", ctx)
	case r.Good == nil && r.Bad == nil:
		sc.errorAt(at, "%s: spec.ratioMetric: good or bad is required", ctx)
	}
	if r.Total == nil {
		sc.errorAt(at, "%s: spec.ratioMetric.total: is required", ctx)
	}
	out.Good, out.Bad, out.Total = query("good", r.Good), query("bad", r.Bad), query("total", r.Total)
	if (out.Good == "" && out.Bad == "") || out.Total == "" {
		return nil
	}
	return out
}

// rawRatio maps a raw ratioMetric (a query that yields the good or the bad
// share itself, rawType success or failure) onto a raw error_ratio SLI:
// a query over {{.window}} is taken as it is, one without a range is
// averaged over the window at a one-minute step (each minute weighs the
// same, whatever its traffic).
func (x *openSLOIndex) rawRatio(sc *compiler, ctx string, r *osRatioMetric, source func(string, *osMetric) string) *PrometheusSLI {
	if r.Good != nil || r.Bad != nil || r.Total != nil {
		sc.errorAt(sc.at(&r.Raw, r), "%s: spec.ratioMetric: set raw, or good or bad and total, not both", ctx)
		return nil
	}
	if r.Raw == nil {
		sc.errorAt(sc.at(&r.RawType, r), "%s: spec.ratioMetric.raw: is required with rawType", ctx)
		return nil
	}
	q := source("raw", r.Raw)
	if q == "" {
		return nil
	}
	tmpl := q
	if !strings.Contains(q, "{{.window}}") {
		tmpl = "avg_over_time((" + q + ")[{{.window}}:1m])"
	}
	switch r.RawType {
	case "failure":
	case "success":
		tmpl = "1 - (" + tmpl + ")"
	default:
		sc.errorAt(sc.at(&r.RawType, r), "%s: spec.ratioMetric.rawType: %q: want success (the query is the good share) or failure (the bad share)", ctx, r.RawType)
		return nil
	}
	if err := CheckQueryTemplate(tmpl); err != nil {
		sc.errorAt(sc.at(&r.Raw.MetricSource.Spec, &r.Raw.MetricSource), "%s: spec.ratioMetric.raw.metricSource.spec.query: %v", ctx, err)
		return nil
	}
	bad, total := RatioCounts(tmpl)
	return &PrometheusSLI{ErrorRatio: tmpl, Bad: bad, Total: total}
}
