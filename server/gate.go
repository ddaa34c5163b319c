package server

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/kakeibo-slo/kakeibo/slo"
)

// bucketOverrides holds gate overrides: service NUL action → GateOverride.
var bucketOverrides = []byte("gate_overrides")

// overrides returns the stored gate overrides (none on a standby).
func (s *Server) overrides() ([]slo.GateOverride, error) {
	if !s.active.Load() {
		return nil, nil
	}
	var out []slo.GateOverride
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketOverrides)
		if b == nil {
			return nil
		}
		return b.ForEach(func(_, v []byte) error {
			var o slo.GateOverride
			if err := json.Unmarshal(v, &o); err != nil {
				return err
			}
			out = append(out, o)
			return nil
		})
	})
	return out, err
}

func overrideKey(service, action string) []byte { return []byte(service + "\x00" + action) }

func (s *Server) putOverride(o slo.GateOverride) error {
	v, err := json.Marshal(o)
	if err != nil {
		return err
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketOverrides)
		if err != nil {
			return err
		}
		return b.Put(overrideKey(o.Service, o.Action), v)
	})
}

// gate decides for one service from the newest evaluation.
func (s *Server) gate(service, action string) (slo.GateDecision, int, error) {
	var svc *slo.Service
	for _, sv := range s.specs.Load().Services {
		if sv.Name == service {
			svc = sv
		}
	}
	if svc == nil {
		return slo.GateDecision{}, http.StatusNotFound, errors.New("no service " + service + " in the specs")
	}
	snap := s.latest.Load()
	if snap == nil {
		return slo.GateDecision{}, http.StatusServiceUnavailable, errors.New("no evaluation yet")
	}
	ovs, err := s.overrides()
	if err != nil {
		return slo.GateDecision{}, http.StatusInternalServerError, err
	}
	return slo.Gate(svc, snap.report.SLOs, action, ovs, s.cfg.Now()), http.StatusOK, nil
}

// apiGate answers whether an action (?action=, default deploy) of a
// service may go ahead: 200 with the decision (open or not) when it could
// decide.
func (s *Server) apiGate(w http.ResponseWriter, r *http.Request) {
	action := r.URL.Query().Get("action")
	if action == "" {
		action = "deploy"
	}
	d, code, err := s.gate(r.PathValue("service"), action)
	if err != nil {
		writeJSON(w, code, map[string]string{"error": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, d)
}

// apiOverride records an override: {"action", "created_by", "reason",
// "until"} (RFC 3339) or "for" (a duration such as 4h).
func (s *Server) apiOverride(w http.ResponseWriter, r *http.Request) {
	if !s.writeAllowed(w, r) || s.activeStore(w) == nil {
		return
	}
	var in struct {
		slo.GateOverride
		For string `json:"for"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, maxSilenceBody)).Decode(&in); err != nil {
		http.Error(w, "override: "+err.Error(), http.StatusBadRequest)
		return
	}
	o := in.GateOverride
	o.Service, o.CreatedAt = r.PathValue("service"), s.cfg.Now()
	if o.Action == "" {
		o.Action = "deploy"
	}
	if in.For != "" {
		d, err := time.ParseDuration(in.For)
		if err != nil || d <= 0 {
			http.Error(w, "override: for: want a duration such as 4h", http.StatusBadRequest)
			return
		}
		o.Until = o.CreatedAt.Add(d)
	}
	var problems []string
	if strings.TrimSpace(o.CreatedBy) == "" {
		problems = append(problems, "created_by: say who overrides the policy")
	}
	if strings.TrimSpace(o.Reason) == "" {
		problems = append(problems, "reason: say why (the fix being deployed, an incident)")
	}
	if !o.Until.After(o.CreatedAt) {
		problems = append(problems, "until (or for): the override needs an end in the future")
	}
	if _, code, err := s.gate(o.Service, o.Action); code == http.StatusNotFound {
		problems = append(problems, err.Error())
	}
	if len(problems) > 0 {
		http.Error(w, "override: "+strings.Join(problems, "; "), http.StatusBadRequest)
		return
	}
	if err := s.putOverride(o); err != nil {
		http.Error(w, "store the override: "+err.Error(), http.StatusInternalServerError)
		return
	}
	s.log.Info("error budget policy overridden", "service", o.Service, "action", o.Action, "until", o.Until, "created_by", o.CreatedBy, "reason", o.Reason)
	writeJSON(w, http.StatusOK, o)
}

// frozenServices lists, for the status page, the services whose deploys
// the policy stops now, and the overrides in force.
func (s *Server) frozenServices() (frozen []slo.GateDecision, overridden []slo.GateDecision) {
	snap := s.latest.Load()
	if snap == nil {
		return nil, nil
	}
	ovs, _ := s.overrides()
	for _, svc := range s.specs.Load().Services {
		if svc.Policy == nil {
			continue
		}
		d := slo.Gate(svc, snap.report.SLOs, "deploy", ovs, s.cfg.Now())
		switch {
		case d.Override != nil:
			overridden = append(overridden, d)
		case !d.Open:
			frozen = append(frozen, d)
		}
	}
	return frozen, overridden
}
