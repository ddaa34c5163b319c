package server

import (
	"crypto/subtle"
	"encoding/json"
	"io"
	"net/http"
	"strings"

	"github.com/kakeibo-slo/kakeibo/alerting"
	"github.com/kakeibo-slo/kakeibo/slo"
)

// maxSilenceBody caps what a silence request may send.
const maxSilenceBody = 64 << 10

// apiSilence is a silence as the API shows it: with its state at the time
// of the answer.
type apiSilence struct {
	alerting.Silence
	State string `json:"state"`
}

// writeAllowed checks the bearer token of a request that changes
// something. Without KAKEIBO_API_TOKEN, writes are off: an open write API
// would let anyone mute pages.
func (s *Server) writeAllowed(w http.ResponseWriter, r *http.Request) bool {
	if s.cfg.APIToken == "" {
		http.Error(w, "writes are disabled: start kakeibo with KAKEIBO_API_TOKEN set, and send it as Authorization: Bearer", http.StatusForbidden)
		return false
	}
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(s.cfg.APIToken)) != 1 {
		w.Header().Set("WWW-Authenticate", `Bearer realm="kakeibo"`)
		http.Error(w, "unauthorized: send Authorization: Bearer with the KAKEIBO_API_TOKEN the service runs with", http.StatusUnauthorized)
		return false
	}
	return true
}

// activeStore is the alert store, or a 503 on a standby (it has not opened
// the database; the active instance answers).
func (s *Server) activeStore(w http.ResponseWriter) *alerting.Store {
	if !s.active.Load() {
		http.Error(w, "standby: silences are kept by the active instance ("+orUnknown(s.lockOwner)+")", http.StatusServiceUnavailable)
		return nil
	}
	return s.alerts
}

func (s *Server) apiSilences(w http.ResponseWriter, _ *http.Request) {
	st := s.activeStore(w)
	if st == nil {
		return
	}
	sils, err := st.Silences()
	if err != nil {
		http.Error(w, "read silences: "+err.Error(), http.StatusInternalServerError)
		return
	}
	now := s.cfg.Now()
	out := make([]apiSilence, 0, len(sils))
	for _, sil := range sils {
		out = append(out, apiSilence{Silence: sil, State: sil.State(now)})
	}
	writeJSON(w, http.StatusOK, out)
}

// apiAddSilence creates a silence, or changes one when the body names an
// existing ID. starts_at defaults to now.
func (s *Server) apiAddSilence(w http.ResponseWriter, r *http.Request) {
	if !s.writeAllowed(w, r) {
		return
	}
	st := s.activeStore(w)
	if st == nil {
		return
	}
	var sil alerting.Silence
	dec := json.NewDecoder(io.LimitReader(r.Body, maxSilenceBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&sil); err != nil {
		http.Error(w, "silence: "+err.Error(), http.StatusBadRequest)
		return
	}
	now := s.cfg.Now()
	if sil.StartsAt.IsZero() {
		sil.StartsAt = now
	}
	if err := sil.Validate(); err != nil {
		http.Error(w, "silence: "+strings.ReplaceAll(err.Error(), "\n", "; "), http.StatusBadRequest)
		return
	}
	if !sil.EndsAt.After(now) {
		http.Error(w, "silence: ends_at is in the past", http.StatusBadRequest)
		return
	}
	if sil.ID == "" {
		sil.ID = alerting.NewUID()
	} else if _, ok := s.findSilence(w, st, sil.ID); !ok {
		return
	}
	sil.CreatedAt = now
	if err := st.PutSilence(sil, now); err != nil {
		http.Error(w, "store the silence: "+err.Error(), http.StatusInternalServerError)
		return
	}
	s.log.Info("silence added", "silence", sil.ID, "matchers", matcherText(sil.Matchers), "starts_at", sil.StartsAt, "ends_at", sil.EndsAt, "created_by", sil.CreatedBy, "comment", sil.Comment)
	writeJSON(w, http.StatusOK, map[string]string{"id": sil.ID})
}

// apiExpireSilence ends a silence now (a pending one never starts).
func (s *Server) apiExpireSilence(w http.ResponseWriter, r *http.Request) {
	if !s.writeAllowed(w, r) {
		return
	}
	st := s.activeStore(w)
	if st == nil {
		return
	}
	sil, ok := s.findSilence(w, st, r.PathValue("id"))
	if !ok {
		return
	}
	now := s.cfg.Now()
	if sil.State(now) == alerting.SilenceExpired {
		writeJSON(w, http.StatusOK, apiSilence{Silence: sil, State: alerting.SilenceExpired})
		return
	}
	if sil.StartsAt.After(now) {
		sil.StartsAt = now
	}
	sil.EndsAt = now
	if err := st.PutSilence(sil, now); err != nil {
		http.Error(w, "store the silence: "+err.Error(), http.StatusInternalServerError)
		return
	}
	s.log.Info("silence expired", "silence", sil.ID, "matchers", matcherText(sil.Matchers))
	writeJSON(w, http.StatusOK, apiSilence{Silence: sil, State: alerting.SilenceExpired})
}

func (s *Server) findSilence(w http.ResponseWriter, st *alerting.Store, id string) (alerting.Silence, bool) {
	sils, err := st.Silences()
	if err != nil {
		http.Error(w, "read silences: "+err.Error(), http.StatusInternalServerError)
		return alerting.Silence{}, false
	}
	for _, sil := range sils {
		if sil.ID == id {
			return sil, true
		}
	}
	http.Error(w, "no silence "+id, http.StatusNotFound)
	return alerting.Silence{}, false
}

// pageSilence is a silence on the status and SLO pages.
type pageSilence struct {
	alerting.Silence
	State    string
	Matchers string
}

// silencesFor lists the silences that are pending or active, those that
// match any alert of o when o is set.
func (s *Server) silencesFor(o *slo.Objective) []pageSilence {
	if !s.active.Load() {
		return nil
	}
	sils, err := s.alerts.Silences()
	if err != nil {
		s.log.Warn("read silences", "err", err)
		return nil
	}
	now := s.cfg.Now()
	var out []pageSilence
	for _, sil := range sils {
		state := sil.State(now)
		if state == alerting.SilenceExpired {
			continue
		}
		if o != nil && !silencesObjective(sil, o) {
			continue
		}
		out = append(out, pageSilence{Silence: sil, State: state, Matchers: matcherText(sil.Matchers)})
	}
	return out
}

// silencesObjective reports whether the silence mutes any alert of o (its
// page or its tickets).
func silencesObjective(sil alerting.Silence, o *slo.Objective) bool {
	for _, sev := range []slo.Severity{slo.Page, slo.Ticket} {
		if sil.Matches(alerting.AlertLabels(&alerting.Snapshot{Service: o.Service, SLO: o.Name, Severity: sev, Labels: o.Labels})) {
			return true
		}
	}
	return false
}

func matcherText(ms []alerting.Matcher) string {
	parts := make([]string, len(ms))
	for i, m := range ms {
		parts[i] = m.String()
	}
	return strings.Join(parts, " ")
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v) // an error here is a client that went away
}
