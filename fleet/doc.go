// Package fleet is the model of a fleet of AI datacenters: regions, sites, the
// power tree of each site (substation → hall → row → rack → node →
// accelerator) with a rated limit at every level, the accelerator and node
// catalog, and each site's energy mix.
//
// It is the first stage of the pipeline: a YAML fleet file is loaded with
// Load (Default → Parse → Validate, every problem reported at once with its
// path and line, under the file's name), and expanded into a compact, index-based Fleet that plan,
// the engine and the simulator read. A million-accelerator fleet expands into
// a few flat arrays; nothing in this package reads a clock or a random source.
//
// The file's oversubscription check is a bound on the tree's shape: at each
// level it counts the accelerators alone at TDP, as the file format
// specifies, against the limit times the allowed ratio. The engine's
// admission is stricter: it counts each node's full draw (accelerators and
// node overhead), so a rack that loads can still refuse work for power.
//
// Beside the power tree, a node model names its scale-up domain: the node,
// the rack, or a group of racks (a CloudMatrix supernode, a Trn2
// UltraServer, a TPU pod). A group is NVLinkSize accelerators of its model
// in consecutive racks of one row; loading checks that a row's racks make
// whole groups, and the Fleet lists them as ScaleUps. A model may also
// list the slice shapes it hands out (a TPU pod's "2x2x1" … "16x16x24").
//
// A site may state its utility's ramp limit (ramp_mw_per_min): the most its
// facility draw may rise in any one minute. The engine starts and uncaps
// work no faster, after a grid event as at any other time; 0 or absent
// means no limit.
package fleet
