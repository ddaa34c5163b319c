package slo

import (
	"bytes"
	"io"
	"regexp"

	"gopkg.in/yaml.v3"
)

// A big spec file is decoded one SLO at a time: yaml.v3's node tree of a
// whole 100,000-SLO file is about 400 MB, while one item's is a few KB.
// The file is cut along the lines of its top-level slos list (block style,
// the way generated files are written); the rest of the document, with the
// list's lines blanked so that line numbers stay, is decoded as the
// service, and each item on its own, its lines shifted back to where they
// are in the file. Columns are kept because each item keeps its indentation.
//
// Anything that does not fit this shape (several documents, a flow-style
// list, an alias to an anchor in another item, a syntax error anywhere) is
// decoded whole instead, so the results and errors are those of the whole
// decode: TestSplitDecodeAgreesWithWholeDecode checks it over every spec
// in the repository.

// splitMinBytes is the size from which a file is decoded one SLO at a time.
// Smaller files are decoded whole (their tree is small).
var splitMinBytes = 256 << 10

// sloSpan is the bytes of one item of the slos list and its first line.
type sloSpan struct {
	start, end int
	line       int
}

var slosKeyRE = regexp.MustCompile(`^slos:[ \t]*(#.*)?$`)

// splitSLOs finds the items of the top-level slos list of a one-document,
// block-style service spec. header is data with the list's lines blanked.
// ok is false when the file is not of that shape.
func splitSLOs(data []byte) (header []byte, items []sloSpan, ok bool) {
	const (
		before = iota
		inList
		after
	)
	state := before
	itemIndent := -1
	regionStart, regionEnd, regionLines := -1, -1, 0
	lineNo := 0
	for off := 0; off < len(data); {
		end := bytes.IndexByte(data[off:], '\n')
		next := len(data)
		if end >= 0 {
			next = off + end + 1
		}
		lineNo++
		line := bytes.TrimRight(data[off:next], "\r\n")
		content := bytes.TrimLeft(line, " ")
		indent := len(line) - len(content)
		blank := len(content) == 0 || content[0] == '#'
		if len(content) > 0 && content[0] == '\t' {
			return nil, nil, false // tabs: let the whole decode say what it makes of them
		}
		marker := indent == 0 && (bytes.HasPrefix(content, []byte("---")) || bytes.HasPrefix(content, []byte("...")))
		switch state {
		case before:
			if marker && !(lineNo == 1 && bytes.HasPrefix(content, []byte("---"))) {
				return nil, nil, false
			}
			if indent == 0 && slosKeyRE.Match(line) {
				state, regionStart = inList, next
			}
		case inList:
			itemStart := !marker && (bytes.Equal(content, []byte("-")) || bytes.HasPrefix(content, []byte("- ")))
			switch {
			case blank:
				if len(items) > 0 {
					items[len(items)-1].end = next
				}
			case itemStart && (itemIndent < 0 || indent == itemIndent):
				itemIndent = indent
				items = append(items, sloSpan{start: off, end: next, line: lineNo})
			case indent == 0:
				state, regionEnd = after, off
				if marker || slosKeyRE.Match(line) {
					return nil, nil, false
				}
			case itemIndent >= 0 && indent > itemIndent:
				items[len(items)-1].end = next
			default:
				return nil, nil, false // a line of the list that is not in an item
			}
			if state == inList {
				regionLines++
			}
		case after:
			if marker || (indent == 0 && slosKeyRE.Match(line)) {
				return nil, nil, false
			}
		}
		off = next
	}
	if len(items) == 0 {
		return nil, nil, false
	}
	if regionEnd < 0 {
		regionEnd = len(data)
	}
	// Items own the comment and blank lines after them; the header keeps
	// the list's lines as empty lines.
	header = make([]byte, 0, regionStart+regionLines+len(data)-regionEnd)
	header = append(header, data[:regionStart]...)
	if regionStart > 0 && data[regionStart-1] != '\n' {
		header = append(header, '\n')
	}
	header = append(header, bytes.Repeat([]byte("\n"), regionLines)...)
	header = append(header, data[regionEnd:]...)
	return header, items, true
}

// spanReader feeds the items to one yaml.Decoder as documents of their
// own ("---" before each), so that one parser serves them all. lineOf maps
// a line of this stream back to the file's.
type spanReader struct {
	data   []byte
	spans  []sloSpan
	starts []int // the stream line where each item's first line is
	parts  [][]byte
}

func newSpanReader(data []byte, spans []sloSpan) *spanReader {
	r := &spanReader{data: data, spans: spans}
	line := 1
	for _, s := range spans {
		r.parts = append(r.parts, []byte("---\n"), data[s.start:s.end])
		if data[s.end-1] != '\n' {
			r.parts = append(r.parts, []byte("\n"))
		}
		r.starts = append(r.starts, line+1)
		line += 1 + bytes.Count(data[s.start:s.end], []byte("\n"))
		if data[s.end-1] != '\n' {
			line++
		}
	}
	return r
}

func (r *spanReader) Read(p []byte) (int, error) {
	for len(r.parts) > 0 && len(r.parts[0]) == 0 {
		r.parts = r.parts[1:]
	}
	if len(r.parts) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.parts[0])
	r.parts[0] = r.parts[0][n:]
	return n, nil
}

// item decodes the next item's document; ok is false when it is not a
// one-item list that parses alone.
func (r *spanReader) item(dec *yaml.Decoder, i int) (*yaml.Node, bool) {
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		return nil, false
	}
	if len(doc.Content) != 1 || doc.Content[0].Kind != yaml.SequenceNode || len(doc.Content[0].Content) != 1 {
		return nil, false
	}
	item := doc.Content[0].Content[0]
	delta := r.spans[i].line - r.starts[i]
	var shift func(n *yaml.Node)
	shift = func(n *yaml.Node) {
		n.Line += delta
		for _, c := range n.Content {
			shift(c)
		}
	}
	shift(item)
	return item, true
}

// fileBySLO decodes a big service spec one SLO at a time. It returns false,
// having changed nothing, when the file is not of the shape splitSLOs cuts
// or any part of it does not parse alone: the whole decode then runs.
func (l *loader) fileBySLO(name string, data []byte) bool {
	header, spans, ok := splitSLOs(data)
	if !ok {
		return false
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(header, &doc); err != nil || len(doc.Content) != 1 {
		return false
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode || mappingValue(root, "version") != nil || mappingValue(root, "apiVersion") != nil {
		return false
	}
	var errs Errors
	d := newDecoder(name)
	d.allowWritten(root)
	var s specService
	d.decodeValue(root, &s, "")
	if d.tooMany {
		return false
	}
	budget := d.limit - d.nodes // what aliases may still add, over the whole document
	c := &compiler{d: d, shared: l.shared}
	svc, ctx := c.serviceHeader(&s)
	// One goroutine parses the items while this one compiles them (about
	// half the time each): they share nothing but the channel.
	parsed := make(chan *yaml.Node, 64)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		defer close(parsed)
		items := newSpanReader(data, spans)
		dec := yaml.NewDecoder(items)
		for i := range spans {
			item, ok := items.item(dec, i)
			if !ok {
				return // a nil item below: decode the file whole
			}
			select {
			case parsed <- item:
			case <-stop:
				return
			}
		}
	}()
	for i := range spans {
		item := <-parsed
		if item == nil {
			return false
		}
		id := newDecoder(name)
		id.allowWritten(item)
		written := id.limit - maxAliasExpansion
		id.limit = written + budget
		var so specObjective
		id.decodeValue(item, &so, indexPath("slos", i))
		if id.tooMany {
			return false // the whole decode reports the alias bomb as it always does
		}
		budget -= max(0, id.nodes-written)
		if o := (&compiler{d: id, shared: l.shared}).objective(svc, &so); o != nil {
			svc.SLOs = append(svc.SLOs, o)
		}
		errs = append(errs, id.errs...)
	}
	c.serviceTail(ctx, svc, &s)
	l.services = append(l.services, svc)
	l.errs = append(l.errs, errs...)
	l.errs = append(l.errs, d.errs...)
	return true
}
