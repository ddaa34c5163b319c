package slo

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// loadBoth loads one file's content decoded one SLO at a time (when its
// shape allows) and decoded whole; split says which the first was.
func loadBoth(t *testing.T, name string, data []byte) (bySLO, whole *Set, bySLOErr, wholeErr error, split bool) {
	t.Helper()
	l := newLoader()
	split = l.fileBySLO(name, data)
	if !split {
		l.file(name, data)
	}
	bySLO, bySLOErr = l.finish()

	defer func(old int) { splitMinBytes = old }(splitMinBytes)
	splitMinBytes = 1 << 62
	whole, wholeErr = LoadBytes(name, data)
	return bySLO, whole, bySLOErr, wholeErr, split
}

func requireSameLoad(t *testing.T, name string, data []byte) bool {
	t.Helper()
	bySLO, whole, bySLOErr, wholeErr, split := loadBoth(t, name, data)
	require.Equal(t, fmt.Sprint(wholeErr), fmt.Sprint(bySLOErr), "%s: errors", name)
	require.Equal(t, whole.Warnings.Error(), bySLO.Warnings.Error(), "%s: warnings", name)
	require.Equal(t, whole.Services, bySLO.Services, "%s: services", name)
	return split
}

// TestSplitDecodeAgreesWithWholeDecode: every spec file in the repository,
// good and bad, gives the same services, errors and warnings (positions
// included) decoded one SLO at a time as decoded whole.
func TestSplitDecodeAgreesWithWholeDecode(t *testing.T) {
	var files []string
	for _, glob := range []string{"testdata/*/*.yaml", "../testdata/*/*.yaml", "../rules/testdata/*.yaml", "convert/testdata/*.yaml"} {
		m, err := filepath.Glob(glob)
		require.NoError(t, err)
		files = append(files, m...)
	}
	require.Greater(t, len(files), 90)
	split := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		if requireSameLoad(t, f, data) {
			split++
		}
	}
	// Most files are block-style service specs; the others (OpenSLO,
	// Sloth, broken YAML, flow style) are decoded whole.
	require.Greater(t, split, len(files)/2, "files decoded one SLO at a time")
}

// TestSplitDecodeShapes: the shapes a cut along lines could get wrong.
func TestSplitDecodeShapes(t *testing.T) {
	const item = "    objective: 99\n    window: 7d\n    sli: {alb: {load_balancer: app/shop/0123456789abcdef, paths: [\"^/api/\"]}}\n"
	for _, tc := range []struct {
		name, spec string
		split      bool
	}{
		{"items indented", "service: shop\nslos:\n  - name: a\n" + item + "  - name: b\n" + item, true},
		{"items not indented", "service: shop\nslos:\n- name: a\n  objective: 99\n  window: 7d\n  sli: {alb: {load_balancer: app/shop/0123456789abcdef}}\n- name: b\n  objective: 98\n  window: 7d\n  sli: {alb: {load_balancer: app/shop/0123456789abcdef}}\n", true},
		{"keys after the list, comments and blank lines between items", "# shop\nservice: shop\nslos:\n  # first\n  - name: a\n" + item + "\n# between\n\n  - name: b\n" + item + "corrections: [{from: 2026-10-01T14:00:00Z, to: 2026-10-01T15:00:00Z, reason: db upgrade, author: ana, slos: [b]}]\nlabels: {team: web}\n", true},
		{"CRLF", strings.ReplaceAll("service: shop\nslos:\n  - name: a\n"+item+"  - name: b\n"+item, "\n", "\r\n"), true},
		{"block scalar in an item", "service: shop\nslos:\n  - name: a\n    description: |\n      two\n\n      paragraphs\n" + item + "  - name: b\n" + item, true},
		{"an error in the second item", "service: shop\nslos:\n  - name: a\n" + item + "  - name: b\n    objectiv: 99\n    window: 7x\n    sli: {alb: {load_balancer: app/shop/0123456789abcdef}}\n", true},
		{"duplicate names", "service: shop\nslos:\n  - name: a\n" + item + "  - name: a\n" + item, true},
		{"an anchor used by a later item", "service: shop\nslos:\n  - name: a\n    objective: 99\n    window: 7d\n    sli: &sli {alb: {load_balancer: app/shop/0123456789abcdef}}\n  - name: b\n    objective: 99\n    window: 7d\n    sli: *sli\n", true}, // one parser reads the items in turn and keeps its anchors
		{"an anchor in the header", "service: shop\nx-sli: &sli {alb: {load_balancer: app/shop/0123456789abcdef}}\nslos:\n  - name: a\n    objective: 99\n    window: 7d\n    sli: *sli\n", false},
		{"an anchor within an item", "service: shop\nslos:\n  - name: a\n    objective: &o 99\n    window: 7d\n    sli: {alb: {load_balancer: app/shop/0123456789abcdef}}\n    description: *o\n", true},
		{"flow list", "service: shop\nslos: [{name: a, objective: 99, window: 7d, sli: {alb: {load_balancer: app/shop/0123456789abcdef}}}]\n", false},
		{"two documents", "service: shop\nslos:\n  - name: a\n" + item + "---\nservice: cart\nslos:\n  - name: a\n" + item, false},
		{"a leading document marker", "---\nservice: shop\nslos:\n  - name: a\n" + item, true},
		{"slos twice", "service: shop\nslos:\n  - name: a\n" + item + "slos:\n  - name: b\n" + item, false},
		{"a line less indented than the items", "service: shop\nslos:\n    - name: a\n      objective: 99\n  window: 7d\n", false},
		{"bad YAML in an item", "service: shop\nslos:\n  - name: a\n    objective: [99\n    window: 7d\n", false},
		{"a tab", "service: shop\nslos:\n  - name: a\n\tobjective: 99\n", false},
		{"empty list", "service: shop\nslos:\nlabels: {team: web}\n", false},
		{"an OpenSLO document", "apiVersion: openslo/v1\nkind: SLO\nmetadata: {name: a}\nslos:\n  - x\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.split, requireSameLoad(t, "shop.yaml", []byte(tc.spec)), "decoded one SLO at a time")
		})
	}
}

// TestSplitDecodeBoundsAliases: the alias budget is the document's, not
// each item's: items that each stay under it but together pass it are an
// alias bomb, reported as the whole decode reports it.
func TestSplitDecodeBoundsAliases(t *testing.T) {
	var b strings.Builder
	b.WriteString("service: shop\nslos:\n")
	hosts := make([]string, 1000)
	for i := range hosts {
		hosts[i] = fmt.Sprintf("h%d.example.com", i)
	}
	for i := range 30 {
		// Each item's aliases add 4,000 values: under the limit alone,
		// over it together.
		fmt.Fprintf(&b, "  - {name: s%d, objective: 99, window: 7d, sli: {alb: {load_balancer: app/shop/0123456789abcdef, hosts: &h%d [%s], paths: *h%d, exclude_paths: *h%d, exclude_user_agents: *h%d, methods: *h%d}}}\n",
			i, i, strings.Join(hosts, ", "), i, i, i, i)
	}
	_, _, bySLOErr, wholeErr, _ := loadBoth(t, "shop.yaml", []byte(b.String()))
	require.ErrorContains(t, wholeErr, "aliases expand the document by more than 100000 values")
	require.Equal(t, wholeErr.Error(), bySLOErr.Error())
}
