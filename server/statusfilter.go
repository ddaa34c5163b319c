package server

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/kakeibo-slo/kakeibo/slo"
)

// sloFilter is what a status page or API request asks for, from its query
// string, so that every filtered view has a link:
//
//	?q=checkout&status=violated&status=at_risk&team=payments&label=tier=1&page=2&per_page=50
type sloFilter struct {
	Q       string
	Status  []string
	Team    string
	Label   string // name=value
	View    string // cards or table (status page)
	Page    int
	PerPage int
	// paged is set when the request named page or per_page.
	paged bool
}

const maxPerPage = 1000

func parseFilter(r *http.Request, perPage int) sloFilter {
	q := r.URL.Query()
	f := sloFilter{Q: strings.TrimSpace(q.Get("q")), Team: q.Get("team"), Label: q.Get("label"), View: q.Get("view"), Page: 1, PerPage: perPage}
	for _, s := range q["status"] {
		if s != "" {
			f.Status = append(f.Status, s)
		}
	}
	if v, err := strconv.Atoi(q.Get("page")); err == nil && v > 0 {
		f.Page, f.paged = v, true
	}
	if v, err := strconv.Atoi(q.Get("per_page")); err == nil && v > 0 {
		f.PerPage, f.paged = min(v, maxPerPage), true
	}
	return f
}

// Filtered reports whether the request narrows the SLOs at all.
func (f sloFilter) Filtered() bool {
	return f.Q != "" || len(f.Status) > 0 || f.Team != "" || f.Label != ""
}

func (f sloFilter) match(r *slo.ReportSLO) bool {
	if len(f.Status) > 0 && !slices.Contains(f.Status, string(r.Status)) {
		return false
	}
	if f.Team != "" && r.Labels["team"] != f.Team {
		return false
	}
	if f.Label != "" {
		k, v, _ := strings.Cut(f.Label, "=")
		if got, ok := r.Labels[k]; !ok || got != v {
			return false
		}
	}
	if f.Q != "" {
		q := strings.ToLower(f.Q)
		if !strings.Contains(strings.ToLower(r.Service+"/"+r.SLO), q) && !strings.Contains(strings.ToLower(r.Description), q) {
			return false
		}
	}
	return true
}

// With is the query string of this filter with one parameter changed
// (empty removes it), for links.
func (f sloFilter) With(key, value string) string {
	v := url.Values{}
	if f.Q != "" {
		v.Set("q", f.Q)
	}
	for _, s := range f.Status {
		v.Add("status", s)
	}
	if f.Team != "" {
		v.Set("team", f.Team)
	}
	if f.Label != "" {
		v.Set("label", f.Label)
	}
	if f.View != "" {
		v.Set("view", f.View)
	}
	if f.Page > 1 {
		v.Set("page", strconv.Itoa(f.Page))
	}
	v.Del(key)
	if value != "" {
		v.Set(key, value)
	}
	if key != "page" {
		v.Del("page") // a new filter starts on its first page
	}
	if len(v) == 0 {
		return "?"
	}
	return "?" + v.Encode()
}

// pageOf returns the bounds of the requested page of n items and the
// number of pages.
func (f sloFilter) pageOf(n int) (from, to, pages int) {
	pages = max((n+f.PerPage-1)/f.PerPage, 1)
	page := min(f.Page, pages)
	from = min((page-1)*f.PerPage, n)
	return from, min(from+f.PerPage, n), pages
}
