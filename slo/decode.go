package slo

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"

	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"
)

// decoder maps a YAML node tree onto the spec structs strictly: an unknown
// key, a duplicate key or a value of the wrong shape is an error at its own
// line and column, and decoding goes on so that every problem is reported.
// It remembers where every value came from, so that the validation which
// follows can point at the offending value.
//
// yaml.v3's own Decode stops at the first problem for some errors and gives no
// columns; walking the nodes ourselves gives both.
type decoder struct {
	file string
	errs Errors
	// at maps a pointer to a decoded value (a struct field, slice element or
	// struct) to the position of its YAML node.
	at map[any]Pos
	// failed holds pointers to values that could not be decoded; their
	// problem is reported already, so validation leaves them alone.
	failed map[any]bool
	// nodes counts the values decoded, aliases expanded: a few anchors
	// referenced many times can make a small file huge. limit is the
	// document's own values plus maxAliasExpansion.
	nodes, limit int
	tooMany      bool
}

// maxAliasExpansion bounds how many values aliases may add to a document
// beyond those written in it: a big file of literal values is fine, a
// small one that expands to millions through anchors is not.
const maxAliasExpansion = 100_000

func newDecoder(file string) *decoder {
	return &decoder{file: file, at: map[any]Pos{}, failed: map[any]bool{}, limit: maxAliasExpansion}
}

// allowWritten raises the decoder's limit by the values written in the
// document under root (aliases not followed).
func (d *decoder) allowWritten(root *yaml.Node) {
	var count func(n *yaml.Node) int
	count = func(n *yaml.Node) int {
		c := 1
		for _, k := range n.Content {
			c += count(k)
		}
		return c
	}
	d.limit = count(root) + maxAliasExpansion
}

// nodeDecoder is implemented by spec types that take more than one shape in
// YAML (e.g. `windows: default` or a list).
type nodeDecoder interface {
	decodeNode(d *decoder, n *yaml.Node, path string)
}

var (
	durationType    = reflect.TypeFor[model.Duration]()
	nodeDecoderType = reflect.TypeFor[nodeDecoder]()
)

func (d *decoder) pos(n *yaml.Node) Pos {
	return Pos{File: d.file, Line: n.Line, Col: n.Column}
}

func (d *decoder) errorf(n *yaml.Node, format string, args ...any) {
	d.errs = append(d.errs, &Error{Pos: d.pos(n), Msg: fmt.Sprintf(format, args...)})
}

// posOf returns where the value behind ptr was read, or the zero Pos.
func (d *decoder) posOf(ptr any) Pos {
	return d.at[ptr]
}

func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	for n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if d.nodes++; d.nodes > d.limit {
		if !d.tooMany {
			d.tooMany = true
			d.errorf(n, "aliases expand the document by more than %d values (each alias repeats what it points to): write the values out", maxAliasExpansion)
		}
		return
	}
	if v.CanAddr() {
		before := len(d.errs)
		defer func() {
			if len(d.errs) > before {
				d.failed[v.Addr().Interface()] = true
			}
		}()
		d.at[v.Addr().Interface()] = d.pos(n)
		if v.Addr().Type().Implements(nodeDecoderType) {
			v.Addr().Interface().(nodeDecoder).decodeNode(d, n, path)
			return
		}
	}
	if v.Type() == durationType {
		d.decodeDuration(n, v, path)
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if isNull(n) {
			return
		}
		p := reflect.New(v.Type().Elem())
		before := len(d.errs)
		d.decode(n, p.Elem(), path)
		if len(d.errs) > before && p.Elem().Kind() != reflect.Struct {
			return // a bad scalar leaves the pointer nil: reported once, not again as "missing"
		}
		v.Set(p)
		d.at[p.Interface()] = d.pos(n)
	case reflect.Struct:
		d.decodeStruct(n, v, path)
	case reflect.Slice:
		if isNull(n) {
			return
		}
		if n.Kind != yaml.SequenceNode {
			d.errorf(n, "%s: expected a list, got %s", path, describe(n))
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, item := range n.Content {
			d.decode(item, s.Index(i), indexPath(path, i))
		}
		v.Set(s)
	case reflect.Map:
		d.decodeMap(n, v, path)
	case reflect.String:
		if n.Kind != yaml.ScalarNode || isNull(n) {
			d.errorf(n, "%s: expected a string, got %s", path, describe(n))
			return
		}
		v.SetString(n.Value)
	case reflect.Bool:
		b, ok := scalarBool(n)
		if !ok {
			d.errorf(n, "%s: expected true or false, got %s", path, describe(n))
			return
		}
		v.SetBool(b)
	case reflect.Float64:
		f, err := strconv.ParseFloat(n.Value, 64)
		if n.Kind != yaml.ScalarNode || (n.Tag != "!!int" && n.Tag != "!!float") || err != nil {
			d.errorf(n, "%s: expected a number, got %s", path, describe(n))
			return
		}
		v.SetFloat(f)
	case reflect.Int, reflect.Int64:
		i, err := strconv.ParseInt(n.Value, 10, 64)
		if n.Kind != yaml.ScalarNode || n.Tag != "!!int" || err != nil {
			d.errorf(n, "%s: expected a whole number, got %s", path, describe(n))
			return
		}
		v.SetInt(i)
	case reflect.Interface:
		// Free-form values (OpenSLO annotations and the like) are kept as decoded by yaml.v3.
		var x any
		if err := n.Decode(&x); err != nil {
			d.errorf(n, "%s: %v", path, err)
			return
		}
		if x != nil {
			v.Set(reflect.ValueOf(x))
		}
	default:
		panic(fmt.Sprintf("slo: decoder cannot handle %s", v.Type()))
	}
}

// decodeValue decodes n into the value ptr points to.
func (d *decoder) decodeValue(n *yaml.Node, ptr any, path string) {
	d.decode(n, reflect.ValueOf(ptr).Elem(), path)
}

func indexPath(path string, i int) string {
	return fmt.Sprintf("%s[%d]", path, i)
}

func (d *decoder) decodeDuration(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.ScalarNode || isNull(n) {
		d.errorf(n, "%s: expected a duration such as 5m or 30d, got %s", path, describe(n))
		return
	}
	dur, err := model.ParseDuration(n.Value)
	if err != nil {
		d.errorf(n, "%s: bad duration %q: use a number and a unit (ms, s, m, h, d, w, y) such as 5m or 30d", path, n.Value)
		return
	}
	v.Set(reflect.ValueOf(dur))
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "%s: expected a mapping, got %s", orTop(path), describe(n))
		return
	}
	fields := fieldsOf(v.Type())
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Value == "<<" {
			d.errorf(k, "%s: merge keys (<<) are not supported", orTop(path))
			continue
		}
		if prev, dup := seen[k.Value]; dup {
			d.errorf(k, "%s: duplicate key %q (first at line %d)", join(path, k.Value), k.Value, prev.Line)
			continue
		}
		seen[k.Value] = k
		idx, ok := fields.index[k.Value]
		if !ok {
			d.errorf(k, "%s: unknown key %q%s", orTop(path), k.Value, suggest(k.Value, fields.names))
			continue
		}
		d.decode(val, v.Field(idx), join(path, k.Value))
	}
}

func (d *decoder) decodeMap(n *yaml.Node, v reflect.Value, path string) {
	if isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode || v.Type().Key().Kind() != reflect.String {
		d.errorf(n, "%s: expected a mapping, got %s", path, describe(n))
		return
	}
	m := reflect.MakeMapWithSize(v.Type(), len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if m.MapIndex(reflect.ValueOf(k.Value)).IsValid() {
			d.errorf(k, "%s: duplicate key %q", path, k.Value)
			continue
		}
		e := reflect.New(v.Type().Elem())
		d.decode(val, e.Elem(), join(path, k.Value))
		m.SetMapIndex(reflect.ValueOf(k.Value).Convert(v.Type().Key()), e.Elem())
	}
	v.Set(m)
}

type structFields struct {
	index map[string]int
	names []string
}

var fieldCache sync.Map // reflect.Type -> structFields

func fieldsOf(t reflect.Type) structFields {
	if f, ok := fieldCache.Load(t); ok {
		return f.(structFields)
	}
	f := structFields{index: map[string]int{}}
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if name == "" || name == "-" {
			continue
		}
		f.index[name] = i
		f.names = append(f.names, name)
	}
	fieldCache.Store(t, f)
	return f
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

func scalarBool(n *yaml.Node) (bool, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
		return false, false
	}
	b, err := strconv.ParseBool(n.Value)
	return b, err == nil
}

// describe names what a node holds, for "expected X, got Y" messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	if isNull(n) {
		return "nothing"
	}
	return strconv.Quote(n.Value)
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func orTop(path string) string {
	if path == "" {
		return "document"
	}
	return path
}

// suggest proposes the known key closest to a misspelled one.
func suggest(got string, known []string) string {
	best, bestDist := "", 3
	for _, k := range known {
		if dist := editDistance(strings.ToLower(got), k); dist < bestDist {
			best, bestDist = k, dist
		}
	}
	if best == "" {
		return fmt.Sprintf(" (known keys: %s)", strings.Join(known, ", "))
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
