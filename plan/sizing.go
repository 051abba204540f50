package plan

import (
	"fmt"
	"math"
	"strings"

	"stargate/fleet"
)

// SizingInput is the sizing question: how many sites of SiteMW at PUE does
// a target of accelerators need?
type SizingInput struct {
	TargetAccelerators int
	Accelerator        string // accelerator or node model name
	SiteMW             float64
	PUE                float64
	Oversubscription   float64 // 0 = 1
	LoadFactor         float64 // 0 = DefaultLoadFactor
	HouseholdKWh       float64 // 0 = DefaultHouseholdKWh
	// PriceUSDPerMWh and CarbonGPerKWh, when given, price the energy and
	// count its emissions.
	PriceUSDPerMWh float64
	CarbonGPerKWh  float64
}

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
	Accelerators  int     `json:"accelerators"`
	SubstationMW  float64 `json:"substation_mw"`
	DrawMW        float64 `json:"draw_mw"`
	AnnualGWh     float64 `json:"annual_gwh"`
	Households    float64 `json:"households"`
	EmissionsTCO2 float64 `json:"emissions_tco2"`
	EnergyCostUSD float64 `json:"energy_cost_usd"`
}

// Size answers the sizing question with the built-in catalog (or cat).
func Size(cat *fleet.Catalog, in SizingInput) (*Sizing, error) {
	if cat == nil {
		cat = fleet.DefaultCatalog()
	}
	var problems []string
	if in.TargetAccelerators <= 0 {
		problems = append(problems, fmt.Sprintf("target accelerators must be > 0, got %d", in.TargetAccelerators))
	}
	if in.SiteMW <= 0 || math.IsNaN(in.SiteMW) {
		problems = append(problems, fmt.Sprintf("site MW must be > 0, got %g", in.SiteMW))
	}
	if in.PUE == 0 {
		problems = append(problems, "PUE is required (facility power / IT power, e.g. 1.2)")
	}
	if in.CarbonGPerKWh < 0 || in.PriceUSDPerMWh < 0 {
		problems = append(problems, "price and carbon intensity must be >= 0")
	}
	m := cat.NodeFor(in.Accelerator)
	if m < 0 {
		problems = append(problems, fmt.Sprintf("unknown accelerator %q (known: %s)", in.Accelerator, strings.Join(cat.Names(), ", ")))
	}
	o := Options{LoadFactor: in.LoadFactor, PUE: in.PUE, Oversubscription: in.Oversubscription, HouseholdKWh: in.HouseholdKWh}
	if err := o.normalize(cat); err != nil {
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
	if s.AcceleratorsPerSite == 0 {
		return nil, fmt.Errorf("%w: a %g MW site at PUE %g cannot feed one %s node (%.1f kW)", ErrOption, in.SiteMW, o.PUE, nm.Name, s.NodeKW)
	}
	s.SitesNeeded = (in.TargetAccelerators + s.AcceleratorsPerSite - 1) / s.AcceleratorsPerSite
	// Whole nodes (and NVLink domains) for the target.
	unit := nm.Accelerators
	if nm.NVLinkDomain == "rack" && nm.NVLinkSize > unit {
		unit = nm.NVLinkSize
	}
	s.Accelerators = (in.TargetAccelerators + unit - 1) / unit * unit
	nodes := float64(s.Accelerators / nm.Accelerators)
	s.SubstationMW = float64(s.SitesNeeded) * in.SiteMW
	s.DrawMW = nodes * nm.DrawW(acc, o.LoadFactor) / 1e6
	s.AnnualGWh = s.DrawMW * o.PUE * fleet.HoursPerYear / 1e3
	s.Households = s.AnnualGWh * 1e6 / o.HouseholdKWh
	s.EmissionsTCO2 = s.AnnualGWh * 1e3 * in.CarbonGPerKWh / 1e3
	s.EnergyCostUSD = s.AnnualGWh * 1e3 * in.PriceUSDPerMWh
	return s, nil
}
