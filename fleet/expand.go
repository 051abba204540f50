package fleet

import "math"

// expand turns a validated File into the compact Fleet, depth first, so
// that the children of every domain are a contiguous range.
func expand(f *File, cat *Catalog, oversub float64) *Fleet {
	fl := &Fleet{Oversubscription: oversub, Catalog: cat}
	e := &expander{fl: fl}
	for ri, r := range f.Regions {
		reg := Region{Name: r.Name, First: int32(len(fl.Sites))}
		for _, s := range r.Sites {
			site := Site{
				Domain:                Domain{Name: s.Name, Parent: int32(ri), LimitW: watts(s.SubstationMW * 1e6)},
				Region:                int32(ri),
				SubstationMW:          s.SubstationMW,
				PUE:                   s.PUE,
				Oversubscription:      oversub,
				FacilityCapexUSDPerMW: s.FacilityCapexUSDPerMW,
				RampMWPerMin:          s.RampMWPerMin,
				Energy:                s.Energy,
			}
			if s.Oversubscription != 0 {
				site.Oversubscription = s.Oversubscription
			}
			idx := int32(len(fl.Sites))
			fl.Sites = append(fl.Sites, site)
			first, start := int32(len(fl.Halls)), e.accel
			halls := &siblings{kind: "hall"}
			for _, h := range s.Halls {
				for _, name := range halls.next(h.Name, max(h.Count, 1)) {
					e.hall(idx, name, &h)
				}
			}
			d := &fl.Sites[idx].Domain
			d.First, d.End = first, int32(len(fl.Halls))
			d.FirstAccel, d.Accelerators = start, e.accel-start
		}
		reg.End = int32(len(fl.Sites))
		fl.Regions = append(fl.Regions, reg)
	}
	fl.Accelerators = int(e.accel)
	if fl.nodeScaleUp != nil {
		for len(fl.nodeScaleUp) < len(fl.Nodes) {
			fl.nodeScaleUp = append(fl.nodeScaleUp, -1)
		}
	}
	return fl
}

type expander struct {
	fl    *Fleet
	accel int32
}

func (e *expander) hall(site int32, name string, h *HallSpec) {
	fl := e.fl
	idx := int32(len(fl.Halls))
	fl.Halls = append(fl.Halls, Domain{Name: name, Parent: site, LimitW: watts(h.LimitKW * 1e3)})
	first, start := int32(len(fl.Rows)), e.accel
	rows := &siblings{kind: "row"}
	for i := range h.Rows {
		r := &h.Rows[i]
		for _, n := range rows.next(r.Name, max(r.Count, 1)) {
			e.row(idx, n, r)
		}
	}
	fl.Halls[idx].First, fl.Halls[idx].End = first, int32(len(fl.Rows))
	fl.Halls[idx].FirstAccel, fl.Halls[idx].Accelerators = start, e.accel-start
}

func (e *expander) row(hall int32, name string, r *RowSpec) {
	fl := e.fl
	idx := int32(len(fl.Rows))
	fl.Rows = append(fl.Rows, Domain{Name: name, Parent: hall, LimitW: watts(r.LimitKW * 1e3)})
	first, start := int32(len(fl.Racks)), e.accel
	racks := &siblings{kind: "rack"}
	for i := range r.Racks {
		k := &r.Racks[i]
		for _, n := range racks.next(k.Name, max(k.Count, 1)) {
			e.rack(idx, n, k)
		}
	}
	fl.Rows[idx].First, fl.Rows[idx].End = first, int32(len(fl.Racks))
	fl.Rows[idx].FirstAccel, fl.Rows[idx].Accelerators = start, e.accel-start
	e.scaleUps(idx)
}

// scaleUps groups the racks of row into the scale-up domains of the models
// whose fabric spans racks: each domain takes the racks, in order, that
// hold its model's next NVLinkSize accelerators (validation made sure they
// come out whole).
func (e *expander) scaleUps(row int32) {
	fl := e.fl
	cat := fl.Catalog
	open := map[uint16]int{} // model → its domain being filled, index in ScaleUps
	count := map[uint16]int{}
	r := &fl.Rows[row]
	for k := r.First; k < r.End; k++ {
		rk := &fl.Racks[k]
		for n := rk.First; n < rk.End; n++ {
			m := fl.Nodes[n].Model
			nm := &cat.Nodes[m]
			if !nm.SpansRacks() {
				continue
			}
			i, ok := open[m]
			if !ok {
				count[m]++
				i = len(fl.ScaleUps)
				open[m] = i
				fl.ScaleUps = append(fl.ScaleUps, ScaleUp{Name: nm.NVLinkDomain + "-" + itoa(count[m]), Model: m, Row: row, FirstRack: k})
			}
			if fl.nodeScaleUp == nil {
				fl.nodeScaleUp = make([]int32, 0, len(fl.Nodes))
			}
			for int32(len(fl.nodeScaleUp)) < n {
				fl.nodeScaleUp = append(fl.nodeScaleUp, -1)
			}
			fl.nodeScaleUp = append(fl.nodeScaleUp, int32(i))
			su := &fl.ScaleUps[i]
			su.Accelerators += int32(nm.Accelerators)
			su.EndRack = k + 1
			if int(su.Accelerators) >= nm.NVLinkSize {
				delete(open, m)
			}
		}
	}
}

func (e *expander) rack(row int32, name string, k *RackSpec) {
	fl := e.fl
	idx := int32(len(fl.Racks))
	fl.Racks = append(fl.Racks, Domain{Name: name, Parent: row, LimitW: watts(k.LimitKW * 1e3)})
	first, start := int32(len(fl.Nodes)), e.accel
	pos := uint16(0)
	for _, g := range k.Nodes {
		m := fl.Catalog.NodeFor(g.Model)
		per := int32(fl.Catalog.Nodes[m].Accelerators)
		for range max(g.Count, 1) {
			fl.Nodes = append(fl.Nodes, Node{Rack: idx, Model: uint16(m), Index: pos, FirstAccel: e.accel})
			pos++
			e.accel += per
		}
	}
	fl.Racks[idx].First, fl.Racks[idx].End = first, int32(len(fl.Nodes))
	fl.Racks[idx].FirstAccel, fl.Racks[idx].Accelerators = start, e.accel-start
}

// watts rounds a power figure to whole watts.
func watts(w float64) int64 { return int64(math.Round(w)) }
