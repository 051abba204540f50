package sim

import (
	"math"
	"strings"
	"testing"
	"time"

	"stargate/engine"
	"stargate/fleet"
	"stargate/trace"
)

// The hottest domains recounted by hand on oneJobOnARow's 9 kW row: the
// DGX H100 job peaks at 9,176 W (2,560 W idle + 8 × 827 W) in every domain
// above it from the first sample, at 0 s; by the next, a minute later, the
// controller has capped it to 350 W an accelerator, 6,880 W in all.
func TestHottestByHand(t *testing.T) {
	r := oneJobOnARow(t, 9)
	if len(r.Series) < 2 || r.Series[1].T != 60 {
		t.Fatalf("want samples at 0 and 60 s, got %d", len(r.Series))
	}
	limits := map[string]float64{"site": 1000, "hall": 500, "row": 9, "rack": 45}
	for k, wantKW := range []float64{9.176, 6.880} {
		p := r.Series[k]
		for li, l := range r.Levels {
			h := p.Hottest[li]
			if math.Abs(h.KW-wantKW) > 1e-9 || h.LimitKW != limits[l.Level] || math.Abs(h.Ratio-wantKW/limits[l.Level]) > 1e-12 {
				t.Errorf("%.0f s, %s: hottest %q at %.3f kW of %.0f kW (ratio %.4f), want %.3f kW of %.0f kW",
					p.T, l.Level, h.Name, h.KW, h.LimitKW, h.Ratio, wantKW, limits[l.Level])
			}
			if !strings.HasSuffix(h.Name, l.PeakDomain) || h.Name == "" {
				t.Errorf("%s: hottest %q, the run's peak at %q", l.Level, h.Name, l.PeakDomain)
			}
		}
	}
	if p := r.Series[1]; p.CappedJobs != 1 || p.CappedAccelerators != 8 {
		t.Errorf("at 60 s: %d jobs and %d accelerators capped, want 1 and 8", p.CappedJobs, p.CappedAccelerators)
	}
	if p := r.Series[0]; p.CappedJobs != 0 {
		t.Errorf("at 0 s: %d jobs capped before the reaction delay", p.CappedJobs)
	}
}

// twoSites is two sites of one row of DGX H100 each, fed by one source
// each, of known intensity and price.
func twoSites(t testing.TB) *fleet.Fleet {
	t.Helper()
	f, err := fleet.Parse(strings.NewReader(`
regions:
  - name: r
    sites:
      - name: north
        substation_mw: 2
        pue: 1.25
        energy: [{source: nuclear, share: 1, price_usd_mwh: 70, carbon_g_kwh: 12}]
        halls: [{limit_kw: 1000, rows: [{limit_kw: 500, racks: [{count: 4, limit_kw: 45, nodes: [{model: dgx-h100, count: 4}]}]}]}]
      - name: south
        substation_mw: 2
        pue: 1.5
        energy: [{source: gas, share: 1, price_usd_mwh: 45, carbon_g_kwh: 490}]
        halls: [{limit_kw: 1000, rows: [{limit_kw: 500, racks: [{count: 2, limit_kw: 45, nodes: [{model: dgx-h100, count: 4}]}]}]}]
`))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// What the samples say adds up, recounted from the jobs rather than read
// back from the bookkeeping: every sample's accelerators per site and per
// tenant sum to the fleet's allocated ones; tenants beyond the bound are
// one group; what the tenants held adds up to what was allocated; each
// site's intensity and price are its only source's; failures and
// preemptions only grow.
func TestSeriesAddUp(t *testing.T) {
	f := twoSites(t)
	syn := trace.DefaultSynthetic()
	syn.Jobs, syn.Span, syn.Tenants = 400, 4*3600, MaxTenantGroups+4
	syn.Sizes = []trace.Size{{Accelerators: 1, Weight: 4}, {Accelerators: 8, Weight: 3}, {Accelerators: 32, Weight: 1}}
	g, err := trace.NewGenerator(syn)
	if err != nil {
		t.Fatal(err)
	}
	jobs := g.All()
	cfg := Default()
	cfg.Engine = engine.Config{Queue: "fair", Preemption: true}
	cfg.Failures, cfg.MTBF = true, 100*time.Hour // a failure every half hour over 192 accelerators
	s, err := New(f, jobs, cfg)
	if err != nil {
		t.Fatal(err)
	}
	r := s.Run()

	if len(r.Tenants) != MaxTenantGroups || r.Tenants[MaxTenantGroups-1].Name != Others {
		t.Fatalf("tenants: %+v, want %d groups ending with %q", r.Tenants, MaxTenantGroups, Others)
	}
	demand := map[string]float64{}
	for _, j := range jobs {
		demand[j.Tenant] += j.GPUSeconds() / 3600
	}
	var held, others float64
	followed := map[string]bool{}
	for i, tr := range r.Tenants {
		held += tr.HeldGPUHours
		if tr.Name == Others {
			continue
		}
		followed[tr.Name] = true
		if math.Abs(tr.DemandGPUHours-demand[tr.Name]) > 1e-6 {
			t.Errorf("%s: demand %.3f GPU-h, its jobs ask %.3f", tr.Name, tr.DemandGPUHours, demand[tr.Name])
		}
		if i > 0 && tr.DemandGPUHours > r.Tenants[i-1].DemandGPUHours {
			t.Errorf("%s asks more than %s before it", tr.Name, r.Tenants[i-1].Name)
		}
	}
	for name, d := range demand {
		if !followed[name] {
			others += d
			if d > r.Tenants[MaxTenantGroups-2].DemandGPUHours {
				t.Errorf("%s asks %.1f GPU-h, more than the last tenant followed, yet is among the others", name, d)
			}
		}
	}
	if o := r.Tenants[MaxTenantGroups-1]; math.Abs(o.DemandGPUHours-others) > 1e-6 || o.Tenants != len(demand)-(MaxTenantGroups-1) {
		t.Errorf("others: %d tenants asking %.3f GPU-h, want %d asking %.3f", o.Tenants, o.DemandGPUHours, len(demand)-(MaxTenantGroups-1), others)
	}
	if math.Abs(held-r.AllocatedGPUHours) > 1e-6*r.AllocatedGPUHours {
		t.Errorf("tenants held %.6f GPU-h, the fleet allocated %.6f", held, r.AllocatedGPUHours)
	}

	siteAccels := []int{128, 64}
	prev := Sample{}
	for _, p := range r.Series {
		allocated := int(math.Round(p.Utilization * float64(r.Accelerators)))
		bySite, byTenant := 0.0, 0
		for si, u := range p.SiteUtilization {
			bySite += u * float64(siteAccels[si])
		}
		for _, n := range p.TenantAccelerators {
			byTenant += n
		}
		if math.Round(bySite) != float64(allocated) || byTenant != allocated {
			t.Fatalf("%.0f s: %d allocated, %.0f by site, %d by tenant", p.T, allocated, bySite, byTenant)
		}
		if p.SiteCarbon[0] != 12 || p.SiteCarbon[1] != 490 || p.SitePrice[0] != 70 || p.SitePrice[1] != 45 {
			t.Fatalf("%.0f s: intensities %v and prices %v, want the sources' [12 490] and [70 45]", p.T, p.SiteCarbon, p.SitePrice)
		}
		if p.EmissionsTPerH <= 0 || p.Failures < prev.Failures || p.Preemptions < prev.Preemptions {
			t.Fatalf("%.0f s: emissions %g t/h, failures %d after %d, preemptions %d after %d",
				p.T, p.EmissionsTPerH, p.Failures, prev.Failures, p.Preemptions, prev.Preemptions)
		}
		prev = p
	}
	if prev.Failures == 0 || prev.Failures > r.Failures {
		t.Errorf("the last sample counts %d failures, the run %d", prev.Failures, r.Failures)
	}
	if prev.Preemptions > r.Preemptions {
		t.Errorf("the last sample counts %d preemptions, the run %d", prev.Preemptions, r.Preemptions)
	}
	for li, l := range r.Levels {
		for _, p := range r.Series {
			if p.Hottest[li].Ratio > l.PeakRatio+1e-6 { // PeakRatio has six decimals
				t.Fatalf("%s at %.0f s: %.4f of its rating, above the run's peak %.4f", l.Level, p.T, p.Hottest[li].Ratio, l.PeakRatio)
			}
		}
	}
}
