package alb

import (
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestTextMatcherAgreesWithRegexp checks the literal fast paths against the
// regexp engine on the same inputs.
func TestTextMatcherAgreesWithRegexp(t *testing.T) {
	inputs := []string{"", "/healthz", "/healthz/", "/api/healthz", "/static/app.js", "/STATIC/x", "Route53-Health", "x Route53", "/a.b", "/axb"}
	for _, expr := range []string{`^/healthz$`, `^/static/`, `\.js$`, `Route53`, `^/a\.b$`, `(?i)^/static/`, `^/(a|b)`, `^/healthz($|/)`, `^$`, `/a.b`} {
		re := regexp.MustCompile(expr)
		m := newTextMatcher(re)
		for _, in := range inputs {
			require.Equal(t, re.MatchString(in), m.match([]byte(in)), "%s on %q", expr, in)
		}
	}
	require.True(t, newTextMatcher(regexp.MustCompile(`^/healthz$`)).literal)
	require.False(t, newTextMatcher(regexp.MustCompile(`(?i)^/static/`)).literal)
}
