package alb

import (
	"slices"
	"sort"
)

// smallScope is the number of SLIs on a load balancer up to which every
// entry is simply tried against each: below it, the index costs more than
// it saves.
const smallScope = 8

// scopeIndex finds the SLIs of one load balancer that may hold an entry,
// from the request's host and path, so that the cost of a line does not
// grow with the number of SLIs on its load balancer: a line is parsed, its
// host and path are looked up, and only the SLIs found are tried (a line
// no SLI wants costs the parse and the lookups). SLIs are indexed by exact
// host, by wildcard host suffix, or under "any host"; within each, by the
// literal prefixes or exact values of their paths, or under "any path"
// (no path filter, or one that is not a literal).
type scopeIndex struct {
	all     []*matcher
	indexed bool
	// hosts by exact host (lower case), suffixes by ".example.com".
	hosts, suffixes map[string]*pathIndex
	anyHost         *pathIndex
}

type pathIndex struct {
	// lens are the distinct lengths of the prefixes, ascending.
	lens   []int
	prefix map[string][]*matcher
	other  []*matcher
}

func newScopeIndex(ms []*matcher) *scopeIndex {
	idx := &scopeIndex{all: ms, indexed: len(ms) > smallScope}
	if !idx.indexed {
		return idx
	}
	idx.hosts, idx.suffixes, idx.anyHost = map[string]*pathIndex{}, map[string]*pathIndex{}, newPathIndex()
	under := func(m map[string]*pathIndex, key string) *pathIndex {
		p := m[key]
		if p == nil {
			p = newPathIndex()
			m[key] = p
		}
		return p
	}
	for _, m := range ms {
		if len(m.hosts)+len(m.hostSuffixes) == 0 {
			idx.anyHost.add(m)
			continue
		}
		for _, h := range m.hosts {
			under(idx.hosts, string(h)).add(m)
		}
		for _, h := range m.hostSuffixes {
			under(idx.suffixes, string(h)).add(m)
		}
	}
	return idx
}

func newPathIndex() *pathIndex { return &pathIndex{prefix: map[string][]*matcher{}} }

func (p *pathIndex) add(m *matcher) {
	literal := len(m.paths) > 0
	for _, t := range m.paths {
		literal = literal && t.literal && (t.kind == litPrefix || t.kind == litExact)
	}
	if !literal {
		p.other = append(p.other, m)
		return
	}
	for _, t := range m.paths {
		key := string(t.lit)
		if !slices.Contains(p.prefix[key], m) {
			p.prefix[key] = append(p.prefix[key], m)
		}
		if i := sort.SearchInts(p.lens, len(key)); i == len(p.lens) || p.lens[i] != len(key) {
			p.lens = slices.Insert(p.lens, i, len(key))
		}
	}
}

// collect appends the SLIs that may hold path.
func (p *pathIndex) collect(out []*matcher, path []byte) ([]*matcher, int) {
	lists := 0
	if len(p.other) > 0 {
		out = append(out, p.other...)
		lists++
	}
	for _, n := range p.lens {
		if n > len(path) {
			break
		}
		if ms := p.prefix[string(path[:n])]; len(ms) > 0 {
			out = append(out, ms...)
			lists++
		}
	}
	return out, lists
}

// candidates lists the SLIs that may hold a request, in SLI order, each
// once. cache, when set, lends the scratch space.
func (idx *scopeIndex) candidates(req *Request, cache *lbCache) []*matcher {
	var host []byte
	var out []*matcher
	if cache != nil {
		host, out = cache.host[:0], cache.candidates[:0]
	}
	for _, b := range req.Host {
		if 'A' <= b && b <= 'Z' {
			b += 'a' - 'A'
		}
		host = append(host, b)
	}
	lists, n := 0, 0
	out, n = idx.anyHost.collect(out, req.Path)
	lists += n
	if p := idx.hosts[string(host)]; p != nil {
		out, n = p.collect(out, req.Path)
		lists += n
	}
	if len(idx.suffixes) > 0 {
		for i := 1; i < len(host); i++ {
			if host[i] != '.' {
				continue
			}
			if p := idx.suffixes[string(host[i:])]; p != nil {
				out, n = p.collect(out, req.Path)
				lists += n
			}
		}
	}
	if lists > 1 {
		slices.SortFunc(out, func(a, b *matcher) int { return a.index - b.index })
		out = slices.Compact(out)
	}
	if cache != nil {
		cache.host, cache.candidates = host, out
	}
	return out
}
