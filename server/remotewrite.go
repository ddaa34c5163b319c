package server

import (
	"context"
	"time"

	"github.com/kakeibo-slo/kakeibo/sources/alb"
	"github.com/kakeibo-slo/kakeibo/sources/alb/remotewrite"
)

// RemoteWrite configures writing the ALB SLOs' exact counts to a
// Prometheus remote-write receiver (see sources/alb/remotewrite).
type RemoteWrite struct {
	URL string
	// Headers go with every request (X-Scope-OrgID, Authorization).
	Headers map[string]string
}

// remoteWriteLoop writes what became complete after every ingest pass,
// and at least every IngestInterval: as many requests as needed to catch
// up, then waits. A failing receiver is tried again with a backoff up to a
// minute; nothing advances meanwhile, so nothing is lost.
func (s *Server) remoteWriteLoop(ctx context.Context) {
	if s.cfg.RemoteWrite.URL == "" || s.source == nil {
		<-ctx.Done()
		return
	}
	store, ok := s.albDB.(*alb.BoltStore)
	if !ok {
		s.log.Error("remote write needs the bbolt store")
		<-ctx.Done()
		return
	}
	w, err := remotewrite.New(remotewrite.Config{URL: s.cfg.RemoteWrite.URL, Headers: s.cfg.RemoteWrite.Headers, Shard: s.cfg.Shard,
		DB: s.db, Store: store, Logger: s.log.With("component", "remote write")})
	if err != nil {
		s.log.Error("remote write", "err", err)
		<-ctx.Done()
		return
	}
	backoff := time.Duration(0)
	for {
		wait := s.cfg.IngestInterval
		if s.caughtUp.Load() {
			err := s.remoteWriteOnce(ctx, w)
			switch {
			case err != nil && ctx.Err() == nil:
				backoff = min(max(2*backoff, time.Second), time.Minute)
				wait = backoff
				s.m.remoteWriteErrors.Inc()
				s.log.Warn("remote write failed; trying again", "in", backoff.String(), "err", s.redact(err.Error()))
			case err == nil:
				backoff = 0
			}
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-s.ingestedRW:
			t.Stop()
		case <-t.C:
		}
	}
}

// remoteWriteOnce writes until caught up.
func (s *Server) remoteWriteOnce(ctx context.Context, w *remotewrite.Writer) error {
	pending := s.pendingSLIs()
	counted, err := s.albDB.CountedSLIs()
	if err != nil {
		return err
	}
	var slos []remotewrite.SLO
	for _, o := range s.specs.Load().Objectives() {
		if o.SLI.ALB == nil || pending[o.ID()] || !counted[o.ID()] || !s.owns(o.SLI.ALB.LoadBalancer) {
			continue
		}
		wm, ok, err := s.albDB.Watermark(o.SLI.ALB.LoadBalancer)
		if err != nil || !ok {
			continue
		}
		at := alb.MinuteTime(wm + 1)
		slos = append(slos, remotewrite.SLO{ID: o.ID(), Service: o.Service, Name: o.Name, LoadBalancer: o.SLI.ALB.LoadBalancer,
			Since: at.Add(-alb.Lookback(o, at)).Unix() / 60})
	}
	for range 10000 {
		st, err := w.Step(ctx, slos)
		s.m.remoteWriteSamples.WithLabelValues("sent").Add(float64(st.Samples))
		s.m.remoteWriteSamples.WithLabelValues("rejected").Add(float64(st.Rejected))
		s.m.remoteWriteLate.Add(float64(st.Late))
		if err != nil {
			return err
		}
		if st.Requests > 0 {
			s.m.remoteWriteLast.SetToCurrentTime()
		}
		if !st.Behind {
			return nil
		}
	}
	return nil
}

// owns says whether this process counts a load balancer's logs: every one,
// unless it is a shard given its load balancers.
func (s *Server) owns(lb string) bool {
	if len(s.cfg.ShardLoadBalancers) == 0 {
		return true
	}
	for _, x := range s.cfg.ShardLoadBalancers {
		if x == lb {
			return true
		}
	}
	return false
}

func (s *Server) redact(msg string) string {
	if s.cfg.Redact != nil {
		return s.cfg.Redact(msg)
	}
	return msg
}
