package trace

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
)

// Job is one training or batch job of a workload.
type Job struct {
	ID     string
	Tenant string
	// Submit is the arrival time in seconds from the start of the workload.
	Submit float64
	// Duration is the run time in seconds on a full, uncapped allocation.
	Duration     float64
	Accelerators int
	// Priority is the job's priority (0 unless the trace gives one).
	Priority int
}

// GPUSeconds is the job's work: accelerators × duration.
func (j *Job) GPUSeconds() float64 { return float64(j.Accelerators) * j.Duration }

// Report tells how a read went.
type Report struct {
	Source  string
	Rows    int   // data rows read
	Skipped int   // bad rows skipped
	BadRows []int // line numbers of the first few bad rows
	// FirstProblem describes the first bad row.
	FirstProblem string
}

// MaxBadLines is how many bad line numbers a Report keeps.
const MaxBadLines = 5

func (r *Report) bad(line int, format string, args ...any) {
	if r.Skipped == 0 {
		r.FirstProblem = fmt.Sprintf("line %d: %s", line, fmt.Sprintf(format, args...))
	}
	r.Skipped++
	if len(r.BadRows) < MaxBadLines {
		r.BadRows = append(r.BadRows, line)
	}
}

// String summarises the read for a person.
func (r *Report) String() string {
	s := fmt.Sprintf("%s: %d rows", r.Source, r.Rows)
	if r.Skipped > 0 {
		lines := make([]string, len(r.BadRows))
		for i, l := range r.BadRows {
			lines[i] = fmt.Sprint(l)
		}
		s += fmt.Sprintf(", %d bad rows skipped (lines %s; first: %s)", r.Skipped, strings.Join(lines, ", "), r.FirstProblem)
	}
	return s
}

// ErrBadRow is returned, wrapped with the line, for a bad row in strict mode.
var ErrBadRow = errors.New("trace: bad row")

// Options control a read.
type Options struct {
	// Strict fails the read at the first bad row instead of skipping it.
	Strict bool
	// Tenant names the jobs' tenant when the trace has none.
	Tenant string
}

// SortBySubmit orders jobs by arrival, keeping the input order of ties.
func SortBySubmit(jobs []Job) {
	sort.SliceStable(jobs, func(a, b int) bool { return jobs[a].Submit < jobs[b].Submit })
}

// Scale replicates a workload into k tenants (k × len(jobs) must stay
// within MaxJobs; callers check with ScaleOK): replica i keeps the jobs'
// sizes and durations, takes tenant "<tenant>-<i>", and shifts arrivals by
// i/k of the trace's span, wrapping around, so that the span stays the same
// and the load grows k-fold. k = 1 returns the jobs unchanged.
func Scale(jobs []Job, k int) []Job {
	if k <= 1 || len(jobs) == 0 {
		return jobs
	}
	lo, hi := jobs[0].Submit, jobs[0].Submit
	for _, j := range jobs {
		lo, hi = min(lo, j.Submit), max(hi, j.Submit)
	}
	span := hi - lo
	out := make([]Job, 0, len(jobs)*k)
	for i := 0; i < k; i++ {
		shift := span * float64(i) / float64(k)
		for _, j := range jobs {
			c := j
			c.ID = fmt.Sprintf("%d/%s", i, j.ID)
			c.Tenant = fmt.Sprintf("%s-%d", j.Tenant, i)
			if span > 0 {
				c.Submit = lo + math.Mod(j.Submit-lo+shift, span)
			}
			out = append(out, c)
		}
	}
	SortBySubmit(out)
	return out
}

// ScaleOK reports whether n jobs may be replicated k times.
func ScaleOK(n, k int) error {
	if k < 1 || (n > 0 && k > MaxJobs/n) {
		return fmt.Errorf("trace: scale %d of %d jobs: want 1 to %d jobs in all", k, n, MaxJobs)
	}
	return nil
}
