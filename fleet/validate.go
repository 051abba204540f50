package fleet

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

// validator checks a decoded File against the rules of the model and
// computes, without expanding it, the accelerators' nameplate power under
// every item so that impossible trees are found.
type validator struct {
	f       *File
	c       *collector
	cat     *Catalog
	oversub float64
	// Expanded totals, to refuse absurd sizes before expansion.
	nodes, accels, domains float64
}

func newValidator(f *File, c *collector) *validator {
	return &validator{f: f, c: c, cat: DefaultCatalog()}
}

// given reports whether the file gives path a value (explicit nulls aside).
func (v *validator) given(path string) bool {
	_, ok := v.c.lines[path]
	return ok && !v.c.nulls[path]
}

func (v *validator) validate() {
	v.oversub = v.f.Oversubscription
	if !v.given("oversubscription") {
		v.oversub = 1
	} else if v.oversub < 1 || v.oversub > 10 {
		v.c.add("oversubscription", ErrRange, "must be between 1 and 10 (1 = no oversubscription), got %g", v.oversub)
		v.oversub = 1
	}
	v.catalog()
	if len(v.f.Regions) == 0 {
		v.c.add("regions", ErrRequired, "a fleet needs at least one region")
	}
	regions := map[string]string{}
	sites := map[string]string{}
	for i := range v.f.Regions {
		r := &v.f.Regions[i]
		p := index("regions", i)
		v.name(p, r.Name, regions)
		if len(r.Sites) == 0 {
			v.c.add(join(p, "sites"), ErrRequired, "a region needs at least one site")
		}
		for j := range r.Sites {
			v.site(index(join(p, "sites"), j), &r.Sites[j], sites)
		}
	}
	if v.nodes > MaxNodes || v.accels > MaxAccelerators || v.domains > MaxDomains {
		v.c.add("regions", ErrTooLarge, "fleet expands to %.0f halls, rows and racks, %.0f nodes and %.0f accelerators; the limits are %d, %d and %d",
			v.domains, v.nodes, v.accels, MaxDomains, MaxNodes, MaxAccelerators)
	}
}

func (v *validator) catalog() {
	accels, nodes := map[string]string{}, map[string]string{}
	for i, a := range v.f.Catalog.Accelerators {
		p := index("catalog.accelerators", i)
		if a.Name == "" {
			v.c.add(join(p, "name"), ErrRequired, "required")
			continue
		}
		v.name(p, strings.ToLower(a.Name), accels)
		v.positive(join(p, "tdp_w"), a.TDPW)
		if a.IdleW < 0 || a.IdleW > a.TDPW {
			v.c.add(join(p, "idle_w"), ErrRange, "must be between 0 and tdp_w (%g), got %g", a.TDPW, a.IdleW)
		}
		if a.MemoryGB < 0 {
			v.c.add(join(p, "memory_gb"), ErrRange, "must be >= 0, got %g", a.MemoryGB)
		}
		v.cat.addAccelerator(a)
	}
	for i, n := range v.f.Catalog.Nodes {
		p := index("catalog.nodes", i)
		if n.Name == "" {
			v.c.add(join(p, "name"), ErrRequired, "required")
			continue
		}
		v.name(p, strings.ToLower(n.Name), nodes)
		if v.cat.Accelerator(n.Accelerator) < 0 {
			v.c.add(join(p, "accelerator"), ErrReference, "unknown accelerator %q (known: %s)", n.Accelerator, strings.Join(v.cat.Names(), ", "))
		} else {
			n.Accelerator = v.cat.Accelerators[v.cat.Accelerator(n.Accelerator)].Name
		}
		if n.Accelerators < 1 {
			v.c.add(join(p, "accelerators"), ErrRange, "must be >= 1, got %d", n.Accelerators)
		}
		if n.OverheadW < 0 {
			v.c.add(join(p, "overhead_w"), ErrRange, "must be >= 0, got %g", n.OverheadW)
		}
		if n.OverheadIdleW < 0 || n.OverheadIdleW > n.OverheadW {
			v.c.add(join(p, "overhead_idle_w"), ErrRange, "must be between 0 and overhead_w (%g), got %g", n.OverheadW, n.OverheadIdleW)
		}
		switch n.NVLinkDomain {
		case "":
			n.NVLinkDomain = DomainNode
		case DomainNode, DomainRack:
		default:
			if !domainName(n.NVLinkDomain) {
				v.c.add(join(p, "nvlink_domain"), ErrRange, "must be node, rack or the name of a group of racks (lower case, e.g. supernode, pod), got %q", n.NVLinkDomain)
			}
		}
		if n.NVLinkSize == 0 && n.NVLinkDomain == DomainNode {
			n.NVLinkSize = n.Accelerators
		}
		switch {
		case n.NVLinkSize < 0 || (n.NVLinkDomain == DomainRack && n.NVLinkSize < 1):
			v.c.add(join(p, "nvlink_size"), ErrRange, "must be >= 1 for a rack-wide NVLink domain, got %d", n.NVLinkSize)
		case n.SpansRacks() && n.Accelerators >= 1 && (n.NVLinkSize < n.Accelerators || n.NVLinkSize%n.Accelerators != 0):
			v.c.add(join(p, "nvlink_size"), ErrRange, "a %s spans whole nodes: must be a multiple of accelerators (%d), got %d", n.NVLinkDomain, n.Accelerators, n.NVLinkSize)
		}
		for i, sh := range n.SliceShapes {
			vol, err := ShapeVolume(sh)
			switch {
			case err != nil:
				v.c.add(index(join(p, "slice_shapes"), i), ErrRange, "%s", strings.TrimPrefix(err.Error(), "fleet: "))
			case n.NVLinkSize > 0 && vol > n.NVLinkSize:
				v.c.add(index(join(p, "slice_shapes"), i), ErrRange, "slice %s of %d accelerators is larger than the scale-up domain (%d)", sh, vol, n.NVLinkSize)
			}
		}
		if n.PriceUSD < 0 {
			v.c.add(join(p, "price_usd"), ErrRange, "must be >= 0, got %g", n.PriceUSD)
		}
		v.cat.addNode(n)
	}
	if len(v.cat.Nodes) > maxNodeModels {
		v.c.add("catalog.nodes", ErrTooLarge, "%d node models; at most %d", len(v.cat.Nodes), maxNodeModels)
	}
	for i, a := range v.f.Catalog.Accelerators {
		if a.Node != "" && v.cat.Node(a.Node) < 0 {
			v.c.add(join(index("catalog.accelerators", i), "node"), ErrReference, "unknown node model %q", a.Node)
		}
	}
}

func (v *validator) site(p string, s *SiteSpec, names map[string]string) {
	v.name(p, s.Name, names)
	v.positive(join(p, "substation_mw"), s.SubstationMW)
	if !v.given(join(p, "pue")) {
		v.c.add(join(p, "pue"), ErrRequired, "required (facility power / IT power, e.g. 1.2)")
	} else if s.PUE < 1 || s.PUE > 3 {
		v.c.add(join(p, "pue"), ErrRange, "must be between 1 and 3, got %g", s.PUE)
	}
	oversub := v.oversub
	if v.given(join(p, "oversubscription")) {
		if s.Oversubscription < 1 || s.Oversubscription > 10 {
			v.c.add(join(p, "oversubscription"), ErrRange, "must be between 1 and 10, got %g", s.Oversubscription)
		} else {
			oversub = s.Oversubscription
		}
	}
	if s.FacilityCapexUSDPerMW < 0 {
		v.c.add(join(p, "facility_capex_usd_per_mw"), ErrRange, "must be >= 0, got %g", s.FacilityCapexUSDPerMW)
	}
	if s.RampMWPerMin < 0 {
		v.c.add(join(p, "ramp_mw_per_min"), ErrRange, "must be >= 0 (0: no limit), got %g", s.RampMWPerMin)
	}
	v.energy(join(p, "energy"), s.Energy)
	halls := &siblings{kind: "hall", seen: map[string]string{}}
	var watts float64
	for i := range s.Halls {
		watts += v.hall(index(join(p, "halls"), i), &s.Halls[i], halls, oversub)
	}
	if s.PUE >= 1 && s.SubstationMW > 0 {
		v.fits(p, "substation_mw", watts, s.SubstationMW*1e6/s.PUE, oversub, " (its IT share at PUE "+fmt.Sprint(s.PUE)+")")
	}
}

func (v *validator) energy(p string, srcs []EnergySource) {
	if len(srcs) == 0 {
		v.c.add(p, ErrRequired, "a site needs an energy mix (at least one source)")
		return
	}
	var shares float64
	nShares := 0
	for i, e := range srcs {
		ep := index(p, i)
		if e.Source == "" {
			v.c.add(join(ep, "source"), ErrRequired, "required (grid, gas, coal, nuclear, solar, wind, ...)")
		}
		switch {
		case e.Share != 0 && e.MW != 0:
			v.c.add(ep, ErrRange, "give share or mw, not both")
		case e.Share == 0 && e.MW == 0:
			v.c.add(join(ep, "share"), ErrRequired, "give share (fraction of energy) or mw (capacity)")
		case e.Share < 0 || e.Share > 1:
			v.c.add(join(ep, "share"), ErrRange, "must be in (0, 1], got %g", e.Share)
		case e.MW < 0:
			v.c.add(join(ep, "mw"), ErrRange, "must be > 0, got %g", e.MW)
		case e.Share > 0:
			shares += e.Share
			nShares++
		}
		if e.CarbonGPerKWh == nil && len(e.Profile.Carbon) == 0 {
			if _, ok := DefaultCarbonOf(e.Source); !ok && e.Source != "" {
				v.c.add(join(ep, "carbon_g_kwh"), ErrRequired, "required for source %q (defaults exist for %s)", e.Source, keys(DefaultCarbon))
			}
		} else if e.CarbonGPerKWh != nil && *e.CarbonGPerKWh < 0 {
			v.c.add(join(ep, "carbon_g_kwh"), ErrRange, "must be >= 0, got %g", *e.CarbonGPerKWh)
		}
		if e.PriceUSDPerMWh < 0 && v.given(join(ep, "price_usd_mwh")) {
			// Wholesale prices do go negative; an average below zero is a typo.
			v.c.add(join(ep, "price_usd_mwh"), ErrRange, "must be >= 0, got %g", e.PriceUSDPerMWh)
		}
		pp := join(ep, "profile")
		v.profile(join(pp, "output"), e.Profile.Output, 0, 1)
		v.profile(join(pp, "price"), e.Profile.Price, math.Inf(-1), math.Inf(1))
		v.profile(join(pp, "carbon"), e.Profile.Carbon, 0, math.Inf(1))
		if len(e.Profile.Output) > 0 && e.MW == 0 {
			v.c.add(join(pp, "output"), ErrRange, "an output profile needs mw (capacity) on the source")
		}
	}
	if nShares > 0 && math.Abs(shares-1) > 1e-6 {
		v.c.add(p, ErrRange, "shares must add up to 1, got %g", shares)
	}
}

func (v *validator) profile(p string, vals []float64, lo, hi float64) {
	if len(vals) == 0 {
		return
	}
	if len(vals) != 24 && len(vals) != HoursPerYear {
		v.c.add(p, ErrRange, "must have 24 (a day) or %d (a year) hourly values, got %d", HoursPerYear, len(vals))
	}
	for i, x := range vals {
		if x < lo || x > hi {
			v.c.add(index(p, i), ErrRange, "must be between %g and %g, got %g", lo, hi, x)
			return
		}
	}
}

// HoursPerYear is the length of a yearly hourly profile.
const HoursPerYear = 8760

func (v *validator) hall(p string, h *HallSpec, names *siblings, oversub float64) float64 {
	count := v.count(p, h.Count)
	v.instanceNames(p, h.Name, count, 1, names)
	v.positive(join(p, "limit_kw"), h.LimitKW)
	rows := &siblings{kind: "row", seen: map[string]string{}}
	var watts float64
	for i := range h.Rows {
		watts += v.row(index(join(p, "rows"), i), &h.Rows[i], rows, oversub, float64(count))
	}
	v.fits(p, "limit_kw", watts, h.LimitKW*1e3, oversub, "")
	return watts * float64(count)
}

func (v *validator) row(p string, r *RowSpec, names *siblings, oversub, copies float64) float64 {
	count := v.count(p, r.Count)
	v.instanceNames(p, r.Name, count, copies, names)
	v.positive(join(p, "limit_kw"), r.LimitKW)
	racks := &siblings{kind: "rack", seen: map[string]string{}}
	var watts float64
	for i := range r.Racks {
		watts += v.rack(index(join(p, "racks"), i), &r.Racks[i], racks, oversub, copies*float64(count))
	}
	v.fits(p, "limit_kw", watts, r.LimitKW*1e3, oversub, "")
	v.scaleUps(p, r)
	return watts * float64(count)
}

// scaleUps checks that the racks of a row make whole scale-up domains of
// every model whose domain spans racks: taken in order, each run of racks
// holds exactly the model's NVLinkSize accelerators, no rack straddles two
// domains, and none is left part-filled at the row's end.
func (v *validator) scaleUps(p string, r *RowSpec) {
	if v.domains > MaxDomains {
		return // too large: reported, and not worth walking
	}
	filled := map[int]int{} // model → accelerators of its open domain
	for i := range r.Racks {
		k := &r.Racks[i]
		per := map[int]int{} // model → its accelerators in one copy of the rack
		var order []int
		for _, g := range k.Nodes {
			m := v.cat.NodeFor(g.Model)
			if m < 0 || !v.cat.Nodes[m].SpansRacks() || v.cat.Nodes[m].NVLinkSize < 1 {
				continue
			}
			if _, ok := per[m]; !ok {
				order = append(order, m)
			}
			per[m] += max(g.Count, 1) * v.cat.Nodes[m].Accelerators
		}
		for _, m := range order {
			nm := &v.cat.Nodes[m]
			for c := 0; c < max(k.Count, 1); c++ {
				filled[m] += per[m]
				if filled[m] > nm.NVLinkSize {
					v.c.add(index(join(p, "racks"), i), ErrRange, "straddles two %ss of %s: a %s is %d accelerators of whole racks, and this rack's %d would take it to %d",
						nm.NVLinkDomain, nm.Name, nm.NVLinkDomain, nm.NVLinkSize, per[m], filled[m])
					delete(filled, m)
					break
				}
				if filled[m] == nm.NVLinkSize {
					filled[m] = 0
				}
			}
		}
	}
	models := make([]int, 0, len(filled))
	for m := range filled {
		models = append(models, m)
	}
	sort.Ints(models)
	for _, m := range models {
		if nm, n := &v.cat.Nodes[m], filled[m]; n != 0 {
			v.c.add(join(p, "racks"), ErrRange, "the row's last %s of %s holds %d accelerators, not %d: a row holds whole %ss",
				nm.NVLinkDomain, nm.Name, n, nm.NVLinkSize, nm.NVLinkDomain)
		}
	}
}

// domainName reports whether s may name a group of racks: lower-case
// letters, digits and dashes, starting with a letter.
func domainName(s string) bool {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for _, c := range s {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
			return false
		}
	}
	return true
}

func (v *validator) rack(p string, r *RackSpec, names *siblings, oversub, copies float64) float64 {
	count := v.count(p, r.Count)
	v.instanceNames(p, r.Name, count, copies, names)
	v.positive(join(p, "limit_kw"), r.LimitKW)
	var watts, nodes float64
	for i, g := range r.Nodes {
		gp := index(join(p, "nodes"), i)
		n := v.count(gp, g.Count)
		m := v.cat.NodeFor(g.Model)
		if g.Model == "" {
			v.c.add(join(gp, "model"), ErrRequired, "required (a node model or accelerator name)")
			continue
		}
		if m < 0 {
			v.c.add(join(gp, "model"), ErrReference, "%s", v.cat.WhyNoNode(g.Model))
			continue
		}
		nm := &v.cat.Nodes[m]
		a := v.cat.Accelerator(nm.Accelerator)
		if a < 0 {
			continue // reported at the catalog entry
		}
		watts += float64(n*nm.Accelerators) * v.cat.Accelerators[a].TDPW
		nodes += float64(n)
		v.nodes += float64(n) * float64(count) * copies
		v.accels += float64(n*nm.Accelerators) * float64(count) * copies
	}
	if nodes > maxRackNodes {
		v.c.add(p, ErrTooLarge, "%.0f nodes in one rack; at most %d", nodes, maxRackNodes)
	}
	v.fits(p, "limit_kw", watts, r.LimitKW*1e3, oversub, "")
	return watts * float64(count)
}

// maxNodeModels is the most node models a catalog may hold (Node.Model is
// 16 bits).
const maxNodeModels = math.MaxUint16 + 1

// maxRackNodes is the most nodes one rack may hold (Node.Index is 16 bits).
const maxRackNodes = math.MaxUint16

// fits reports an item whose accelerators alone, at TDP, need more than its
// limit allows under the oversubscription ratio. Node overhead is left out
// here; the engine's admission counts it.
func (v *validator) fits(p, field string, accelW, limitW, oversub float64, note string) {
	if limitW <= 0 || accelW <= limitW*oversub*(1+1e-9) {
		return
	}
	v.c.add(join(p, field), ErrOversubscribed,
		"accelerators below need %s at TDP, more than the limit %s%s × oversubscription %g allows",
		FormatW(accelW), FormatW(limitW), note, oversub)
}

func (v *validator) count(p string, n int) int {
	if !v.given(join(p, "count")) {
		return 1
	}
	if n < 1 {
		v.c.add(join(p, "count"), ErrRange, "must be >= 1, got %d", n)
		return 1
	}
	return n
}

func (v *validator) positive(p string, x float64) {
	switch {
	case !v.given(p):
		v.c.add(p, ErrRequired, "required")
	case x <= 0:
		v.c.add(p, ErrRange, "must be > 0, got %g", x)
	}
}

func (v *validator) name(p, name string, seen map[string]string) {
	if name == "" {
		v.c.add(join(p, "name"), ErrRequired, "required")
		return
	}
	if prev, dup := seen[name]; dup {
		v.c.add(join(p, "name"), ErrDuplicate, "%q is also the name of %s", name, prev)
		return
	}
	seen[name] = p
}

// siblings tracks the expanded names of the children of one parent.
type siblings struct {
	kind string // names unnamed items: hall-1, hall-2, ...
	seen map[string]string
	n    int // instances so far
}

// instanceNames checks that the names an item expands to are unique among
// its siblings. Once the fleet is known to be too large it only counts, so
// that an absurd count is refused without spelling out its names.
func (v *validator) instanceNames(p, name string, count int, copies float64, sib *siblings) {
	v.domains += float64(count) * copies
	if v.domains > MaxDomains {
		return
	}
	for _, n := range sib.next(name, count) {
		if prev, dup := sib.seen[n]; dup {
			v.c.add(join(p, "name"), ErrDuplicate, "%q is also the name of %s", n, prev)
			return
		}
		sib.seen[n] = p
	}
}

// next returns the names of count copies of an item: the name itself for
// one copy, name-1..name-N for several; unnamed items are numbered by their
// position among all siblings (rack-1, rack-2, ...).
func (s *siblings) next(name string, count int) []string {
	out := make([]string, count)
	for i := range out {
		switch {
		case name == "":
			out[i] = s.kind + "-" + itoa(s.n+i+1)
		case count == 1:
			out[i] = name
		default:
			out[i] = name + "-" + itoa(i+1)
		}
	}
	s.n += count
	return out
}

// FormatW prints a power figure with a readable unit.
func FormatW(w float64) string {
	switch {
	case math.Abs(w) >= 1e6:
		return fmt.Sprintf("%.4g MW", w/1e6)
	case math.Abs(w) >= 1e3:
		return fmt.Sprintf("%.4g kW", w/1e3)
	}
	return fmt.Sprintf("%.4g W", w)
}
