// Package energy prices a site's energy mix: which of its sources cover a
// load in an hour of the year, and at what blended price (USD/MWh) and
// carbon intensity (gCO2/kWh).
//
// It reads the fleet's energy sources (fleet.EnergySource) and is the one
// place the mix is dispatched; its callers differ only in the load they
// give it and in what they do with the result:
//
//	fleet.Site.Energy ──► energy.Dispatch / energy.Blend ──► engine.EnergyAt (site policies: price, carbon)
//	                                                     ├─► plan.Dispatch   (a year at the expected draw)
//	                                                     └─► sim             (the simulated draw, hour by hour)
//
// The rule: sources given in MW (capacity) cover the load first, in file
// order, each up to its capacity times its output that hour; sources given
// as a share split the rest in proportion to their shares. A source's
// price and intensity that hour come from its hourly profile, else its
// own figure, else (intensity only) the default of its kind, whatever the
// case of its name. Hourly profiles hold 24 values (a day, repeated) or
// 8760 (a year); hours are counted in UTC.
//
// Nothing here reads a clock: the hour is an argument.
package energy
