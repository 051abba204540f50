package fleet

import "go.yaml.in/yaml/v3"

// File is the schema of a fleet file. Its YAML keys are the field tags; a key
// the schema does not know is an error. See examples/small.yaml for a tour.
type File struct {
	// Oversubscription is the ratio by which the accelerators' nameplate
	// power under a level may exceed that level's limit (1.0 = none). Sites
	// may set their own.
	//
	// Loading checks it on the accelerators alone at TDP, as a quick bound
	// on the tree's shape: node overhead (CPUs, NICs, fans) is not counted.
	// The engine's admission counts each node's full draw, overhead
	// included, so a level that loads may still refuse work for power.
	Oversubscription float64 `yaml:"oversubscription"`
	// Catalog adds accelerators and node models to the built-in catalog, or
	// replaces built-in entries of the same name.
	Catalog CatalogSpec `yaml:"catalog"`
	// Templates are named halls, rows and racks that items reuse with
	// `template: NAME`; fields given on the item override the template's.
	Templates TemplatesSpec `yaml:"templates"`
	Regions   []RegionSpec  `yaml:"regions"`
}

// CatalogSpec lists catalog entries given in a fleet file.
type CatalogSpec struct {
	Accelerators []Accelerator `yaml:"accelerators"`
	Nodes        []NodeModel   `yaml:"nodes"`
}

// TemplatesSpec holds templates as raw YAML; they are decoded at each use.
type TemplatesSpec struct {
	Halls map[string]yaml.Node `yaml:"halls"`
	Rows  map[string]yaml.Node `yaml:"rows"`
	Racks map[string]yaml.Node `yaml:"racks"`
}

// RegionSpec is a regional hub: a group of sites.
type RegionSpec struct {
	Name  string     `yaml:"name"`
	Sites []SiteSpec `yaml:"sites"`
}

// SiteSpec is one datacenter campus.
type SiteSpec struct {
	Name         string  `yaml:"name"`
	SubstationMW float64 `yaml:"substation_mw"`
	// PUE is power usage effectiveness: facility power / IT power (≥ 1).
	PUE float64 `yaml:"pue"`
	// Oversubscription overrides the file's ratio for this site; 0 = inherit.
	Oversubscription float64 `yaml:"oversubscription"`
	// FacilityCapexUSDPerMW prices the facility per MW of substation, for
	// the plan's capex estimate; 0 = unknown.
	FacilityCapexUSDPerMW float64 `yaml:"facility_capex_usd_per_mw"`
	// RampMWPerMin is the most the site's draw at the facility may rise in
	// any one minute, as its utility allows (Texas SB 6 and most
	// interconnection agreements limit large loads' ramps); 0 = no limit.
	// The engine starts and uncaps work no faster, after a grid event and
	// at any other time.
	RampMWPerMin float64        `yaml:"ramp_mw_per_min"`
	Energy       []EnergySource `yaml:"energy"`
	Halls        []HallSpec     `yaml:"halls"`
}

// EnergySource is one source of a site's energy mix. A source gives either
// a Share of the energy or a capacity in MW (dispatched first, in file
// order, following its hourly output profile); shares split what the
// capacity sources do not cover.
type EnergySource struct {
	Source string  `yaml:"source"` // grid, gas, coal, nuclear, solar, wind, hydro, storage, ...
	Share  float64 `yaml:"share"`
	MW     float64 `yaml:"mw"`
	// PriceUSDPerMWh is the energy price; a price profile overrides it by hour.
	PriceUSDPerMWh float64 `yaml:"price_usd_mwh"`
	// CarbonGPerKWh is life-cycle emissions; nil takes the source's default
	// (IPCC AR5 medians, see DefaultCarbon).
	CarbonGPerKWh *float64 `yaml:"carbon_g_kwh"`
	Profile       Profile  `yaml:"profile"`
}

// Profile holds optional hourly values, 24 (a typical day, repeated) or
// 8760 (a year) long.
type Profile struct {
	// Output is the fraction (0..1) of MW available in each hour.
	Output []float64 `yaml:"output"`
	// Price is USD/MWh by hour.
	Price []float64 `yaml:"price"`
	// Carbon is gCO2/kWh by hour.
	Carbon []float64 `yaml:"carbon"`
}

// HallSpec is a hall (switchboard) of a site; Count copies it.
type HallSpec struct {
	Name     string    `yaml:"name"`
	Template string    `yaml:"template"`
	Count    int       `yaml:"count"`
	LimitKW  float64   `yaml:"limit_kw"`
	Rows     []RowSpec `yaml:"rows"`
}

// RowSpec is a row (PDU/RPP) of a hall; Count copies it.
type RowSpec struct {
	Name     string     `yaml:"name"`
	Template string     `yaml:"template"`
	Count    int        `yaml:"count"`
	LimitKW  float64    `yaml:"limit_kw"`
	Racks    []RackSpec `yaml:"racks"`
}

// RackSpec is a rack of a row; Count copies it.
type RackSpec struct {
	Name     string      `yaml:"name"`
	Template string      `yaml:"template"`
	Count    int         `yaml:"count"`
	LimitKW  float64     `yaml:"limit_kw"`
	Nodes    []NodeGroup `yaml:"nodes"`
}

// NodeGroup is Count nodes of one catalog model in a rack.
type NodeGroup struct {
	Model string `yaml:"model"`
	Count int    `yaml:"count"`
}
