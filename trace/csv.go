package trace

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Columns maps the fields of a job to the columns of a CSV trace, by
// header name. Submit, Duration and Accelerators are required.
type Columns struct {
	ID, Tenant, Submit, Duration, Accelerators string
	// Priority, when given, is a column of whole numbers from
	// -MaxPriority to MaxPriority (the server's bounds).
	Priority string
	// TimeUnit scales Submit and Duration to seconds (1 for seconds, 60 for
	// minutes, 0.001 for milliseconds); 0 means 1.
	TimeUnit float64
}

// ITPColumns is the ITP 2021 trace layout.
var ITPColumns = Columns{ID: "job_id", Submit: "submission_time", Duration: "duration", Accelerators: "num_gpu"}

// ParseColumns reads a mapping such as
// "submit=start_time,duration=runtime,gpus=gpu_num,id=job,tenant=user,priority=prio,unit=60".
func ParseColumns(spec string) (Columns, error) {
	var c Columns
	for _, part := range strings.Split(spec, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok || v == "" {
			return c, fmt.Errorf("trace: column mapping %q: want field=column", part)
		}
		switch k {
		case "id":
			c.ID = v
		case "tenant", "user":
			c.Tenant = v
		case "submit", "submission", "arrival":
			c.Submit = v
		case "duration", "runtime":
			c.Duration = v
		case "gpus", "accelerators", "num_gpu":
			c.Accelerators = v
		case "priority":
			c.Priority = v
		case "unit":
			u, err := strconv.ParseFloat(v, 64)
			if err != nil || u <= 0 || math.IsInf(u, 0) {
				return c, fmt.Errorf("trace: column mapping: unit must be seconds per trace time unit (> 0), got %q", v)
			}
			c.TimeUnit = u
		default:
			return c, fmt.Errorf("trace: column mapping: unknown field %q (id, tenant, submit, duration, gpus, priority, unit)", k)
		}
	}
	var missing []string
	for name, v := range map[string]string{"submit": c.Submit, "duration": c.Duration, "gpus": c.Accelerators} {
		if v == "" {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return c, fmt.Errorf("trace: column mapping lacks %s", strings.Join(missing, ", "))
	}
	return c, nil
}

// MaxPriority bounds a job's priority either way, as the server does.
const MaxPriority = 1000

// MaxAccelerators bounds one job's size, against typos in a trace.
const MaxAccelerators = 1 << 24

// MaxSeconds bounds submission times and durations: a century, far past
// any trace, and well inside what a virtual clock of nanoseconds holds.
const MaxSeconds = 100 * 365 * 86400

// ReadJobs reads a CSV trace of jobs with a header row, mapping columns
// by c. Rows that cannot be read are skipped and counted in the Report, or
// end the read with ErrBadRow when o.Strict. Jobs come back sorted by
// submission time.
func ReadJobs(r io.Reader, name string, c Columns, o Options) ([]Job, *Report, error) {
	rep := &Report{Source: name}
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		if err == io.EOF {
			return nil, rep, fmt.Errorf("trace: %s: empty file, want a header row", name)
		}
		return nil, rep, fmt.Errorf("trace: %s: %w", name, err)
	}
	idx := map[string]int{}
	for i, h := range header {
		idx[strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))] = i
	}
	col := func(name string) (int, error) {
		if name == "" {
			return -1, nil
		}
		if i, ok := idx[name]; ok {
			return i, nil
		}
		return -1, fmt.Errorf("trace: %s: no column %q in header %v", rep.Source, name, header)
	}
	iID, err1 := col(c.ID)
	iTenant, err2 := col(c.Tenant)
	iSubmit, err3 := col(c.Submit)
	iDur, err4 := col(c.Duration)
	iAcc, err5 := col(c.Accelerators)
	iPrio, err6 := col(c.Priority)
	if err := errors.Join(err1, err2, err3, err4, err5, err6); err != nil {
		return nil, rep, err
	}
	unit := c.TimeUnit
	if unit == 0 {
		unit = 1
	}
	var jobs []Job
	err = eachRow(cr, rep, o.Strict, func(rec []string, line int) string {
		j, problem := jobFrom(rec, iID, iTenant, iSubmit, iDur, iAcc, iPrio, unit)
		if problem != "" {
			return problem
		}
		if j.ID == "" {
			j.ID = strconv.Itoa(line)
		}
		if j.Tenant == "" {
			j.Tenant = o.Tenant
		}
		jobs = append(jobs, j)
		return ""
	})
	if err != nil {
		return nil, rep, err
	}
	SortBySubmit(jobs)
	return jobs, rep, nil
}

func jobFrom(rec []string, iID, iTenant, iSubmit, iDur, iAcc, iPrio int, unit float64) (Job, string) {
	field := func(i int) (string, bool) {
		if i < 0 || i >= len(rec) {
			return "", false
		}
		return strings.TrimSpace(rec[i]), true
	}
	var j Job
	if v, ok := field(iID); ok {
		j.ID = strings.Clone(v)
	}
	if v, ok := field(iTenant); ok {
		j.Tenant = strings.Clone(v)
	}
	num := func(i int, what string) (float64, string) {
		v, ok := field(i)
		if !ok {
			return 0, fmt.Sprintf("missing %s (row has %d fields)", what, len(rec))
		}
		x, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
			return 0, fmt.Sprintf("%s %q is not a number", what, v)
		}
		return x, ""
	}
	submit, p := num(iSubmit, "submission time")
	if p != "" {
		return j, p
	}
	dur, p := num(iDur, "duration")
	if p != "" {
		return j, p
	}
	acc, p := num(iAcc, "accelerator count")
	if p != "" {
		return j, p
	}
	switch {
	case submit < 0:
		return j, fmt.Sprintf("submission time %g is negative", submit)
	case dur <= 0:
		return j, fmt.Sprintf("duration %g must be > 0", dur)
	case submit*unit > MaxSeconds || dur*unit > MaxSeconds:
		return j, fmt.Sprintf("submission time %g or duration %g is over a century", submit, dur)
	case acc < 1 || acc != math.Trunc(acc) || acc > MaxAccelerators:
		return j, fmt.Sprintf("accelerator count %g must be a whole number from 1 to %d", acc, MaxAccelerators)
	}
	if iPrio >= 0 {
		prio, p := num(iPrio, "priority")
		if p != "" {
			return j, p
		}
		if prio != math.Trunc(prio) || math.Abs(prio) > MaxPriority {
			return j, fmt.Sprintf("priority %g must be a whole number from %d to %d", prio, -MaxPriority, MaxPriority)
		}
		j.Priority = int(prio)
	}
	j.Submit, j.Duration, j.Accelerators = submit*unit, dur*unit, int(acc)
	return j, ""
}

// Request is one inference request.
type Request struct {
	// Time is seconds from the first request of the trace.
	Time            float64
	ContextTokens   int
	GeneratedTokens int
}

// azureTime is the Azure LLM trace's timestamp layout.
const azureTime = "2006-01-02 15:04:05.9999999"

// ReadAzureLLM reads the Azure LLM inference trace
// (TIMESTAMP,ContextTokens,GeneratedTokens). Times are made relative to the
// first request; requests come back in time order.
func ReadAzureLLM(r io.Reader, name string, o Options) ([]Request, *Report, error) {
	rep := &Report{Source: name}
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		return nil, rep, fmt.Errorf("trace: %s: want a header row: %w", name, err)
	}
	want := []string{"TIMESTAMP", "ContextTokens", "GeneratedTokens"}
	if len(header) < 3 || strings.TrimPrefix(header[0], "\ufeff") != want[0] || header[1] != want[1] || header[2] != want[2] {
		return nil, rep, fmt.Errorf("trace: %s: header %v, want %v", name, header, want)
	}
	var reqs []Request
	var t0 time.Time
	err = eachRow(cr, rep, o.Strict, func(rec []string, _ int) string {
		if len(rec) < 3 {
			return fmt.Sprintf("row has %d fields, want 3", len(rec))
		}
		ts, terr := time.Parse(azureTime, strings.TrimSpace(rec[0]))
		ctx, cerr := strconv.Atoi(strings.TrimSpace(rec[1]))
		gen, gerr := strconv.Atoi(strings.TrimSpace(rec[2]))
		switch {
		case terr != nil:
			return fmt.Sprintf("timestamp %q: want %s", rec[0], azureTime)
		case cerr != nil || ctx < 0:
			return fmt.Sprintf("context tokens %q is not a count", rec[1])
		case gerr != nil || gen < 0:
			return fmt.Sprintf("generated tokens %q is not a count", rec[2])
		}
		if t0.IsZero() {
			t0 = ts
		}
		reqs = append(reqs, Request{Time: ts.Sub(t0).Seconds(), ContextTokens: ctx, GeneratedTokens: gen})
		return ""
	})
	if err != nil {
		return nil, rep, err
	}
	// Rows before the first one may carry earlier times: rebase on the minimum.
	if len(reqs) > 0 {
		lo := reqs[0].Time
		for _, q := range reqs {
			lo = min(lo, q.Time)
		}
		for i := range reqs {
			reqs[i].Time -= lo
		}
	}
	sortRequests(reqs)
	return reqs, rep, nil
}

// eachRow reads the data rows of a CSV trace, calling fn with each
// well-formed record and its line. A row that cannot be parsed, or whose
// fn returns a problem, is counted as bad in rep, or ends the read with
// ErrBadRow when strict.
func eachRow(cr *csv.Reader, rep *Report, strict bool, fn func(rec []string, line int) string) error {
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return nil
		}
		rep.Rows++
		var line int
		var problem string
		if err != nil {
			problem = err.Error()
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				line, problem = pe.Line, pe.Err.Error()
			}
		} else {
			line, _ = cr.FieldPos(0)
			problem = fn(rec, line)
		}
		if problem == "" {
			continue
		}
		if strict {
			return fmt.Errorf("%w: %s line %d: %s", ErrBadRow, rep.Source, line, problem)
		}
		rep.bad(line, "%s", problem)
	}
}
