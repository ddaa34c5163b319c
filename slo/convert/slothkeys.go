package convert

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// keySchema lists the keys Sloth reads at one level of its spec, each with
// the schema below it (nil: a value read whole, not walked).
type keySchema map[string]keySchema

var (
	slothAlertKeys = keySchema{"disable": nil, "labels": nil, "annotations": nil}
	slothSLOKeys   = keySchema{
		"name": nil, "objective": nil, "description": nil, "labels": nil, "plugins": nil,
		"sli": {
			"raw":    {"error_ratio_query": nil},
			"events": {"error_query": nil, "total_query": nil},
			"plugin": {"id": nil, "options": nil},
		},
		"alerting": {"name": nil, "labels": nil, "annotations": nil, "page_alert": slothAlertKeys, "ticket_alert": slothAlertKeys},
	}
	slothSpecKeys = keySchema{"version": nil, "service": nil, "labels": nil, "slo_plugins": nil, "slos": slothSLOKeys}
)

// normalizeSlothKeys makes a Sloth document read the way Sloth reads it:
// Sloth decodes YAML as JSON into Go structs, so a key matches a field
// whatever its case ("Objective" is objective) and a key that matches
// none is ignored. Keys are renamed to their spelling here, and every
// ignored key is named in a note with its line, so that a typo such as
// pageAlert in a prometheus/v1 spec (Sloth's key there is page_alert) does
// not pass unseen.
func normalizeSlothKeys(n *yaml.Node, schema keySchema, path string, notes *[]string) {
	switch n.Kind {
	case yaml.DocumentNode, yaml.SequenceNode:
		for _, c := range n.Content {
			normalizeSlothKeys(c, schema, path, notes)
		}
		return
	case yaml.MappingNode:
	default:
		return
	}
	kept := n.Content[:0]
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		name, ok := "", false
		for known := range schema {
			if strings.EqualFold(known, k.Value) {
				name, ok = known, true
				break
			}
		}
		if !ok {
			hint := ""
			for known := range schema {
				if strings.EqualFold(strings.ReplaceAll(known, "_", ""), k.Value) {
					hint = fmt.Sprintf(" (Sloth's key here is %s)", known)
				}
			}
			*notes = append(*notes, fmt.Sprintf("line %d: %s%s is not a key Sloth reads, so it is ignored, as Sloth ignores it%s", k.Line, path, k.Value, hint))
			continue
		}
		k.Value = name
		if sub := schema[name]; sub != nil {
			normalizeSlothKeys(v, sub, path+name+".", notes)
		}
		kept = append(kept, k, v)
	}
	n.Content = kept
}
