package server

import (
	"context"
	"sync"
	"time"

	"stargate/energy"
	"stargate/fleet"
	"stargate/store"
)

// The energy meter attributes what each heartbeat's telemetry says a
// node's accelerators drew since the node's previous heartbeat to the
// jobs that ran on them, attempt by attempt:
//
//   - from the devices' energy counters where both readings have one and
//     it did not go back ("counter");
//   - else from their power readings, the mean of the two ends times the
//     interval ("power");
//   - else, for a node that reports no readings, from the fleet's power
//     model at the job's power fraction ("model").
//
// The facility's share (times the site's PUE) is priced at the site's
// energy mix of the hour the heartbeat came in. Accounts are kept in
// memory and added to the store every meterFlush: a crash loses at most
// that much accounting, and a restarted server starts again from each
// node's next heartbeat (the interval across the restart is not counted).

// meterFlush is how often accounts go to the store.
const meterFlush = 5 * time.Second

// maxMeterGap bounds the interval between two heartbeats the meter counts:
// across a longer silence it does not guess.
const maxMeterGap = 2 * time.Minute

type energyMeter struct {
	mu   sync.Mutex
	last map[string]nodeSample // by node: its previous heartbeat
	buf  map[energyKey]*store.JobEnergy
}

type nodeSample struct {
	at       time.Time
	readings map[int]AcceleratorReading // by index
}

type energyKey struct {
	job     string
	attempt int
}

// meter records a heartbeat's readings of node i and attributes the
// interval since its previous one to the jobs running there.
func (s *Server) meter(ctx context.Context, i int, node string, now time.Time, readings []AcceleratorReading, jobs []store.Job) {
	cur := nodeSample{at: now, readings: make(map[int]AcceleratorReading, len(readings))}
	for _, r := range readings {
		cur.readings[r.Index] = r
	}
	m := &s.energy
	m.mu.Lock()
	if m.last == nil {
		m.last, m.buf = map[string]nodeSample{}, map[energyKey]*store.JobEnergy{}
	}
	prev, ok := m.last[node]
	m.last[node] = cur
	m.mu.Unlock()
	dt := now.Sub(prev.at).Seconds()
	if !ok || dt <= 0 || dt > maxMeterGap.Seconds() || len(jobs) == 0 {
		return
	}
	f := s.fleet
	site := &f.Sites[f.Path(i)[fleet.LevelSite]]
	price, carbon := s.mixNow(ctx, site, now)
	acc := f.NodeAccelerator(i)
	var records []store.JobEnergy
	for _, j := range jobs {
		e := store.JobEnergy{Job: j.ID, Attempt: j.Attempts, Site: site.Name, Samples: 1}
		for _, a := range j.Placement {
			if a.Node != node {
				continue
			}
			for _, idx := range a.Accelerators {
				joules, source := intervalEnergy(prev.readings, cur.readings, idx, dt, acc, j.Spec.Power)
				e.EnergyJ += joules
				e.AcceleratorS += dt
				switch {
				case e.Source == "":
					e.Source = source
				case e.Source != source:
					e.Source = store.EnergyMixed
				}
			}
		}
		if e.Source == "" {
			continue
		}
		e.FacilityJ = e.EnergyJ * site.PUE
		e.CostUSD = e.FacilityJ / 3.6e9 * price // USD/MWh
		e.CO2g = e.FacilityJ / 3.6e6 * carbon   // g/kWh
		records = append(records, e)
	}
	m.mu.Lock()
	for _, e := range records {
		k := energyKey{e.Job, e.Attempt}
		if b := m.buf[k]; b != nil {
			addEnergy(b, e)
		} else {
			m.buf[k] = &e
		}
	}
	m.mu.Unlock()
}

// intervalEnergy is the energy of one accelerator over an interval of dt
// seconds between two heartbeats, and where it came from.
func intervalEnergy(prev, cur map[int]AcceleratorReading, idx int, dt float64, acc *fleet.Accelerator, power float64) (float64, string) {
	p, hadPrev := prev[idx]
	c, hasCur := cur[idx]
	switch {
	case hasCur && hadPrev && c.EnergyJ > 0 && c.EnergyJ >= p.EnergyJ:
		return c.EnergyJ - p.EnergyJ, store.EnergyCounter
	case hasCur && hadPrev:
		return (p.PowerW + c.PowerW) / 2 * dt, store.EnergyPower
	case hasCur:
		return c.PowerW * dt, store.EnergyPower
	}
	if power <= 0 {
		power = 1
	}
	return (acc.IdleW + power*(acc.TDPW-acc.IdleW)) * dt, store.EnergyModel
}

// mixNow is a site's blended energy price (USD/MWh) and carbon intensity
// (g/kWh) at its present draw in the hour of now.
func (s *Server) mixNow(ctx context.Context, site *fleet.Site, now time.Time) (price, carbon float64) {
	loadMW := -1.0 // unknown: blend by the shares alone
	if ps, err := s.powerNow(ctx); err == nil {
		for si := range s.fleet.Sites {
			if &s.fleet.Sites[si] == site {
				loadMW = ps.site[si] * site.PUE / 1e6
			}
		}
	}
	return energy.Blend(site.Energy, loadMW, energy.HourOfYear(now))
}

// addEnergy adds record e to the account a.
func addEnergy(a *store.JobEnergy, e store.JobEnergy) {
	a.EnergyJ += e.EnergyJ
	a.FacilityJ += e.FacilityJ
	a.AcceleratorS += e.AcceleratorS
	a.CostUSD += e.CostUSD
	a.CO2g += e.CO2g
	a.Samples += e.Samples
	if a.Source != e.Source {
		a.Source = store.EnergyMixed
	}
}

// flushEnergy adds the kept accounts to the store; on failure they are
// kept for the next flush.
func (s *Server) flushEnergy(ctx context.Context) error {
	m := &s.energy
	m.mu.Lock()
	buf := m.buf
	m.buf = map[energyKey]*store.JobEnergy{}
	m.mu.Unlock()
	if len(buf) == 0 {
		return nil
	}
	records := make([]store.JobEnergy, 0, len(buf))
	for _, e := range buf {
		records = append(records, *e)
	}
	err := s.store.AddEnergy(ctx, records)
	if err != nil {
		m.mu.Lock()
		for k, e := range buf {
			if b := m.buf[k]; b != nil {
				addEnergy(b, *e)
			} else {
				m.buf[k] = e
			}
		}
		m.mu.Unlock()
	}
	return err
}

// meterLoop flushes the accounts every meterFlush, and once more when ctx
// ends.
func (s *Server) meterLoop(ctx context.Context) {
	t := time.NewTicker(meterFlush)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			if err := s.flushEnergy(fctx); err != nil {
				s.log.Warn("energy accounts not stored at shutdown", "err", err)
			}
			cancel()
			return
		case <-t.C:
			if err := s.flushEnergy(ctx); err != nil {
				s.log.Warn("energy accounts not stored; kept for the next try", "err", err)
			}
		}
	}
}
