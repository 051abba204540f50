package main

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"stargate/plan"
)

func init() { register(newPlanCmd) }

type planFlags struct {
	src    fleetSource
	output string
	html   string
	opts   plan.Options
	size   plan.SizingInput
	price  float64 // --price-usd-mwh, used when given
	carbon float64 // --carbon-g-kwh, used when given
	hours  float64 // --flexibility, used when given
}

func newPlanCmd() *cobra.Command {
	var f planFlags
	cmd := &cobra.Command{
		Use:   "plan",
		Short: "Capacity, energy, emissions and cost of a fleet, or how many sites a target needs",
		Long: `Plan answers, per site, region and fleet: the substation's MW, the IT power it
leaves at the site's PUE, the rated power of installed nodes, accelerators
installed and how many would fit, the expected draw at a load factor, the
energy of a year (and how many households use as much), its emissions and
cost from the site's energy mix, and capex where prices are given.

With --target-accelerators and no fleet file it answers the sizing question
instead: how many sites of --site-mw at --pue a target needs.

Figures are simple and checkable by hand: IT MW = substation MW / PUE; a
node draws idle + load × (rated − idle); accelerators that fit =
floor(IT W × oversubscription / node rated W) × accelerators per node.

Grid flexibility, per site: --inference-share of the accelerators serve
inference and are protected (their whole draw); stopping work leaves nodes
idle, so the rest's idle draw stays too; the flexible draw is
(1 − share) × (draw − idle). Caps alone shed (1 − share) × L × accelerators
× (1 − --cap-fraction) × TDP (each busy flexible accelerator capped from TDP;
a capped job runs at cap^(1/3) of its speed and keeps running), so a --cut
(a share of the expected draw) within that holds indefinitely. A deeper one,
up to the flexible draw, also stops a share of the flexible work; it holds
while the stopped work can be caught up within 24 h on the site's idle
accelerators ((1 − L) × accelerators, as far as its IT power feeds them):
hold = 24 × catch-up / (stopped + catch-up) hours. Deeper still is out of
reach without protected work.

--flexibility HOURS estimates the extra IT load each site could connect if
it accepted curtailment for HOURS a year, after the method of Norris et al.
(Duke University, 2025: load added so that the total stays under a limit
but in the curtailed hours). The limit is the site's IT power. The plan has
no hourly site load, so it assumes a load-duration curve: the load factor
runs evenly over the year from --peak-load-factor (default min(1, 2L)) in
the busiest hour to 2L − peak in the quietest, mean L; the draw exceeded in
x hours is d(x) = peak − (peak − low) × x / 8760. The extra load runs flat;
extra = min(IT − d(HOURS), IT − d(0) + caps shed), and 0 when negative: it
fits under the IT power outside the curtailed hours, and in them the
site's caps shed the rest (stops are not counted: the curve says nothing of
how long events last).`,
		Example: `  stargate plan                                  # the built-in example fleet
  stargate plan -f examples/small.yaml -o json
  stargate plan --pue 1.1 --load-factor 0.8 --html plan.html
  stargate plan --accelerator b200               # what if every site were filled with B200?
  stargate plan --inference-share 0.3 --cut 30%  # how long each site holds a 30% cut
  stargate plan --flexibility 44                 # extra IT load with 44 h (0.5%) of curtailment a year
  stargate plan --target-accelerators 1000000 --accelerator gb200 --site-mw 150 --pue 1.2`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runPlan(cmd, &f) },
	}
	fl := cmd.Flags()
	def := plan.DefaultOptions()
	f.src.addFlags(cmd, "stargate")
	fl.StringVarP(&f.output, "output", "o", "table", "output format: table, json or csv")
	fl.StringVar(&f.html, "html", "", "also write an offline HTML report with charts to this file")
	fl.Float64Var(&f.opts.PUE, "pue", 0, "what-if: PUE for every site (default: each site's)")
	fl.Float64Var(&f.opts.LoadFactor, "load-factor", def.LoadFactor, "average load between idle (0: every accelerator idles) and rated power (1)")
	fl.StringVar(&f.opts.Accelerator, "accelerator", "", "what-if: fill every site with this accelerator; with --target-accelerators: the accelerator to size for")
	fl.Float64Var(&f.opts.Oversubscription, "oversubscription", 0, "what-if: oversubscription ratio for every site (default: the file's)")
	fl.Float64Var(&f.opts.HouseholdKWh, "household-kwh", def.HouseholdKWh, "annual kWh of one household, > 0 (default: U.S. EIA 2022 average)")
	fl.Float64Var(&f.opts.Grid.InferenceShare, "inference-share", def.Grid.InferenceShare, "grid: share of each site's accelerators serving inference, protected from caps and stops (an assumption)")
	fl.Float64Var(&f.opts.Grid.CapFraction, "cap-fraction", def.Grid.CapFraction, "grid: cap on flexible jobs' accelerators as a fraction of TDP, as the engine sets it")
	f.opts.Grid.Cut = def.Grid.Cut
	fl.Var((*shareValue)(&f.opts.Grid.Cut), "cut", "grid: the cut each site is asked to hold, a share of its expected draw (25% or 0.25)")
	fl.Float64Var(&f.hours, "flexibility", 0, "grid: extra IT load each site could connect with curtailment for this many hours a year (0 to 8760)")
	fl.Float64Var(&f.opts.Grid.PeakLoadFactor, "peak-load-factor", 0, "with --flexibility: load factor of a site's busiest hour (default: min(1, 2 × load factor))")
	fl.IntVar(&f.size.TargetAccelerators, "target-accelerators", 0, "sizing: accelerators to build (no fleet file)")
	fl.Float64Var(&f.size.SiteMW, "site-mw", 0, "sizing: substation MW of one site")
	fl.Float64Var(&f.price, "price-usd-mwh", 0, "sizing: energy price, for the yearly cost")
	fl.Float64Var(&f.carbon, "carbon-g-kwh", 0, "sizing: carbon intensity (gCO2/kWh), for the yearly emissions")
	return cmd
}

func runPlan(cmd *cobra.Command, f *planFlags) error {
	out := cmd.OutOrStdout()
	switch f.output {
	case "table", "json", "csv":
	default:
		return fmt.Errorf("plan: --output must be table, json or csv, got %q", f.output)
	}
	if cmd.Flags().Changed("target-accelerators") {
		return runSizing(cmd, f, out)
	}
	for _, name := range []string{"site-mw", "price-usd-mwh", "carbon-g-kwh"} {
		if cmd.Flags().Changed(name) {
			return fmt.Errorf("plan: --%s is for sizing and needs --target-accelerators", name)
		}
	}
	if cmd.Flags().Changed("flexibility") {
		f.opts.Grid.FlexibilityHours = &f.hours
	} else if cmd.Flags().Changed("peak-load-factor") {
		return fmt.Errorf("plan: --peak-load-factor shapes the load curve of --flexibility and needs it")
	}
	fl, err := f.src.load()
	if err != nil {
		return err
	}
	r, err := plan.Fleet(fl, f.opts)
	if err != nil {
		return err
	}
	if f.html != "" {
		params := f.params(cmd)
		if err := writeFile(f.html, func(w io.Writer) error { return r.WriteHTML(w, "Stargate plan: "+f.src.name(), fl, params) }); err != nil {
			return err
		}
	}
	switch f.output {
	case "json":
		return r.WriteJSON(out)
	case "csv":
		return r.WriteCSV(out)
	}
	return r.WriteTable(out)
}

// params says, for the report, what the plan was asked: the fleet and the
// what-ifs.
func (f *planFlags) params(cmd *cobra.Command) []plan.Param {
	ps := []plan.Param{{Name: "fleet", Value: f.src.name()}}
	whatIf := func(flag, name, value string) {
		if cmd.Flags().Changed(flag) {
			ps = append(ps, plan.Param{Name: name, Value: value})
		}
	}
	whatIf("pue", "what if: PUE", fmt.Sprintf("%.2f at every site", f.opts.PUE))
	whatIf("accelerator", "what if: accelerator", "every site filled with "+f.opts.Accelerator+" up to its IT power")
	whatIf("oversubscription", "what if: oversubscription", fmt.Sprintf("%g at every site", f.opts.Oversubscription))
	if len(ps) == 1 {
		ps = append(ps, plan.Param{Name: "what if", Value: "none: the fleet file's figures"})
	}
	return ps
}

func runSizing(cmd *cobra.Command, f *planFlags, out io.Writer) error {
	if f.src.file != "" || f.src.example != "" {
		return fmt.Errorf("plan: --target-accelerators sizes new sites; it takes no --fleet or --example")
	}
	if f.html != "" {
		return fmt.Errorf("plan: --html is for fleet plans, not sizing")
	}
	for _, name := range []string{"inference-share", "cap-fraction", "cut", "flexibility", "peak-load-factor"} {
		if cmd.Flags().Changed(name) {
			return fmt.Errorf("plan: --%s is for fleet plans, not sizing", name)
		}
	}
	if f.opts.Accelerator == "" {
		return fmt.Errorf("plan: sizing needs --accelerator (e.g. gb200, h100)")
	}
	in := f.size
	in.Accelerator = f.opts.Accelerator
	in.PUE = f.opts.PUE
	in.LoadFactor = f.opts.LoadFactor
	in.Oversubscription = f.opts.Oversubscription
	in.HouseholdKWh = f.opts.HouseholdKWh
	if cmd.Flags().Changed("price-usd-mwh") {
		in.PriceUSDPerMWh = &f.price
	}
	if cmd.Flags().Changed("carbon-g-kwh") {
		in.CarbonGPerKWh = &f.carbon
	}
	s, err := plan.Size(nil, in)
	if err != nil {
		return err
	}
	switch f.output {
	case "json":
		return s.WriteJSON(out)
	case "csv":
		return s.WriteCSV(out)
	}
	return s.WriteTable(out)
}

// writeFile writes a file through fn, reporting the first error of writing
// or closing.
func writeFile(path string, fn func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := fn(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// shareValue is a share given as a fraction (0.25) or a percentage (25%).
type shareValue float64

func (v *shareValue) String() string {
	return strconv.FormatFloat(100*float64(*v), 'f', -1, 64) + "%"
}

func (v *shareValue) Set(s string) error {
	t, pct := strings.CutSuffix(strings.TrimSpace(s), "%")
	x, err := strconv.ParseFloat(t, 64)
	if err != nil {
		return fmt.Errorf("want a share such as 25%% or 0.25, got %q", s)
	}
	if pct {
		x /= 100
	}
	*v = shareValue(x)
	return nil
}

func (v *shareValue) Type() string { return "share" }
