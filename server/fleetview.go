package server

import (
	"context"
	"net/http"
	"sync"
	"time"

	"stargate/energy"
	"stargate/store"
)

const (
	historyStep = 10 * time.Second
	historyLen  = 360 // an hour
)

// drawHistory keeps the last hour of site draws in a ring.
type drawHistory struct {
	mu    sync.Mutex
	times []time.Time
	draws [][]float64 // per sample, per site
	next  int         // the oldest sample once the ring is full
	last  time.Time
}

// add records the site draws at t, unless the last sample is more recent
// than half a step (a sampler and a reader may both add).
func (h *drawHistory) add(t time.Time, sites []float64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.last.IsZero() && t.Sub(h.last) < historyStep/2 {
		return
	}
	h.last = t
	row := append([]float64(nil), sites...)
	if len(h.times) < historyLen {
		h.times = append(h.times, t)
		h.draws = append(h.draws, row)
		return
	}
	h.times[h.next], h.draws[h.next] = t, row
	h.next = (h.next + 1) % historyLen
}

// report returns the samples, oldest first, named by site.
func (h *drawHistory) report(names []string) DrawHistory {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := DrawHistory{StepS: int(historyStep / time.Second), Times: []time.Time{}, Sites: map[string][]float64{}}
	for _, n := range names {
		out.Sites[n] = []float64{}
	}
	for k := range h.times {
		i := k
		if len(h.times) == historyLen {
			i = (h.next + k) % historyLen
		}
		out.Times = append(out.Times, h.times[i])
		for si, n := range names {
			out.Sites[n] = append(out.Sites[n], h.draws[i][si])
		}
	}
	return out
}

// sampleLoop records the site draws every historyStep until ctx ends.
func (s *Server) sampleLoop(ctx context.Context) {
	t := time.NewTicker(historyStep)
	defer t.Stop()
	for {
		if ps, err := s.powerNow(ctx); err == nil {
			s.history.add(s.clock.Now(), ps.site)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (s *Server) fleetReport(w http.ResponseWriter, r *http.Request, tok store.Token) error {
	if problems := unknownParams(r.URL.Query()); len(problems) > 0 {
		return badRequest(problems)
	}
	ps, err := s.powerNow(r.Context())
	if err != nil {
		return err
	}
	counts, err := s.jobCounts(r.Context())
	if err != nil {
		return err
	}
	now := s.clock.Now()
	s.history.add(now, ps.site)
	f := s.fleet
	h := energy.HourOfYear(now)
	rep := FleetReport{At: now.UTC(), Sites: make([]FleetSite, 0, len(f.Sites)), Nodes: ps.byState, Jobs: map[store.JobState]int{}}
	names := make([]string, len(f.Sites))
	for si := range f.Sites {
		st := &f.Sites[si]
		names[si] = st.Name
		fs := FleetSite{Name: st.Name, Region: f.Regions[st.Region].Name, LimitW: st.LimitW, ITLimitW: int64(float64(st.LimitW) / st.PUE),
			PUE: st.PUE, DrawW: ps.site[si], FacilityW: ps.site[si] * st.PUE, Accelerators: int(st.Accelerators), Busy: ps.busy[si], Mix: []EnergyPart{}}
		for hi := st.First; hi < st.End; hi++ {
			for ri := f.Halls[hi].First; ri < f.Halls[hi].End; ri++ {
				for ki := f.Rows[ri].First; ki < f.Rows[ri].End; ki++ {
					fs.Nodes += int(ps.nodes[ki])
				}
			}
		}
		loadMW := fs.FacilityW / 1e6
		parts := make([]float64, len(st.Energy))
		fs.UnservedMW = energy.Dispatch(st.Energy, loadMW, h, parts)
		for i, src := range st.Energy {
			if parts[i] > 0 {
				fs.Mix = append(fs.Mix, EnergyPart{Source: src.Source, MW: parts[i]})
			}
		}
		fs.PriceUSDPerMWh, fs.CarbonGPerKWh = energy.Blend(st.Energy, loadMW, h)
		served := loadMW - fs.UnservedMW
		fs.CostUSDPerHour = fs.PriceUSDPerMWh * served
		fs.EmissionsKgPerHour = fs.CarbonGPerKWh * served // g/kWh × MW = kg/h
		rep.DrawW += fs.DrawW
		rep.FacilityW += fs.FacilityW
		rep.Accelerators += fs.Accelerators
		rep.Busy += fs.Busy
		rep.CostUSDPerHour += fs.CostUSDPerHour
		rep.EmissionsKgPerHour += fs.EmissionsKgPerHour
		rep.Sites = append(rep.Sites, fs)
	}
	for _, c := range counts {
		if canSee(tok, c.Tenant) {
			rep.Jobs[c.State] += c.Jobs
		}
	}
	rep.History = s.history.report(names)
	writeJSON(w, http.StatusOK, rep)
	return nil
}
