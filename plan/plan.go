package plan

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"

	"stargate/fleet"
)

// DefaultHouseholdKWh is the average annual electricity use of a U.S.
// residential customer: 10,791 kWh in 2022 (U.S. EIA, "How much electricity
// does an American home use?", FAQ 97).
const DefaultHouseholdKWh = 10791

// DefaultLoadFactor is the assumed average load of installed accelerators
// between idle (0) and rated power (1). Training nodes measured near 82% of
// their rating at peak; a fleet's average with idle and inference time is
// lower.
const DefaultLoadFactor = 0.7

// Options are the knobs of a plan. LoadFactor and HouseholdKWh are always
// used as given (a load factor of 0 means every accelerator idles), so start
// from DefaultOptions. PUE, Accelerator and Oversubscription are what-if
// overrides: their zero value means "keep the file's figure".
type Options struct {
	// LoadFactor in [0,1]: average load between idle (0) and rated power (1).
	LoadFactor float64
	// PUE, when not 0, overrides every site's PUE.
	PUE float64
	// Accelerator, when set, asks: what if every site were filled with this
	// accelerator (its usual node model) up to its IT power? Installed
	// counts are then replaced by that build-out.
	Accelerator string
	// Oversubscription, when not 0, overrides every site's ratio.
	Oversubscription float64
	// HouseholdKWh (> 0) is the annual use of one household for the
	// households-equivalent figure.
	HouseholdKWh float64
	// Grid are the knobs of the grid flexibility figures (fleet plans
	// only; sizing ignores them).
	Grid GridOptions
}

// DefaultOptions returns the options of a plan with no what-ifs: load factor
// DefaultLoadFactor, households at DefaultHouseholdKWh and the default grid
// options.
func DefaultOptions() Options {
	return Options{LoadFactor: DefaultLoadFactor, HouseholdKWh: DefaultHouseholdKWh, Grid: DefaultGridOptions()}
}

// ErrOption reports a bad option.
var ErrOption = errors.New("plan: bad option")

// check validates the options but the grid ones, listing every problem.
func (o *Options) check(cat *fleet.Catalog) error { return o.report(cat, nil) }

// report returns ErrOption with the problems of the options but the grid
// ones, then more, or nil when there are none.
func (o *Options) report(cat *fleet.Catalog, more []string) error {
	var problems []string
	if !(o.LoadFactor >= 0 && o.LoadFactor <= 1) {
		problems = append(problems, fmt.Sprintf("load factor must be between 0 and 1, got %g", o.LoadFactor))
	}
	if !(o.HouseholdKWh > 0) || math.IsInf(o.HouseholdKWh, 1) {
		problems = append(problems, fmt.Sprintf("household kWh must be > 0, got %g", o.HouseholdKWh))
	}
	if o.PUE != 0 && !(o.PUE >= 1 && o.PUE <= 3) {
		problems = append(problems, fmt.Sprintf("PUE must be between 1 and 3, got %g", o.PUE))
	}
	if o.Oversubscription != 0 && !(o.Oversubscription >= 1 && o.Oversubscription <= 10) {
		problems = append(problems, fmt.Sprintf("oversubscription must be between 1 and 10, got %g", o.Oversubscription))
	}
	if o.Accelerator != "" && cat.NodeFor(o.Accelerator) < 0 {
		problems = append(problems, cat.WhyNoNode(o.Accelerator))
	}
	problems = append(problems, more...)
	if len(problems) > 0 {
		return fmt.Errorf("%w: %s", ErrOption, strings.Join(problems, "; "))
	}
	return nil
}

// Figures are the numeric results of a site, a region or the fleet.
type Figures struct {
	SubstationMW float64 `json:"substation_mw"`
	// ITMW is the power left for IT: substation MW / PUE.
	ITMW float64 `json:"it_mw"`
	// NameplateMW is the rated power of the installed nodes.
	NameplateMW float64 `json:"nameplate_mw"`
	// Accelerators installed.
	Accelerators int `json:"accelerators"`
	// MaxAccelerators is how many accelerators of the site's model fit its IT power.
	MaxAccelerators int `json:"max_accelerators"`
	// DrawMW is the expected IT draw at the load factor; FacilityMW adds PUE.
	DrawMW     float64 `json:"draw_mw"`
	FacilityMW float64 `json:"facility_mw"`
	AnnualGWh  float64 `json:"annual_gwh"`
	Households float64 `json:"households"`
	// EmissionsTCO2 is tonnes of CO2-equivalent a year.
	EmissionsTCO2 float64 `json:"emissions_tco2"`
	EnergyCostUSD float64 `json:"energy_cost_usd"`
	// UnservedGWh is demand that the site's capacity-only mix cannot cover.
	UnservedGWh float64 `json:"unserved_gwh"`
	// CapexUSD counts nodes and facility where prices are given; 0 = unknown.
	CapexUSD float64 `json:"capex_usd"`
	// FlexibleMW is the part of the expected draw that caps and stops can
	// shed for a grid signal, CapCutMW the part caps alone shed (see
	// Flexibility).
	FlexibleMW float64 `json:"flexible_mw"`
	CapCutMW   float64 `json:"cap_cut_mw"`
}

func (f *Figures) add(o *Figures) {
	f.SubstationMW += o.SubstationMW
	f.ITMW += o.ITMW
	f.NameplateMW += o.NameplateMW
	f.Accelerators += o.Accelerators
	f.MaxAccelerators += o.MaxAccelerators
	f.DrawMW += o.DrawMW
	f.FacilityMW += o.FacilityMW
	f.AnnualGWh += o.AnnualGWh
	f.Households += o.Households
	f.EmissionsTCO2 += o.EmissionsTCO2
	f.EnergyCostUSD += o.EnergyCostUSD
	f.UnservedGWh += o.UnservedGWh
	f.CapexUSD += o.CapexUSD
	f.FlexibleMW += o.FlexibleMW
	f.CapCutMW += o.CapCutMW
}

// Site is the plan of one site.
type Site struct {
	Name   string  `json:"name"`
	Region string  `json:"region"`
	PUE    float64 `json:"pue"`
	// Model is the accelerator MaxAccelerators counts: the site's most
	// installed one, or the what-if accelerator.
	Model string `json:"model"`
	Figures
	// FitByModel is how many of each catalog accelerator would fit.
	FitByModel map[string]int `json:"fit_by_model"`
	Mix        []Source       `json:"mix"`
	// Grid is how the site's draw bends to a grid signal and how it holds
	// the cut asked.
	Grid Flexibility `json:"grid"`
	// Headroom is the extra IT load with curtailment, when asked
	// (GridOptions.FlexibilityHours).
	Headroom *Headroom `json:"headroom,omitempty"`
}

// Source is one energy source's part of a site's year.
type Source struct {
	Source        string  `json:"source"`
	GWh           float64 `json:"gwh"`
	Share         float64 `json:"share"`
	EmissionsTCO2 float64 `json:"emissions_tco2"`
	CostUSD       float64 `json:"cost_usd"`
}

// Region totals the sites of a region.
type Region struct {
	Name string `json:"name"`
	Figures
}

// Report is the plan of a fleet.
type Report struct {
	LoadFactor   float64 `json:"load_factor"`
	HouseholdKWh float64 `json:"household_kwh"`
	// Grid are the assumptions of the sites' grid flexibility figures.
	Grid GridParams `json:"grid"`
	// Flexibility says how the headroom with curtailment was asked and
	// totals it over the fleet, when asked.
	Flexibility *FlexibilityTotals `json:"flexibility,omitempty"`
	Sites       []Site             `json:"sites"`
	Regions     []Region           `json:"regions"`
	Totals      Figures            `json:"totals"`
}

// Fleet plans every site of f. Start o from DefaultOptions.
func Fleet(f *fleet.Fleet, o Options) (*Report, error) {
	if err := o.report(f.Catalog, o.Grid.check(o.LoadFactor)); err != nil {
		return nil, err
	}
	r := &Report{LoadFactor: o.LoadFactor, HouseholdKWh: o.HouseholdKWh, Grid: o.Grid.params()}
	perSite := installed(f)
	for ri, reg := range f.Regions {
		rr := Region{Name: reg.Name}
		for si := reg.First; si < reg.End; si++ {
			s := planSite(f, int(si), perSite[si], &o)
			s.Region = f.Regions[ri].Name
			rr.add(&s.Figures)
			r.Totals.add(&s.Figures)
			r.Sites = append(r.Sites, s)
		}
		r.Regions = append(r.Regions, rr)
	}
	r.Flexibility = o.Grid.totals(o.LoadFactor, r.Sites)
	return r, nil
}

// installed counts, per site, the nodes of each model.
func installed(f *fleet.Fleet) []map[int]int {
	out := make([]map[int]int, len(f.Sites))
	for si := range f.Sites {
		out[si] = map[int]int{}
		s := f.Sites[si]
		for h := s.First; h < s.End; h++ {
			hall := f.Halls[h]
			for ro := hall.First; ro < hall.End; ro++ {
				row := f.Rows[ro]
				for k := row.First; k < row.End; k++ {
					rack := f.Racks[k]
					for n := rack.First; n < rack.End; n++ {
						out[si][int(f.Nodes[n].Model)]++
					}
				}
			}
		}
	}
	return out
}

func planSite(f *fleet.Fleet, si int, nodes map[int]int, o *Options) Site {
	fs := &f.Sites[si]
	cat := f.Catalog
	pue := fs.PUE
	if o.PUE != 0 {
		pue = o.PUE
	}
	oversub := fs.Oversubscription
	if o.Oversubscription != 0 {
		oversub = o.Oversubscription
	}
	s := Site{Name: fs.Name, PUE: pue, FitByModel: map[string]int{}}
	s.SubstationMW = fs.SubstationMW
	s.ITMW = fs.SubstationMW / pue
	itW := s.ITMW * 1e6

	primary := primaryModel(cat, nodes)
	if o.Accelerator != "" {
		primary = cat.NodeFor(o.Accelerator)
		fit := Fit(cat, primary, itW, oversub)
		nodes = map[int]int{primary: fit / cat.Nodes[primary].Accelerators}
	}
	for _, a := range cat.Accelerators {
		if m := cat.Node(a.Node); m >= 0 {
			s.FitByModel[a.Name] = Fit(cat, m, itW, oversub)
		}
	}
	if primary >= 0 {
		s.Model = cat.Nodes[primary].Accelerator
		s.MaxAccelerators = Fit(cat, primary, itW, oversub)
	}

	var drawW, nameplateW float64
	var load siteLoad
	for _, m := range sortedKeys(nodes) {
		n := nodes[m]
		nm := &cat.Nodes[m]
		acc := &cat.Accelerators[cat.Accelerator(nm.Accelerator)]
		s.Accelerators += n * nm.Accelerators
		nameplateW += float64(n) * nm.MaxW(acc)
		drawW += float64(n) * nm.DrawW(acc, o.LoadFactor)
		s.CapexUSD += float64(n) * nm.PriceUSD
		load.idleW += float64(n) * nm.IdleW(acc)
		load.capW += float64(n*nm.Accelerators) * (1 - o.Grid.CapFraction) * acc.TDPW
	}
	load.ratedW, load.drawW, load.accelerators = nameplateW, drawW, float64(s.Accelerators)
	s.CapexUSD += fs.FacilityCapexUSDPerMW * fs.SubstationMW
	s.NameplateMW = nameplateW / 1e6
	s.DrawMW = drawW / 1e6
	s.FacilityMW = s.DrawMW * pue
	s.Mix, s.UnservedGWh = Dispatch(fs.Energy, s.FacilityMW)
	for _, m := range s.Mix {
		s.AnnualGWh += m.GWh
		s.EmissionsTCO2 += m.EmissionsTCO2
		s.EnergyCostUSD += m.CostUSD
	}
	s.AnnualGWh += s.UnservedGWh
	s.Households = s.AnnualGWh * 1e6 / o.HouseholdKWh
	fit := func(w float64) int {
		if primary < 0 {
			return 0
		}
		return Fit(cat, primary, w, 1)
	}
	flexibility(&s, &load, itW, o.LoadFactor, &o.Grid, fit)
	return s
}

// primaryModel is the node model with the most installed accelerators
// (ties: the lower catalog index), or -1 for an empty site.
func primaryModel(cat *fleet.Catalog, nodes map[int]int) int {
	best, bestN := -1, 0
	for _, m := range sortedKeys(nodes) {
		if n := nodes[m] * cat.Nodes[m].Accelerators; n > bestN {
			best, bestN = m, n
		}
	}
	return best
}

// Fit returns how many accelerators of node model m fit in itW watts of IT
// power at an oversubscription ratio: whole nodes at rated power, in whole
// scale-up domains for systems built by the rack or the group of racks
// (NVL72, a supernode, a TPU pod). It returns 0 for no power (or NaN)
// and saturates at MaxFit accelerators, so no input overflows it.
func Fit(cat *fleet.Catalog, m int, itW, oversub float64) int {
	nm := &cat.Nodes[m]
	acc := &cat.Accelerators[cat.Accelerator(nm.Accelerator)]
	per := max(nm.Accelerators, 1)
	n := math.Floor(itW*oversub/nm.MaxW(acc) + 1e-9)
	if !(n > 0) { // also NaN
		return 0
	}
	nodes := MaxFit / per
	if n < float64(nodes) {
		nodes = int(n)
	}
	if unit := nm.DomainAccelerators(); unit > nm.Accelerators {
		trays := unit / per
		nodes -= nodes % trays
	}
	return nodes * nm.Accelerators
}

// MaxFit bounds Fit's answer: far above any site, low enough that sums of
// many sites stay exact.
const MaxFit = 1 << 40

func sortedKeys(m map[int]int) []int {
	ks := make([]int, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Ints(ks)
	return ks
}
