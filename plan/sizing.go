package plan

import (
	"fmt"
	"math"
	"strings"

	"stargate/fleet"
)

// SizingInput is the sizing question: how many sites of SiteMW at PUE does
// a target of accelerators need? LoadFactor and HouseholdKWh are used as
// given, as in Options, so start from DefaultSizingInput.
type SizingInput struct {
	TargetAccelerators int    // 1 to MaxTargetAccelerators
	Accelerator        string // accelerator or node model name
	SiteMW             float64
	PUE                float64
	Oversubscription   float64 // 0 = none (1)
	LoadFactor         float64 // in [0,1]; 0 = every accelerator idle
	HouseholdKWh       float64 // > 0
	// PriceUSDPerMWh and CarbonGPerKWh, when given (not nil), price the
	// energy and count its emissions; a given 0 is a real 0.
	PriceUSDPerMWh *float64
	CarbonGPerKWh  *float64
}

// DefaultSizingInput returns a SizingInput with the default load factor
// and household use, for the caller to fill in the question.
func DefaultSizingInput() SizingInput {
	o := DefaultOptions()
	return SizingInput{LoadFactor: o.LoadFactor, HouseholdKWh: o.HouseholdKWh}
}

// Bounds of a sizing question, far above any real build, so that every
// figure of the answer stays exact.
const (
	MaxTargetAccelerators = 1_000_000_000
	MaxSiteMW             = 100_000
)

// Sizing is the answer to a SizingInput.
type Sizing struct {
	Accelerator         string  `json:"accelerator"`
	NodeModel           string  `json:"node_model"`
	TargetAccelerators  int     `json:"target_accelerators"`
	SiteMW              float64 `json:"site_mw"`
	PUE                 float64 `json:"pue"`
	Oversubscription    float64 `json:"oversubscription"`
	LoadFactor          float64 `json:"load_factor"`
	NodeKW              float64 `json:"node_kw"`
	ITMWPerSite         float64 `json:"it_mw_per_site"`
	NodesPerSite        int     `json:"nodes_per_site"`
	AcceleratorsPerSite int     `json:"accelerators_per_site"`
	SitesNeeded         int     `json:"sites_needed"`
	// The fleet built: SitesNeeded sites, the last one partly filled.
	Accelerators int     `json:"accelerators"`
	SubstationMW float64 `json:"substation_mw"`
	DrawMW       float64 `json:"draw_mw"`
	AnnualGWh    float64 `json:"annual_gwh"`
	Households   float64 `json:"households"`
	// EmissionsTCO2 and EnergyCostUSD are nil (left out of JSON) when the
	// question gave no carbon intensity or price.
	EmissionsTCO2 *float64 `json:"emissions_tco2,omitempty"`
	EnergyCostUSD *float64 `json:"energy_cost_usd,omitempty"`
}

// Size answers the sizing question with the built-in catalog (or cat).
func Size(cat *fleet.Catalog, in SizingInput) (*Sizing, error) {
	if cat == nil {
		cat = fleet.DefaultCatalog()
	}
	var problems []string
	if in.TargetAccelerators <= 0 || in.TargetAccelerators > MaxTargetAccelerators {
		problems = append(problems, fmt.Sprintf("target accelerators must be between 1 and %s, got %d", count(MaxTargetAccelerators), in.TargetAccelerators))
	}
	if !(in.SiteMW > 0 && in.SiteMW <= MaxSiteMW) {
		problems = append(problems, fmt.Sprintf("site MW must be > 0 and at most %s, got %g", count(MaxSiteMW), in.SiteMW))
	}
	if in.PUE == 0 {
		problems = append(problems, "PUE is required (facility power / IT power, e.g. 1.2)")
	}
	if p := in.PriceUSDPerMWh; p != nil && !(*p >= 0 && !math.IsInf(*p, 1)) {
		problems = append(problems, fmt.Sprintf("price must be finite and >= 0, got %g", *p))
	}
	if c := in.CarbonGPerKWh; c != nil && !(*c >= 0 && !math.IsInf(*c, 1)) {
		problems = append(problems, fmt.Sprintf("carbon intensity must be finite and >= 0, got %g", *c))
	}
	m := cat.NodeFor(in.Accelerator)
	if m < 0 {
		problems = append(problems, cat.WhyNoNode(in.Accelerator))
	}
	o := Options{LoadFactor: in.LoadFactor, PUE: in.PUE, Oversubscription: in.Oversubscription, HouseholdKWh: in.HouseholdKWh}
	if err := o.check(cat); err != nil {
		problems = append(problems, strings.TrimPrefix(err.Error(), ErrOption.Error()+": "))
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%w: %s", ErrOption, strings.Join(problems, "; "))
	}
	if o.Oversubscription == 0 {
		o.Oversubscription = 1
	}
	nm := &cat.Nodes[m]
	acc := &cat.Accelerators[cat.Accelerator(nm.Accelerator)]
	s := &Sizing{
		Accelerator: acc.Name, NodeModel: nm.Name, TargetAccelerators: in.TargetAccelerators,
		SiteMW: in.SiteMW, PUE: o.PUE, Oversubscription: o.Oversubscription, LoadFactor: o.LoadFactor,
		NodeKW: nm.MaxW(acc) / 1e3, ITMWPerSite: in.SiteMW / o.PUE,
	}
	s.AcceleratorsPerSite = Fit(cat, m, s.ITMWPerSite*1e6, o.Oversubscription)
	s.NodesPerSite = s.AcceleratorsPerSite / nm.Accelerators
	// Whole nodes (and scale-up domains: NVL72 racks, supernodes, pods)
	// for the target.
	unit := nm.DomainAccelerators()
	if s.AcceleratorsPerSite == 0 {
		what := fmt.Sprintf("one %s node (%d %s, %.1f kW)", nm.Name, nm.Accelerators, acc.Name, s.NodeKW)
		if unit > nm.Accelerators {
			trays := unit / nm.Accelerators
			domain := nm.NVLinkDomain // a supernode, a pod
			if domain == fleet.DomainRack {
				domain = "rack-wide NVLink domain"
			}
			what = fmt.Sprintf("one %s of %d %s (%d %s nodes, %.1f kW)",
				domain, trays*nm.Accelerators, acc.Name, trays, nm.Name, float64(trays)*s.NodeKW)
		}
		return nil, fmt.Errorf("%w: a %g MW site at PUE %g (%.3g MW IT, oversubscription %g) cannot feed %s",
			ErrOption, in.SiteMW, o.PUE, s.ITMWPerSite, o.Oversubscription, what)
	}
	s.SitesNeeded = (in.TargetAccelerators + s.AcceleratorsPerSite - 1) / s.AcceleratorsPerSite
	s.Accelerators = (in.TargetAccelerators + unit - 1) / unit * unit
	nodes := float64(s.Accelerators / nm.Accelerators)
	s.SubstationMW = float64(s.SitesNeeded) * in.SiteMW
	s.DrawMW = nodes * nm.DrawW(acc, o.LoadFactor) / 1e6
	s.AnnualGWh = s.DrawMW * o.PUE * fleet.HoursPerYear / 1e3
	s.Households = s.AnnualGWh * 1e6 / o.HouseholdKWh
	if c := in.CarbonGPerKWh; c != nil {
		t := s.AnnualGWh * 1e3 * *c / 1e3 // MWh × g/kWh = kg; /1e3 = t
		s.EmissionsTCO2 = &t
	}
	if p := in.PriceUSDPerMWh; p != nil {
		usd := s.AnnualGWh * 1e3 * *p
		s.EnergyCostUSD = &usd
	}
	return s, nil
}
