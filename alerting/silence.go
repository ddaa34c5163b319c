package alerting

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"
)

// Silence mutes the notifications of the alerts it matches from StartsAt
// to EndsAt, for planned work. Evaluation, alert states and history go on
// as usual; only what would be sent is held back (see Mute).
type Silence struct {
	ID        string    `json:"id"`
	Matchers  []Matcher `json:"matchers"`
	StartsAt  time.Time `json:"starts_at"`
	EndsAt    time.Time `json:"ends_at"`
	CreatedBy string    `json:"created_by"`
	Comment   string    `json:"comment"`
	CreatedAt time.Time `json:"created_at"`
}

// Matcher tests one alert label: service, slo, severity (page, ticket) or
// a label the SLO's spec sets. Op is "=", "!=", "=~" or "!~"; regular
// expressions are anchored, as in Prometheus.
type Matcher struct {
	Name  string `json:"name"`
	Op    string `json:"op"`
	Value string `json:"value"`
}

// Silence states.
const (
	SilencePending = "pending"
	SilenceActive  = "active"
	SilenceExpired = "expired"
)

// State says whether the silence is yet to start, in force, or over at now.
func (s Silence) State(now time.Time) string {
	switch {
	case now.Before(s.StartsAt):
		return SilencePending
	case now.Before(s.EndsAt):
		return SilenceActive
	}
	return SilenceExpired
}

var matcherRe = regexp.MustCompile(`^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$`)

// ParseMatcher reads "name=value", "name!=value", "name=~regexp" or
// "name!~regexp"; the value may be double-quoted.
func ParseMatcher(s string) (Matcher, error) {
	m := matcherRe.FindStringSubmatch(s)
	if m == nil {
		return Matcher{}, fmt.Errorf("matcher %q: want name=value, name!=value, name=~regexp or name!~regexp", s)
	}
	v := m[3]
	switch {
	case len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"':
		v = v[1 : len(v)-1]
	case strings.HasPrefix(v, "=") || strings.HasPrefix(v, "~"):
		return Matcher{}, fmt.Errorf("matcher %q: the value starts with %q, likely a typo of the operator; quote the value if it is meant", s, v[:1])
	}
	out := Matcher{Name: m[1], Op: m[2], Value: v}
	return out, out.validate()
}

func (m Matcher) String() string { return m.Name + m.Op + fmt.Sprintf("%q", m.Value) }

func (m Matcher) validate() error {
	switch m.Op {
	case "=", "!=":
	case "=~", "!~":
		if _, err := regexp.Compile("^(?:" + m.Value + ")$"); err != nil {
			return fmt.Errorf("matcher %s: %w", m.Name, err)
		}
	default:
		return fmt.Errorf("matcher %s: op %q: want =, !=, =~ or !~", m.Name, m.Op)
	}
	if !matcherRe.MatchString(m.Name + "=") {
		return fmt.Errorf("matcher name %q: want a label name", m.Name)
	}
	return nil
}

func (m Matcher) matches(labels map[string]string) bool {
	v := labels[m.Name]
	switch m.Op {
	case "=":
		return v == m.Value
	case "!=":
		return v != m.Value
	}
	ok, _ := regexp.MatchString("^(?:"+m.Value+")$", v) // validated when the silence was made
	if m.Op == "!~" {
		return !ok
	}
	return ok
}

// Validate says what is wrong with a silence someone asks for: no
// matchers, an end before its start, no author or no comment (a silence
// must say who muted what, and why).
func (s Silence) Validate() error {
	var errs []error
	if len(s.Matchers) == 0 {
		errs = append(errs, errors.New("matchers: at least one is needed (a silence of everything is a mistake)"))
	}
	for _, m := range s.Matchers {
		if err := m.validate(); err != nil {
			errs = append(errs, err)
		}
	}
	switch {
	case s.StartsAt.IsZero() || s.EndsAt.IsZero():
		errs = append(errs, errors.New("starts_at and ends_at are needed"))
	case !s.EndsAt.After(s.StartsAt):
		errs = append(errs, fmt.Errorf("ends_at %s is not after starts_at %s", s.EndsAt.Format(time.RFC3339), s.StartsAt.Format(time.RFC3339)))
	}
	if strings.TrimSpace(s.CreatedBy) == "" {
		errs = append(errs, errors.New("created_by: say who is silencing"))
	}
	if strings.TrimSpace(s.Comment) == "" {
		errs = append(errs, errors.New("comment: say why (a change ticket, the maintenance)"))
	}
	return errors.Join(errs...)
}

// Matches reports whether every matcher holds for the labels.
func (s Silence) Matches(labels map[string]string) bool {
	for _, m := range s.Matchers {
		if !m.matches(labels) {
			return false
		}
	}
	return len(s.Matchers) > 0
}

// AlertLabels are the labels silences match an alert snapshot on: the
// SLO's own labels, then service, slo and severity.
func AlertLabels(snap *Snapshot) map[string]string {
	out := make(map[string]string, len(snap.Labels)+3)
	for k, v := range snap.Labels {
		out[k] = v
	}
	out["service"], out["slo"], out["severity"] = snap.Service, snap.SLO, string(snap.Severity)
	return out
}

// silencedBy is the ID of an active silence matching snap ("" if none).
func silencedBy(silences []Silence, snap *Snapshot, now time.Time) string {
	if snap == nil || len(silences) == 0 {
		return ""
	}
	labels := AlertLabels(snap)
	for _, s := range silences {
		if s.State(now) == SilenceActive && s.Matches(labels) {
			return s.ID
		}
	}
	return ""
}

// Mute applies silences to one decision: it returns the notifications to
// send and updates the incidents' states in place.
//
//   - A firing, reopen, update or repeat of a silenced incident is not
//     sent; the incident remembers that it was muted (and, for a firing
//     message, that nothing was ever said about it).
//   - A resolve is sent if people were told the incident fired, so a
//     Slack thread turns green and a PagerDuty incident closes even in a
//     maintenance window; the resolve of an incident nobody heard of is not.
//   - When no silence matches an incident that is still firing and was
//     muted, one message goes out: the firing message if none was sent
//     yet, otherwise a reopen (if the reopen was muted) or a repeat, with
//     the newest numbers.
//
// Mute is pure like Step: a restart decides from stored state and silences
// exactly as a running process would.
func Mute(states map[string]AlertState, out []Notification, silences []Silence, now time.Time) []Notification {
	byIncident := map[string]string{}
	for k, st := range states {
		if st.Group && st.Incident != "" {
			byIncident[st.Incident] = k
		}
	}
	kept := out[:0]
	touched := map[string]bool{}
	for _, n := range out {
		key, ok := byIncident[n.Incident]
		if n.Alert == nil || n.Incident == "" || !ok {
			kept = append(kept, n)
			continue
		}
		st := states[key]
		if n.Kind == KindFiring && !touched[key] {
			st.Muted, st.Unannounced, st.MutedReopen, st.SilencedBy = false, false, false, "" // a new incident
		}
		touched[key] = true
		sil := silencedBy(silences, n.Alert, now)
		switch {
		case n.Kind == KindResolved:
			if !st.Unannounced {
				kept = append(kept, n)
			}
			st.Muted, st.MutedReopen, st.SilencedBy = false, false, ""
		case sil != "":
			st.Muted, st.SilencedBy = true, sil
			switch n.Kind {
			case KindFiring:
				st.Unannounced = true
			case KindReopened:
				st.MutedReopen = true
			}
		case st.Unannounced:
			// The first message people see of this incident: a firing one,
			// whatever changed while nobody was told.
			n.Kind = KindFiring
			kept = append(kept, n)
			st.Muted, st.Unannounced, st.MutedReopen, st.SilencedBy = false, false, false, ""
		default:
			kept = append(kept, n)
		}
		states[key] = st
	}
	// Silences that ended (or were expired) over incidents still firing.
	keys := make([]string, 0, len(states))
	for k, st := range states {
		if st.Muted && !touched[k] {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		st := states[k]
		if !st.Firing || st.Suppressed || st.Last == nil {
			continue
		}
		if sil := silencedBy(silences, st.Last, now); sil != "" {
			st.SilencedBy = sil
			states[k] = st
			continue
		}
		kind := KindRepeat
		switch {
		case st.Unannounced:
			kind = KindFiring
		case st.MutedReopen:
			kind = KindReopened
		}
		snap := *st.Last
		snap.Since = st.Since
		kept = append(kept, notifications(st, kind, &snap, now)...)
		st.Muted, st.Unannounced, st.MutedReopen, st.SilencedBy, st.LastNotified = false, false, false, "", now
		states[k] = st
	}
	return kept
}
