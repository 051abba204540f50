package trace

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const dataDir = "../../shared/data/traces"

func TestReadJobsSkipsBadRows(t *testing.T) {
	in := `job_id,submission_time,duration,num_gpu
a,10,100,8
b,5,50,1
c,x,50,1
d,20,-3,4
e,30,60
f,40,60,2.5
g,50,60,0
h,0,1,1
i,1e12,1,1
`
	jobs, rep, err := ReadJobs(strings.NewReader(in), "t.csv", ITPColumns, Options{Tenant: "itp"})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Rows != 9 || rep.Skipped != 6 {
		t.Errorf("rows %d skipped %d, want 9 and 6", rep.Rows, rep.Skipped)
	}
	if want := []int{4, 5, 6, 7, 8}; !reflect.DeepEqual(rep.BadRows, want) {
		t.Errorf("bad lines %v, want %v", rep.BadRows, want)
	}
	if !strings.Contains(rep.FirstProblem, `line 4: submission time "x" is not a number`) {
		t.Errorf("first problem %q", rep.FirstProblem)
	}
	var ids []string
	for _, j := range jobs {
		ids = append(ids, j.ID)
		if j.Tenant != "itp" {
			t.Errorf("job %s tenant %q", j.ID, j.Tenant)
		}
	}
	if want := []string{"h", "b", "a"}; !reflect.DeepEqual(ids, want) {
		t.Errorf("jobs in arrival order %v, want %v", ids, want)
	}
	if !strings.Contains(rep.String(), "6 bad rows skipped (lines 4, 5, 6, 7, 8") {
		t.Errorf("report %q", rep)
	}

	_, _, err = ReadJobs(strings.NewReader(in), "t.csv", ITPColumns, Options{Strict: true})
	if !errors.Is(err, ErrBadRow) || !strings.Contains(err.Error(), "line 4") {
		t.Errorf("strict: err = %v", err)
	}
}

func TestColumnMapping(t *testing.T) {
	c, err := ParseColumns("submit=start,duration=minutes,gpus=gpu,tenant=user,unit=60")
	if err != nil {
		t.Fatal(err)
	}
	in := "user,gpu,start,minutes\nalice,4,1,2\n"
	jobs, _, err := ReadJobs(strings.NewReader(in), "m.csv", c, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs) != 1 || jobs[0].Submit != 60 || jobs[0].Duration != 120 || jobs[0].Accelerators != 4 || jobs[0].Tenant != "alice" || jobs[0].ID != "2" {
		t.Errorf("jobs = %+v", jobs)
	}
	for spec, want := range map[string]string{
		"submit=a,duration=b":               "lacks gpus",
		"submit=a,duration=b,gpus=c,x=y":    `unknown field "x"`,
		"submit=a,duration=b,gpus=c,unit=0": "unit must be",
		"submit":                            "want field=column",
	} {
		if _, err := ParseColumns(spec); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err = %v, want %q", spec, err, want)
		}
	}
	if _, _, err := ReadJobs(strings.NewReader("a,b\n1,2\n"), "h.csv", ITPColumns, Options{}); err == nil || !strings.Contains(err.Error(), `no column "submission_time"`) {
		t.Errorf("missing column: err = %v", err)
	}
	if _, _, err := ReadJobs(strings.NewReader(""), "e.csv", ITPColumns, Options{}); err == nil {
		t.Error("empty file: no error")
	}
}

// The ten ITP 2021 clusters: 69,351 jobs and 1,632,719.7 GPU-hours, as
// their publication states.
func TestITP2021(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(dataDir, "itp2021", "cluster*.csv"))
	if len(files) != 10 {
		t.Skipf("ITP 2021 traces not found under %s (they ship in ../shared/data)", dataDir)
	}
	var n int
	var gpuSeconds float64
	for _, f := range files {
		r, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		jobs, rep, err := ReadJobs(r, f, ITPColumns, Options{Strict: true})
		r.Close()
		if err != nil {
			t.Fatal(err)
		}
		if rep.Skipped != 0 {
			t.Errorf("%s", rep)
		}
		n += len(jobs)
		for _, j := range jobs {
			gpuSeconds += j.GPUSeconds()
		}
	}
	if n != 69_351 {
		t.Errorf("jobs = %d, want 69,351", n)
	}
	if h := gpuSeconds / 3600; math.Abs(h-1_632_719.7) > 0.1 {
		t.Errorf("GPU-hours = %.1f, want 1,632,719.7", h)
	}
}

func TestAzureLLM(t *testing.T) {
	in := "TIMESTAMP,ContextTokens,GeneratedTokens\n" +
		"2023-11-16 18:15:46.5,374,44\n" +
		"2023-11-16 18:15:46.0,10,1\n" +
		"2023-11-16 18:15:47,1,x\n" +
		"yesterday,1,1\n"
	reqs, rep, err := ReadAzureLLM(strings.NewReader(in), "a.csv", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(reqs) != 2 || rep.Skipped != 2 || reqs[0].Time != 0 || reqs[1].Time != 0.5 || reqs[1].ContextTokens != 374 {
		t.Errorf("reqs %+v, report %s", reqs, rep)
	}
	if _, _, err := ReadAzureLLM(strings.NewReader("a,b\n"), "a.csv", Options{}); err == nil {
		t.Error("wrong header: no error")
	}

	path := filepath.Join(dataDir, "azure-llm-2023", "AzureLLMInferenceTrace_conv.csv")
	f, err := os.Open(path)
	if err != nil {
		t.Skipf("Azure LLM trace not found (%v); it ships in ../shared/data", err)
	}
	defer f.Close()
	reqs, rep, err = ReadAzureLLM(f, path, Options{Strict: true})
	if err != nil {
		t.Fatal(err)
	}
	// 19,366 requests (the file has no final newline), about one hour, 18:15:46 to 19:14:08.
	if len(reqs) != 19_366 || rep.Skipped != 0 {
		t.Errorf("requests = %d (%s)", len(reqs), rep)
	}
	if span := reqs[len(reqs)-1].Time; span < 3400 || span > 3600 {
		t.Errorf("span = %.0f s, want about an hour", span)
	}
}

func TestSyntheticIsSeededAndShaped(t *testing.T) {
	s := DefaultSynthetic()
	s.Jobs = 20_000
	a, err := NewGenerator(s)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewGenerator(s)
	ja, jb := a.All(), b.All()
	if !reflect.DeepEqual(ja, jb) {
		t.Fatal("same seed, different jobs")
	}
	s.Seed = 2
	c, _ := NewGenerator(s)
	if reflect.DeepEqual(ja, c.All()) {
		t.Fatal("different seeds, same jobs")
	}
	sizes := map[int]int{}
	for i, j := range ja {
		if i > 0 && j.Submit < ja[i-1].Submit {
			t.Fatalf("arrivals out of order at %d", i)
		}
		if j.Duration < 1 || j.Duration > s.MaxDuration {
			t.Fatalf("duration %v out of range", j.Duration)
		}
		sizes[j.Accelerators]++
	}
	// Arrivals span about a day; 1-GPU jobs are 40% of the weights.
	if last := ja[len(ja)-1].Submit; last < 0.95*s.Span || last > 1.05*s.Span {
		t.Errorf("last arrival %.0f s, want about %v", last, s.Span)
	}
	if f := float64(sizes[1]) / float64(len(ja)); math.Abs(f-0.4) > 0.02 {
		t.Errorf("1-GPU share %.3f, want 0.40", f)
	}
	bad := Synthetic{Jobs: 0, Span: -1, Tenants: 0}
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "jobs must be") || !strings.Contains(err.Error(), "tenants") {
		t.Errorf("validate: %v", err)
	}
	if _, err := ParseSizes("1:2,8"); err == nil {
		t.Error("ParseSizes accepted 8 without weight")
	}
}

func TestScale(t *testing.T) {
	jobs := []Job{{ID: "a", Tenant: "t", Submit: 0, Duration: 10, Accelerators: 1}, {ID: "b", Tenant: "t", Submit: 100, Duration: 5, Accelerators: 4}}
	out := Scale(jobs, 4)
	if len(out) != 8 {
		t.Fatalf("len %d", len(out))
	}
	var work float64
	tenants := map[string]bool{}
	for i, j := range out {
		work += j.GPUSeconds()
		tenants[j.Tenant] = true
		if j.Submit < 0 || j.Submit > 100 {
			t.Errorf("job %s at %v: outside the span", j.ID, j.Submit)
		}
		if i > 0 && j.Submit < out[i-1].Submit {
			t.Error("not sorted")
		}
	}
	if work != 4*(10+20) || len(tenants) != 4 {
		t.Errorf("work %v tenants %d", work, len(tenants))
	}
}

func FuzzReadJobs(f *testing.F) {
	f.Add("job_id,submission_time,duration,num_gpu\na,1,2,3\n")
	f.Add("job_id,submission_time,duration,num_gpu\na,\"1,2\n")
	f.Add("submission_time,duration,num_gpu\n1e308,1e308,16777216\n-0,NaN,1\n")
	f.Fuzz(func(t *testing.T, in string) {
		jobs, rep, err := ReadJobs(strings.NewReader(in), "f", ITPColumns, Options{})
		if err != nil {
			return
		}
		if len(jobs)+rep.Skipped != rep.Rows {
			t.Fatalf("%d jobs + %d skipped != %d rows", len(jobs), rep.Skipped, rep.Rows)
		}
		for i, j := range jobs {
			if j.Duration <= 0 || j.Accelerators < 1 || j.Submit < 0 || math.IsNaN(j.Submit) || j.Submit > MaxSeconds || j.Duration > MaxSeconds {
				t.Fatalf("bad job accepted: %+v", j)
			}
			if i > 0 && j.Submit < jobs[i-1].Submit {
				t.Fatal("not sorted")
			}
		}
	})
}

func FuzzReadAzureLLM(f *testing.F) {
	f.Add("TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46.6805900,374,44\n")
	f.Fuzz(func(t *testing.T, in string) {
		reqs, rep, err := ReadAzureLLM(strings.NewReader(in), "f", Options{})
		if err != nil {
			return
		}
		if len(reqs)+rep.Skipped != rep.Rows {
			t.Fatalf("%d + %d != %d", len(reqs), rep.Skipped, rep.Rows)
		}
		for _, r := range reqs {
			if r.Time < 0 || r.ContextTokens < 0 || r.GeneratedTokens < 0 {
				t.Fatalf("bad request %+v", r)
			}
		}
	})
}

func TestPriorityColumn(t *testing.T) {
	in := "id,t,d,g,prio\na,0,10,1,5\nb,1,10,1,-1000\nc,2,10,1,1001\nd,3,10,1,2.5\ne,4,10,1,\n"
	c, err := ParseColumns("id=id,submit=t,duration=d,gpus=g,priority=prio")
	if err != nil {
		t.Fatal(err)
	}
	jobs, rep, err := ReadJobs(strings.NewReader(in), "p.csv", c, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs) != 2 || jobs[0].Priority != 5 || jobs[1].Priority != -1000 {
		t.Errorf("jobs %+v", jobs)
	}
	if rep.Skipped != 3 || !strings.Contains(rep.FirstProblem, "priority 1001 must be a whole number from -1000 to 1000") {
		t.Errorf("report %+v", rep)
	}
	// without the mapping, priorities are 0
	c.Priority = ""
	jobs, _, _ = ReadJobs(strings.NewReader(in), "p.csv", c, Options{})
	if len(jobs) != 5 || jobs[0].Priority != 0 {
		t.Errorf("without a priority column: %+v", jobs)
	}
}
