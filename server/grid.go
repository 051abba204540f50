package server

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"time"

	"stargate/api"
	"stargate/store"
)

// Grid events are a grid operator's calls to cut a site's or a region's
// draw (POST /v1/grid-events, by admins, operators, or a utility's signal
// with a token of role grid). They are kept in the store, so that a
// restart or a failover keeps them, and the reconcile loop moves them
// through their states: scheduled, active from their start (recording the
// scope's draw then), ended after their duration, or cancelled. Each pass
// gives the scheduler the events in force or announced, to plan the shed.

// Bounds of a grid event.
const (
	maxGridDuration = 7 * 24 * time.Hour
	maxGridNotice   = 7 * 24 * time.Hour
)

func (s *Server) createGridEvent(w http.ResponseWriter, r *http.Request, tok store.Token) error {
	body, err := readBody(w, r, 64<<10)
	if err != nil {
		return err
	}
	var req GridEventRequest
	if ps := decodeStrict(body, &req); len(ps) > 0 {
		return badRequest(ps)
	}
	now := s.clock.Now().UTC()
	e, problems := s.checkGridEvent(req, now)
	if len(problems) > 0 {
		return badRequest(problems)
	}
	e.ID = "g" + randomString(8)
	e.State, e.CreatedAt, e.CreatedBy = store.GridScheduled, now, string(tok.Role)+" token "+tok.ID
	if err := s.store.CreateGridEvent(r.Context(), e); err != nil {
		return err
	}
	e.Version = 1
	s.journalGrid(r.Context(), "grid-event", e, fmt.Sprintf("%s cut of %s %s from %s for %s, by %s",
		e.Kind, e.ScopeKind, e.Scope, e.Start.Format(time.RFC3339), time.Duration(e.DurationS)*time.Second, e.CreatedBy))
	writeJSON(w, http.StatusCreated, e)
	return nil
}

// checkGridEvent validates a request and makes the event it asks for.
func (s *Server) checkGridEvent(req GridEventRequest, now time.Time) (api.GridEvent, []Problem) {
	var ps []Problem
	bad := func(field, format string, args ...any) {
		ps = append(ps, Problem{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	e := api.GridEvent{Scope: req.Scope, ScopeKind: req.ScopeKind, DurationS: req.DurationS, NoticeS: req.NoticeS,
		TargetMW: req.TargetMW, TargetFraction: req.TargetFraction, Kind: req.Kind, PriceUSDPerMWh: req.PriceUSDPerMWh}
	site, region := s.siteIndex(req.Scope), s.regionIndex(req.Scope)
	switch {
	case req.Scope == "":
		bad("scope", "name a site or a region of the fleet")
	case req.ScopeKind == "" && site >= 0:
		e.ScopeKind = "site"
	case req.ScopeKind == "" && region >= 0:
		e.ScopeKind = "region"
	case req.ScopeKind == "site" && site >= 0, req.ScopeKind == "region" && region >= 0:
	case req.ScopeKind != "" && req.ScopeKind != "site" && req.ScopeKind != "region":
		bad("scope_kind", "must be site or region")
	default:
		bad("scope", "no site or region %q in the fleet", req.Scope)
	}
	if req.DurationS <= 0 || time.Duration(req.DurationS) > maxGridDuration/time.Second {
		bad("duration_s", "must be between 1 and %d seconds (7 days)", int64(maxGridDuration/time.Second))
	}
	if req.NoticeS < 0 || time.Duration(req.NoticeS) > maxGridNotice/time.Second {
		bad("notice_s", "must be between 0 and %d seconds (7 days)", int64(maxGridNotice/time.Second))
	}
	switch {
	case (req.TargetMW != 0) == (req.TargetFraction != 0):
		bad("target_mw", "give target_mw or target_fraction, one of them")
	case req.TargetMW != 0 && !(req.TargetMW > 0 && req.TargetMW < 1e6):
		bad("target_mw", "must be a number of MW > 0")
	case req.TargetFraction != 0 && !(req.TargetFraction > 0 && req.TargetFraction < 1):
		bad("target_fraction", "must be between 0 and 1 (0.75 keeps three quarters of the draw)")
	}
	switch e.Kind {
	case "":
		e.Kind = store.GridMandatory
	case store.GridMandatory, store.GridVoluntary:
	default:
		bad("kind", "must be mandatory or voluntary")
	}
	if math.IsNaN(req.PriceUSDPerMWh) || req.PriceUSDPerMWh < 0 || req.PriceUSDPerMWh > 1e6 {
		bad("price_usd_mwh", "must be a price from 0 to 1,000,000 USD/MWh")
	}
	e.Start = req.Start.UTC()
	if req.Start.IsZero() {
		e.Start = now.Add(time.Duration(req.NoticeS) * time.Second)
	} else if req.Start.Before(now.Add(-time.Hour)) || req.Start.After(now.Add(365*24*time.Hour)) {
		bad("start", "must be within the next year (or the last hour)")
	}
	return e, ps
}

func (s *Server) siteIndex(name string) int {
	for i := range s.fleet.Sites {
		if s.fleet.Sites[i].Name == name {
			return i
		}
	}
	return -1
}

func (s *Server) regionIndex(name string) int {
	for i := range s.fleet.Regions {
		if s.fleet.Regions[i].Name == name {
			return i
		}
	}
	return -1
}

func (s *Server) listGridEvents(w http.ResponseWriter, r *http.Request, _ store.Token) error {
	q := r.URL.Query()
	var problems []Problem
	states := splitList(q["state"])
	for _, st := range states {
		switch st {
		case store.GridScheduled, store.GridActive, store.GridEnded, store.GridCancelled:
		default:
			problems = append(problems, Problem{Field: "state", Message: "must be scheduled, active, ended or cancelled"})
		}
	}
	problems = append(problems, unknownParams(q, "state")...)
	if len(problems) > 0 {
		return badRequest(problems)
	}
	evs, err := s.store.GridEvents(r.Context(), states...)
	if err != nil {
		return err
	}
	if evs == nil {
		evs = []api.GridEvent{}
	}
	writeJSON(w, http.StatusOK, GridEventList{Events: evs})
	return nil
}

// gridEvent finds one event by ID, or a 404.
func (s *Server) gridEvent(ctx context.Context, id string) (api.GridEvent, error) {
	evs, err := s.store.GridEvents(ctx)
	if err != nil {
		return api.GridEvent{}, err
	}
	for _, e := range evs {
		if e.ID == id {
			return e, nil
		}
	}
	return api.GridEvent{}, errorf(http.StatusNotFound, "no grid event %s", id)
}

func (s *Server) getGridEvent(w http.ResponseWriter, r *http.Request, _ store.Token) error {
	e, err := s.gridEvent(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, e)
	return nil
}

// cancelGridEvent ends an event early: the shed lifts, within the ramp
// limits. Cancelling an ended or cancelled event changes nothing.
func (s *Server) cancelGridEvent(w http.ResponseWriter, r *http.Request, tok store.Token) error {
	for attempt := 0; ; attempt++ {
		e, err := s.gridEvent(r.Context(), r.PathValue("id"))
		if err != nil {
			return err
		}
		if e.State == store.GridEnded || e.State == store.GridCancelled {
			writeJSON(w, http.StatusOK, e)
			return nil
		}
		e.State = store.GridCancelled
		err = s.store.UpdateGridEvent(r.Context(), e)
		if errors.Is(err, store.ErrConflict) && attempt < 5 {
			continue
		}
		if err != nil {
			return err
		}
		e.Version++
		s.journalGrid(r.Context(), "grid-event-cancelled", e, "cancelled by "+string(tok.Role)+" token "+tok.ID)
		writeJSON(w, http.StatusOK, e)
		return nil
	}
}

// advanceGridEvents moves events through their states at now: a
// scheduled one becomes active at its start, recording its scope's draw
// then; an active one ends after its duration. It returns the events in
// force or announced (for the scheduler to plan with).
func (s *Server) advanceGridEvents(ctx context.Context, now time.Time) ([]api.GridEvent, error) {
	evs, err := s.store.GridEvents(ctx, store.GridScheduled, store.GridActive)
	if err != nil || len(evs) == 0 {
		return nil, err
	}
	out := evs[:0]
	for _, e := range evs {
		next := e
		switch {
		case e.State == store.GridScheduled && !now.Before(e.Start):
			next.State = store.GridActive
			next.BaselineMW = s.scopeFacilityMW(ctx, e)
		case e.State == store.GridActive && !now.Before(e.End()):
			next.State = store.GridEnded
		}
		if next.State != e.State {
			if next.State == store.GridActive && !now.Before(e.End()) {
				next.State = store.GridEnded // it began and ended between two passes
			}
			if err := s.store.UpdateGridEvent(ctx, next); err != nil {
				return nil, err
			}
			next.Version++
			s.journalGrid(ctx, "grid-event-"+next.State, next, fmt.Sprintf("%s %s %s: baseline %.2f MW, target %.2f MW",
				next.State, next.ScopeKind, next.Scope, next.BaselineMW, GridTargetMW(next)))
		}
		if next.State == store.GridScheduled || next.State == store.GridActive {
			out = append(out, next)
		}
	}
	return out, nil
}

// GridTargetMW is the most an event lets its scope draw at the facility
// (0 for a fractional target before its start, when no baseline exists).
func GridTargetMW(e api.GridEvent) float64 {
	if e.TargetMW > 0 {
		return e.TargetMW
	}
	return e.TargetFraction * e.BaselineMW
}

// scopeFacilityMW is the draw of an event's scope at the facility now.
func (s *Server) scopeFacilityMW(ctx context.Context, e api.GridEvent) float64 {
	ps, err := s.powerNow(ctx)
	if err != nil {
		return 0
	}
	f := s.fleet
	mw := 0.0
	for si := range f.Sites {
		st := &f.Sites[si]
		if (e.ScopeKind == "site" && st.Name == e.Scope) || (e.ScopeKind == "region" && f.Regions[st.Region].Name == e.Scope) {
			mw += ps.site[si] * st.PUE / 1e6
		}
	}
	return mw
}

// journalGrid records a grid event's change in the journal.
func (s *Server) journalGrid(ctx context.Context, kind string, e api.GridEvent, msg string) {
	if err := s.store.Apply(ctx, store.Changes{Events: []store.Event{{Time: s.clock.Now().UTC(), Kind: kind, Message: e.ID + ": " + msg}}}); err != nil {
		s.log.Warn("journal: grid event not recorded", "event", e.ID, "err", err)
	}
}
