package slo

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	_ "time/tzdata" // time zones resolve in minimal containers too
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// Set is everything loaded from spec files.
type Set struct {
	Services []*Service
	// Warnings are problems that do not make the specs invalid.
	Warnings Errors
}

// Objectives returns every SLO of every service, in load order.
func (s *Set) Objectives() []*Objective {
	var out []*Objective
	for _, svc := range s.Services {
		out = append(out, svc.SLOs...)
	}
	return out
}

// Evaluated is what serve and report evaluate: every objective but the
// grouped ones (sli.prometheus.by), which kakeibo rules evaluates per group.
func (s *Set) Evaluated() (objs, grouped []*Objective) {
	for _, o := range s.Objectives() {
		if o.SLI.Grouped() {
			grouped = append(grouped, o)
		} else {
			objs = append(objs, o)
		}
	}
	return objs, grouped
}

// Load reads SLO specs from files and directory trees (every *.yaml and
// *.yml below a directory, hidden ones skipped). A file may hold several YAML
// documents: kakeibo service specs and OpenSLO v1 documents, which may refer
// to each other across files.
//
// When specs are invalid, Load returns an Errors value listing every problem
// in every file, in file and line order, and the Set of what did load.
func Load(paths ...string) (*Set, error) {
	files, err := specFiles(paths)
	if err != nil {
		return nil, err
	}
	l := newLoader()
	for _, f := range files {
		data, err := readSpec(f)
		if err != nil {
			var tooBig *FileTooBigError
			if errors.As(err, &tooBig) {
				l.errs = append(l.errs, &Error{Pos: Pos{File: f, Line: 1, Col: 1}, Msg: tooBig.Error()})
				continue
			}
			return nil, fmt.Errorf("read spec: %w", err)
		}
		l.file(f, data)
	}
	return l.finish()
}

// MaxFileBytes is the largest spec file Load reads (4 MiB: about 30,000
// SLOs written out; a bigger file is a generated one gone wrong, or one
// that should be split by service). Commands set it from
// KAKEIBO_MAX_SPEC_BYTES.
var MaxFileBytes int64 = 4 << 20

// FileTooBigError is a spec file over MaxFileBytes: it is not read.
type FileTooBigError struct {
	Size, Max int64
}

func (e *FileTooBigError) Error() string {
	return fmt.Sprintf("the file is %s, more than the %s a spec file may be: split it (one file per service), or raise KAKEIBO_MAX_SPEC_BYTES",
		sizeText(e.Size), sizeText(e.Max))
}

func sizeText(n int64) string {
	if n >= 1<<20 {
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%d KiB", (n+1023)>>10)
}

// readSpec reads a spec file, refusing one over MaxFileBytes before
// reading it whole.
func readSpec(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileBytes+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > MaxFileBytes {
		size := int64(len(data))
		if info, err := f.Stat(); err == nil {
			size = info.Size()
		}
		return nil, &FileTooBigError{Size: size, Max: MaxFileBytes}
	}
	return data, nil
}

// LoadBytes loads specs from one file's content; name is used in positions.
func LoadBytes(name string, data []byte) (*Set, error) {
	l := newLoader()
	l.file(name, data)
	return l.finish()
}

// SpecFiles lists the spec files Load would read (to watch them for changes).
func SpecFiles(paths ...string) ([]string, error) { return specFiles(paths) }

func specFiles(paths []string) ([]string, error) {
	if len(paths) == 0 {
		return nil, errors.New("no spec paths given")
	}
	var files []string
	for _, p := range paths {
		info, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("spec path: %w", err)
		}
		if !info.IsDir() {
			files = append(files, p)
			continue
		}
		var found []string
		err = walkSpecs(p, map[string]bool{}, func(path string) { found = append(found, path) })
		if err != nil {
			return nil, fmt.Errorf("spec directory %s: %w", p, err)
		}
		if len(found) == 0 {
			return nil, fmt.Errorf("spec directory %s: no *.yaml or *.yml files", p)
		}
		slices.Sort(found)
		files = append(files, found...)
	}
	return files, nil
}

// walkSpecs finds spec files below dir, following symbolic links (a
// ConfigMap mount is a tree of them) and visiting each real directory once,
// so a link back up the tree cannot loop. Hidden entries are skipped; the
// suffix is .yaml or .yml in any case.
func walkSpecs(dir string, seen map[string]bool, add func(string)) error {
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return err
	}
	if seen[real] {
		return nil
	}
	seen[real] = true
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		path := filepath.Join(dir, e.Name())
		info, err := os.Stat(path) // follows links
		if err != nil {
			return err
		}
		if info.IsDir() {
			if err := walkSpecs(path, seen, add); err != nil {
				return err
			}
			continue
		}
		name := strings.ToLower(e.Name())
		if strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml") {
			add(path)
		}
	}
	return nil
}

type loader struct {
	errs     Errors
	services []*Service
	openslo  *openSLOIndex
	shared   *compileCache
}

func newLoader() *loader {
	return &loader{openslo: newOpenSLOIndex(), shared: newCompileCache()}
}

func (l *loader) file(name string, data []byte) {
	if pos, ok := invalidUTF8(data); !ok {
		pos.File = name
		l.errs = append(l.errs, &Error{Pos: pos, Msg: "bad UTF-8: specs must be UTF-8 text (is the file in another encoding?)"})
		return
	}
	if len(data) >= splitMinBytes && l.fileBySLO(name, data) {
		return
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	docs := 0
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			if docs == 0 {
				// An empty (or comments-only) file is allowed, but likely a mistake.
				l.errs = append(l.errs, &Error{Pos: Pos{File: name, Line: 1, Col: 1}, Warning: true,
					Msg: "the file holds no spec (it is empty or only comments)"})
			}
			return
		}
		if err != nil {
			l.errs = append(l.errs, yamlSyntaxError(name, data, err))
			return
		}
		if len(doc.Content) == 0 || isNull(doc.Content[0]) {
			continue
		}
		docs++
		l.document(name, doc.Content[0])
	}
}

func (l *loader) document(name string, root *yaml.Node) {
	if root.Kind == yaml.SequenceNode && len(root.Content) > 0 && isOpenSLOList(root) {
		// OpenSLO's tools (the Go SDK, oslo) write a YAML list of documents.
		for _, item := range root.Content {
			l.document(name, item)
		}
		return
	}
	d := newDecoder(name)
	d.allowWritten(root)
	defer func() {
		l.errs = append(l.errs, d.errs...)
		d.errs = nil // OpenSLO documents are compiled later, into the same decoder
	}()
	if root.Kind != yaml.MappingNode {
		d.errorf(root, "document: expected a mapping with a service key (or an OpenSLO document), got %s", describe(root))
		return
	}
	if v := mappingValue(root, "version"); v != nil && strings.HasPrefix(v.Value, "prometheus/") {
		d.errorf(v, "version: %q: this is a Sloth spec; kakeibo reads its own specs and OpenSLO: convert it with `kakeibo import sloth %s`", v.Value, name)
		return
	}
	if v := mappingValue(root, "apiVersion"); v != nil && strings.HasPrefix(v.Value, "sloth.slok.dev/") {
		d.errorf(v, "apiVersion: %q: this is a Sloth PrometheusServiceLevel; convert it with `kakeibo import sloth %s`", v.Value, name)
		return
	}
	if v := mappingValue(root, "apiVersion"); v != nil {
		if !strings.HasPrefix(v.Value, "openslo/") {
			d.errorf(v, "apiVersion: %q is not supported: kakeibo reads its own specs (no apiVersion) and openslo/v1", v.Value)
			return
		}
		l.openslo.add(d, root)
		return
	}
	var s specService
	d.decodeValue(root, &s, "")
	if d.tooMany {
		return // what was not decoded would only show as missing
	}
	c := &compiler{d: d, shared: l.shared}
	l.services = append(l.services, c.service(&s))
}

func (l *loader) finish() (*Set, error) {
	l.services = append(l.services, l.openslo.compile(&l.errs)...)
	l.checkUnique()
	broken := map[string]bool{} // files with errors: fix those first
	for _, e := range l.errs {
		if !e.Warning {
			broken[e.Pos.File] = true
		}
	}
	var sound []*Service
	for _, svc := range l.services {
		if !broken[svc.Pos.File] {
			sound = append(sound, svc)
		}
	}
	l.errs = append(l.errs, routeWarnings(sound)...)

	set := &Set{}
	var errs Errors
	seen := map[string]bool{} // an SLI shared by several SLOs reports its problems once
	for _, e := range l.errs {
		if seen[e.Error()] {
			continue
		}
		seen[e.Error()] = true
		if e.Warning {
			set.Warnings = append(set.Warnings, e)
		} else {
			errs = append(errs, e)
		}
	}
	set.Warnings.sort()
	errs.sort()
	for _, svc := range l.services {
		if svc.Name != "" {
			set.Services = append(set.Services, svc)
		}
	}
	if len(errs) > 0 {
		return set, errs
	}
	return set, nil
}

// checkUnique makes service names unique across everything loaded, and SLO
// names unique within a service: together they name metrics, alerts and files.
func (l *loader) checkUnique() {
	services := map[string]*Service{}
	for _, svc := range l.services {
		if svc.Name == "" {
			continue
		}
		if first, dup := services[svc.Name]; dup {
			l.errs = append(l.errs, &Error{Pos: svc.Pos, Msg: fmt.Sprintf("service %q is already declared at %s: one spec per service", svc.Name, first.Pos)})
			continue
		}
		services[svc.Name] = svc
		slos := map[string]*Objective{}
		for _, o := range svc.SLOs {
			if o.Name == "" {
				continue
			}
			if first, dup := slos[o.Name]; dup {
				l.errs = append(l.errs, &Error{Pos: o.Pos, Msg: fmt.Sprintf("slo %q: duplicate name in service %q (first at %s)", o.Name, svc.Name, first.Pos)})
				continue
			}
			slos[o.Name] = o
		}
	}
}

// isOpenSLOList says whether a list is a list of OpenSLO documents: its
// first item is a mapping with an apiVersion. (Later items that are not are
// reported one by one.)
func isOpenSLOList(seq *yaml.Node) bool {
	first := seq.Content[0]
	return first.Kind == yaml.MappingNode && mappingValue(first, "apiVersion") != nil
}

func mappingValue(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

func yamlSyntaxError(file string, data []byte, err error) *Error {
	msg := err.Error()
	m := yamlLineRE.FindStringSubmatch(msg)
	if m == nil {
		return &Error{Pos: Pos{File: file, Line: 1}, Msg: "bad YAML: " + strings.TrimPrefix(msg, "yaml: "), Err: err}
	}
	line, _ := strconv.Atoi(m[1])
	pos := Pos{File: file, Line: line}
	text := m[2]
	// yaml.v3 names the line only: point at the tab that broke it, or at
	// where the line's content starts.
	if lines := bytes.Split(data, []byte("\n")); line >= 1 && line <= len(lines) {
		l := string(lines[line-1])
		indent := l[:len(l)-len(strings.TrimLeft(l, " \t"))]
		switch i := strings.IndexByte(l, '\t'); {
		case strings.Contains(indent, "\t"):
			pos.Col = i + 1
			text = "a tab indents this line; YAML indents with spaces (" + text + ")"
		case i >= 0 && strings.Contains(text, "cannot start any token"):
			pos.Col = i + 1
			text = "a tab where YAML expects a value or key; use spaces (" + text + ")"
		case strings.TrimSpace(l) != "":
			pos.Col = utf8.RuneCountInString(indent) + 1
		}
	}
	return &Error{Pos: pos, Msg: "bad YAML: " + text, Err: err}
}

// invalidUTF8 finds the first byte that is not UTF-8, with its line and
// column (counted in characters).
func invalidUTF8(data []byte) (Pos, bool) {
	if utf8.Valid(data) {
		return Pos{}, true
	}
	line, col := 1, 1
	for len(data) > 0 {
		r, size := utf8.DecodeRune(data)
		if r == utf8.RuneError && size <= 1 {
			return Pos{Line: line, Col: col}, false
		}
		if r == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
		data = data[size:]
	}
	return Pos{Line: line, Col: col}, false
}

// routeWarnings flags SLOs whose alerts would go nowhere: page (or ticket)
// alerts on a service without a route for that severity.
func routeWarnings(services []*Service) Errors {
	var out Errors
	for _, svc := range services {
		for _, o := range svc.SLOs {
			for _, sev := range []Severity{Page, Ticket} {
				route := svc.Notify.Page
				if sev == Ticket {
					route = svc.Notify.Ticket
				}
				if !route.IsZero() || !slices.ContainsFunc(o.Alerting.Windows, func(w AlertWindow) bool { return w.Severity == sev }) {
					continue
				}
				out = append(out, &Error{Pos: o.Pos, Warning: true, Msg: fmt.Sprintf(
					"service %q slo %q: has %s alerts but the service has no notify.%s route: they reach only an --ops route or Alertmanager (add notify.%s, or alerting.%s: {disable: true})",
					svc.Name, o.Name, sev, sev, sev, sev)})
			}
		}
	}
	return out
}
