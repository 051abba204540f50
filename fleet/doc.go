// Package fleet is the model of a fleet of AI datacenters: regions, sites, the
// power tree of each site (substation → hall → row → rack → node →
// accelerator) with a rated limit at every level, the accelerator and node
// catalog, and each site's energy mix.
//
// It is the first stage of the pipeline: a YAML fleet file is loaded with
// Load (Default → Parse → Validate, every problem reported at once with its
// path and line), and expanded into a compact, index-based Fleet that plan,
// the engine and the simulator read. A million-accelerator fleet expands into
// a few flat arrays; nothing in this package reads a clock or a random source.
package fleet
