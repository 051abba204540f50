package trace

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
)

// Size is one job size of a synthetic workload and its weight.
type Size struct {
	Accelerators int
	Weight       float64
}

// Synthetic describes a generated workload: Poisson arrivals, job sizes
// drawn from weighted classes, log-normal durations, and tenants with
// Zipf-like activity (tenant i submits in proportion to 1/(i+1)).
type Synthetic struct {
	Jobs int     // how many jobs
	Span float64 // seconds over which they arrive
	// Sizes weights the job sizes; see DefaultSizes.
	Sizes []Size
	// DurationMedian (s) and DurationSigma shape the log-normal durations,
	// cut at MaxDuration.
	DurationMedian float64
	DurationSigma  float64
	MaxDuration    float64
	Tenants        int
	Seed           uint64
}

// DefaultSizes is a mix of many small jobs and a few large gangs, in the
// spirit of published cluster traces (most jobs use one node or less; a few
// use hundreds to thousands of accelerators).
var DefaultSizes = []Size{{1, 40}, {2, 8}, {4, 8}, {8, 24}, {16, 6}, {64, 8}, {256, 4}, {1024, 2}}

// Bounds of a synthetic workload, so that a typo fails fast instead of
// exhausting memory.
const (
	MaxJobs    = 50_000_000
	MaxTenants = 1_000_000
)

// DefaultSynthetic is a day of 10,000 jobs with a one-hour median duration.
func DefaultSynthetic() Synthetic {
	return Synthetic{Jobs: 10_000, Span: 86_400, Sizes: DefaultSizes, DurationMedian: 3600,
		DurationSigma: 1.2, MaxDuration: 14 * 86_400, Tenants: 8, Seed: 1}
}

// Validate reports every bad setting at once.
func (s *Synthetic) Validate() error {
	var p []string
	if s.Jobs < 1 || s.Jobs > MaxJobs {
		p = append(p, fmt.Sprintf("jobs must be 1 to %d, got %d", MaxJobs, s.Jobs))
	}
	if !(s.Span > 0) || s.Span > MaxSeconds {
		p = append(p, fmt.Sprintf("span must be > 0 and at most a century, got %g s", s.Span))
	}
	if len(s.Sizes) == 0 {
		p = append(p, "at least one job size is needed")
	}
	for _, z := range s.Sizes {
		if z.Accelerators < 1 || z.Accelerators > MaxAccelerators || !(z.Weight > 0) {
			p = append(p, fmt.Sprintf("size %d:%g: accelerators must be 1..%d and weight > 0", z.Accelerators, z.Weight, MaxAccelerators))
		}
	}
	if !(s.DurationMedian > 0) || s.DurationSigma < 0 || s.DurationSigma > 10 || !(s.MaxDuration >= s.DurationMedian) || s.MaxDuration > MaxSeconds {
		p = append(p, fmt.Sprintf("durations: median must be > 0, sigma >= 0 and max >= median (got %g, %g, %g)", s.DurationMedian, s.DurationSigma, s.MaxDuration))
	}
	if s.Tenants < 1 || s.Tenants > MaxTenants {
		p = append(p, fmt.Sprintf("tenants must be 1 to %d, got %d", MaxTenants, s.Tenants))
	}
	if len(p) > 0 {
		return fmt.Errorf("trace: synthetic workload: %s", strings.Join(p, "; "))
	}
	return nil
}

// MeanAcceleratorSeconds is the expected work of one job: the mean size
// times the mean log-normal duration, median·exp(σ²/2) (ignoring the cut
// at MaxDuration).
func (s *Synthetic) MeanAcceleratorSeconds() float64 {
	var w, a float64
	for _, z := range s.Sizes {
		w += z.Weight
		a += z.Weight * float64(z.Accelerators)
	}
	if w == 0 {
		return 1
	}
	return a / w * s.DurationMedian * math.Exp(s.DurationSigma*s.DurationSigma/2)
}

// ParseSizes reads "1:40,8:24,1024:2" (accelerators:weight, ...).
func ParseSizes(spec string) ([]Size, error) {
	var out []Size
	for _, part := range strings.Split(spec, ",") {
		a, w, ok := strings.Cut(strings.TrimSpace(part), ":")
		n, err1 := strconv.Atoi(a)
		x, err2 := strconv.ParseFloat(w, 64)
		if !ok || err1 != nil || err2 != nil || n < 1 || !(x > 0) || math.IsInf(x, 0) {
			return nil, fmt.Errorf("trace: size %q: want accelerators:weight, e.g. 8:24", part)
		}
		out = append(out, Size{n, x})
	}
	return out, nil
}

// Generator yields the jobs of a Synthetic workload in arrival order.
type Generator struct {
	s        Synthetic
	rng      *rand.Rand
	n        int
	t        float64
	sizeCDF  []float64
	tenCDF   []float64
	tenNames []string
	mu       float64
}

// NewGenerator validates s and returns its generator.
func NewGenerator(s Synthetic) (*Generator, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	g := &Generator{s: s, rng: rand.New(rand.NewPCG(s.Seed, 0x5ca1ab1e)), mu: math.Log(s.DurationMedian)}
	for _, z := range s.Sizes {
		g.sizeCDF = append(g.sizeCDF, z.Weight)
	}
	g.sizeCDF = cdf(g.sizeCDF)
	for i := 0; i < s.Tenants; i++ {
		g.tenCDF = append(g.tenCDF, 1/float64(i+1))
		g.tenNames = append(g.tenNames, "tenant-"+strconv.Itoa(i+1))
	}
	g.tenCDF = cdf(g.tenCDF)
	return g, nil
}

// Next returns the next job, or false after the last.
func (g *Generator) Next() (Job, bool) {
	if g.n >= g.s.Jobs {
		return Job{}, false
	}
	g.n++
	rate := float64(g.s.Jobs) / g.s.Span
	g.t += g.rng.ExpFloat64() / rate
	d := math.Exp(g.mu + g.s.DurationSigma*g.rng.NormFloat64())
	d = math.Max(1, math.Min(d, g.s.MaxDuration))
	return Job{
		ID:           strconv.Itoa(g.n),
		Tenant:       g.tenNames[pick(g.tenCDF, g.rng.Float64())],
		Submit:       g.t,
		Duration:     math.Round(d),
		Accelerators: g.s.Sizes[pick(g.sizeCDF, g.rng.Float64())].Accelerators,
	}, true
}

// All generates the whole workload.
func (g *Generator) All() []Job {
	out := make([]Job, 0, g.s.Jobs-g.n)
	for j, ok := g.Next(); ok; j, ok = g.Next() {
		out = append(out, j)
	}
	return out
}

func cdf(w []float64) []float64 {
	var sum float64
	for _, x := range w {
		sum += x
	}
	out := make([]float64, len(w))
	var acc float64
	for i, x := range w {
		acc += x
		out[i] = acc / sum
	}
	out[len(out)-1] = 1
	return out
}

func pick(cdf []float64, u float64) int {
	lo, hi := 0, len(cdf)-1
	for lo < hi {
		mid := (lo + hi) / 2
		if u < cdf[mid] {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo
}
