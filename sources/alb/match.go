package alb

import (
	"bytes"
	"regexp"
	"regexp/syntax"
)

// textMatcher matches a path or user agent. Most scope regexes in specs are
// literals with anchors ("^/healthz$", "^/static/", "Route53"); those are
// compared as bytes, several times faster than running the regexp engine on
// every log line. Anything else goes to the regexp.
type textMatcher struct {
	re      *regexp.Regexp
	lit     []byte
	kind    literalKind
	literal bool
}

type literalKind int

const (
	litContains literalKind = iota
	litPrefix
	litSuffix
	litExact
)

func newTextMatcher(re *regexp.Regexp) textMatcher {
	m := textMatcher{re: re}
	parsed, err := syntax.Parse(re.String(), syntax.Perl)
	if err != nil {
		return m
	}
	parsed = parsed.Simplify()
	subs := []*syntax.Regexp{parsed}
	if parsed.Op == syntax.OpConcat {
		subs = parsed.Sub
	}
	begin := len(subs) > 0 && subs[0].Op == syntax.OpBeginText
	if begin {
		subs = subs[1:]
	}
	end := len(subs) > 0 && subs[len(subs)-1].Op == syntax.OpEndText
	if end {
		subs = subs[:len(subs)-1]
	}
	if len(subs) != 1 || subs[0].Op != syntax.OpLiteral || subs[0].Flags&syntax.FoldCase != 0 {
		return m
	}
	m.lit, m.literal = []byte(string(subs[0].Rune)), true
	switch {
	case begin && end:
		m.kind = litExact
	case begin:
		m.kind = litPrefix
	case end:
		m.kind = litSuffix
	}
	return m
}

func (m *textMatcher) match(b []byte) bool {
	if !m.literal {
		return m.re.Match(b)
	}
	switch m.kind {
	case litExact:
		return bytes.Equal(b, m.lit)
	case litPrefix:
		return bytes.HasPrefix(b, m.lit)
	case litSuffix:
		return bytes.HasSuffix(b, m.lit)
	}
	return bytes.Contains(b, m.lit)
}

func textMatchers(res []*regexp.Regexp) []textMatcher {
	out := make([]textMatcher, len(res))
	for i, re := range res {
		out[i] = newTextMatcher(re)
	}
	return out
}

func anyMatch(ms []textMatcher, b []byte) bool {
	for i := range ms {
		if ms[i].match(b) {
			return true
		}
	}
	return false
}
