package slo

import (
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// OpenSLO v1alpha (the version Sloth's OpenSLO examples use) differs from
// v1 in the SLO document only: spec.timeWindows of count and unit instead
// of spec.timeWindow of duration, and each objective carries its own
// ratioMetrics of {source, queryType, query}. upgradeV1alpha rewrites such
// a document into v1 in place, keeping every node's position, so the v1
// reader and its errors serve both. Its queries are templates over
// {{.window}}, as Sloth writes them.

var v1alphaUnits = map[string]string{
	"Second": "s", "Minute": "m", "Hour": "h", "Day": "d", "Week": "w", "Month": "M", "Quarter": "Q", "Year": "y",
}

// splitObjectives makes an SLO document with several objectives one SLO
// document per objective, named NAME-0, NAME-1, ... as Sloth names them
// (kakeibo's SLO has one objective).
func splitObjectives(root *yaml.Node) []*yaml.Node {
	spec := mappingValue(root, "spec")
	var objs *yaml.Node
	if spec != nil {
		objs = mappingValue(spec, "objectives")
	}
	meta := mappingValue(root, "metadata")
	var name *yaml.Node
	if meta != nil {
		name = mappingValue(meta, "name")
	}
	if objs == nil || objs.Kind != yaml.SequenceNode || len(objs.Content) < 2 || name == nil {
		return []*yaml.Node{root}
	}
	out := make([]*yaml.Node, len(objs.Content))
	for i, obj := range objs.Content {
		out[i] = replaceIn(root, map[*yaml.Node]*yaml.Node{
			objs: {Kind: yaml.SequenceNode, Tag: "!!seq", Content: []*yaml.Node{obj}, Line: obj.Line, Column: obj.Column},
			name: scalarAt(name.Value+"-"+strconv.Itoa(i), name),
		})
	}
	return out
}

// replaceIn copies the mappings and sequences of n, with the nodes of
// repl put in place of their keys; other nodes are shared.
func replaceIn(n *yaml.Node, repl map[*yaml.Node]*yaml.Node) *yaml.Node {
	if r, ok := repl[n]; ok {
		return r
	}
	if n.Kind != yaml.MappingNode && n.Kind != yaml.SequenceNode && n.Kind != yaml.DocumentNode {
		return n
	}
	cp := *n
	cp.Content = make([]*yaml.Node, len(n.Content))
	for i, c := range n.Content {
		cp.Content[i] = replaceIn(c, repl)
	}
	return &cp
}

func upgradeV1alpha(d *decoder, root *yaml.Node) bool {
	kind := mappingValue(root, "kind")
	if kind == nil || kind.Value != "SLO" {
		at := root
		if kind != nil {
			at = kind
		}
		d.errorf(at, "openslo/v1alpha: only SLO documents are read (Sloth's OpenSLO examples); write SLI, Service and DataSource documents as openslo/v1")
		return false
	}
	mappingValue(root, "apiVersion").Value = "openslo/v1"
	spec := mappingValue(root, "spec")
	if spec == nil || spec.Kind != yaml.MappingNode {
		return true // the v1 reader says what is missing
	}
	ok := true
	for i := 0; i+1 < len(spec.Content); i += 2 {
		k, v := spec.Content[i], spec.Content[i+1]
		switch k.Value {
		case "timeWindows":
			k.Value = "timeWindow"
			if v.Kind != yaml.SequenceNode {
				continue
			}
			for _, tw := range v.Content {
				ok = v1alphaWindow(d, tw) && ok
			}
		case "objectives":
			if v.Kind != yaml.SequenceNode {
				continue
			}
			for _, obj := range v.Content {
				ok = v1alphaObjective(d, obj) && ok
			}
		}
	}
	return ok
}

// v1alphaWindow turns {count: 30, unit: Day} into {duration: 30d}.
func v1alphaWindow(d *decoder, tw *yaml.Node) bool {
	if tw.Kind != yaml.MappingNode {
		return true
	}
	count, unit := mappingValue(tw, "count"), mappingValue(tw, "unit")
	if count == nil || unit == nil {
		d.errorf(tw, "openslo/v1alpha: spec.timeWindows[]: count and unit are required (e.g. count: 30, unit: Day)")
		return false
	}
	letter, known := v1alphaUnits[unit.Value]
	if !known {
		d.errorf(unit, "openslo/v1alpha: spec.timeWindows[].unit: %q is not an OpenSLO unit (Second, Minute, Hour, Day, Week, Month, Quarter, Year)", unit.Value)
		return false
	}
	content := []*yaml.Node{scalarAt("duration", count), scalarAt(count.Value+letter, count)}
	for i := 0; i+1 < len(tw.Content); i += 2 {
		if key := tw.Content[i].Value; key != "count" && key != "unit" {
			content = append(content, tw.Content[i], tw.Content[i+1])
		}
	}
	tw.Content = content
	return true
}

// v1alphaObjective moves an objective's ratioMetrics into an inline v1
// indicator: {indicator: {spec: {ratioMetric: {good|bad|total:
// {metricSource: {type: SOURCE, spec: {query: QUERY}}}}}}}.
func v1alphaObjective(d *decoder, obj *yaml.Node) bool {
	if obj.Kind != yaml.MappingNode {
		return true
	}
	var content []*yaml.Node
	ok := true
	for i := 0; i+1 < len(obj.Content); i += 2 {
		k, v := obj.Content[i], obj.Content[i+1]
		if k.Value != "ratioMetrics" {
			content = append(content, k, v)
			continue
		}
		ratio := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: v.Line, Column: v.Column}
		for j := 0; j+1 < len(v.Content); j += 2 {
			mk, mv := v.Content[j], v.Content[j+1]
			switch mk.Value {
			case "good", "bad", "total":
				src, query := mappingValue(mv, "source"), mappingValue(mv, "query")
				if src == nil || query == nil {
					d.errorf(mv, "openslo/v1alpha: ratioMetrics.%s: source and query are required", mk.Value)
					ok = false
					continue
				}
				if qt := mappingValue(mv, "queryType"); qt != nil && !strings.EqualFold(qt.Value, "promql") {
					d.errorf(qt, "openslo/v1alpha: ratioMetrics.%s.queryType: %q is not supported: kakeibo runs promql", mk.Value, qt.Value)
					ok = false
					continue
				}
				metric := mapAt(mv,
					scalarAt("metricSource", mv), mapAt(mv,
						scalarAt("type", src), src,
						scalarAt("spec", query), mapAt(query, scalarAt("query", query), query)))
				ratio.Content = append(ratio.Content, mk, metric)
			case "counter":
				ratio.Content = append(ratio.Content, mk, mv)
			default:
				d.errorf(mk, "openslo/v1alpha: ratioMetrics: unknown key %q (good, bad, total, counter)", mk.Value)
				ok = false
			}
		}
		content = append(content, scalarAt("indicator", k), mapAt(v, scalarAt("spec", k), mapAt(v, scalarAt("ratioMetric", k), ratio)))
	}
	obj.Content = content
	return ok
}

func scalarAt(value string, at *yaml.Node) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: value, Line: at.Line, Column: at.Column}
}

func mapAt(at *yaml.Node, content ...*yaml.Node) *yaml.Node {
	return &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Content: content, Line: at.Line, Column: at.Column}
}
