// Package plan answers the capacity and energy questions of a fleet: how
// many accelerators each site's power can feed, how much energy they draw
// in a year, from which sources, at what cost and emissions, and how many
// sites a target needs.
//
// It reads a *fleet.Fleet (or, for sizing, a few figures) and returns plain
// reports that the CLI renders as a table, JSON, CSV or an HTML page. The
// arithmetic is deliberately simple and documented field by field, so an
// operator can check every figure by hand:
//
//   - IT power of a site = substation MW / PUE.
//   - A node's rated power = accelerators × TDP + node overhead; its
//     expected draw at load factor L = idle + L × (rated − idle).
//   - Accelerators that fit = floor(IT W × oversubscription / node rated W)
//     nodes × accelerators per node, in whole scale-up domains for systems
//     built by the rack or the group of racks (GB200 NVL72, a CloudMatrix
//     384 supernode, a TPU pod).
//   - Annual energy = expected IT draw × PUE × 8760 h. Capacity sources
//     (mw) are dispatched first each hour, following their output profile;
//     shares split the rest. Emissions and cost sum energy × intensity and
//     energy × price hour by hour.
//   - Grid flexibility (flex.go): of the expected draw, inference (a share
//     of the accelerators) is protected and idle draw stays; the rest is
//     flexible. Caps at the engine's grid cap shed part of it and hold
//     indefinitely (cube-root slowdown); a deeper cut stops flexible work
//     and holds while that work can be caught up within a day. The extra
//     IT load a site could connect with curtailment for some hours a year
//     is read off an assumed load-duration curve against its IT power.
//
// Options and SizingInput are used as given: a load factor of 0 means every
// accelerator idles, not "the default", so callers start from DefaultOptions
// or DefaultSizingInput. Only the what-if overrides (PUE, oversubscription,
// accelerator) take 0 or "" to mean "keep the file's figure".
//
// Nothing here reads a clock or a random source.
package plan
