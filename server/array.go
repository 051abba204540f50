package server

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"stargate/store"
)

// Job arrays, as Slurm's --array: a spec with "array: 0-99%10" is
// submitted as one job per index, committed together. Each element
// carries its array (the ID of its first element) and its index, runs
// with STARGATE_ARRAY_JOB_ID, STARGATE_ARRAY_INDEX and
// STARGATE_ARRAY_COUNT in its environment, and is named NAME[INDEX]. The
// "%N" bounds how many elements run at once: the pass gives the
// scheduler only as many pending elements as the bound leaves room for.

// Bounds of an array: its elements, and its largest index.
const (
	maxArrayElements = 10_000
	maxArrayIndex    = 4_000_000
)

// parseArray reads an array expression: comma-separated indices and
// ranges (A-B, or A-B:STEP), then an optional %LIMIT. It returns the
// indices in ascending order, without repeats, and the limit (0: none).
func parseArray(expr string) (indices []int, limit int, err error) {
	list, lim, hasLimit := strings.Cut(expr, "%")
	if hasLimit {
		limit, err = strconv.Atoi(lim)
		if err != nil || limit < 1 {
			return nil, 0, fmt.Errorf("the limit after %% must be a whole number >= 1, not %q", lim)
		}
	}
	if strings.TrimSpace(list) == "" {
		return nil, 0, fmt.Errorf("no indices: write them as 0-99, 1,3,5-9 or 0-15:4")
	}
	seen := map[int]bool{}
	num := func(s string) (int, error) {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 0 || n > maxArrayIndex {
			return 0, fmt.Errorf("%q is not an index from 0 to %d", s, maxArrayIndex)
		}
		return n, nil
	}
	for _, part := range strings.Split(list, ",") {
		rng, stepText, hasStep := strings.Cut(part, ":")
		from, to, isRange := strings.Cut(rng, "-")
		lo, err := num(from)
		if err != nil {
			return nil, 0, err
		}
		hi, step := lo, 1
		if isRange {
			if hi, err = num(to); err != nil {
				return nil, 0, err
			}
			if hi < lo {
				return nil, 0, fmt.Errorf("the range %s runs backwards", strings.TrimSpace(rng))
			}
		}
		if hasStep {
			if !isRange {
				return nil, 0, fmt.Errorf("a step (%s) needs a range, as in 0-15:4", strings.TrimSpace(part))
			}
			if step, err = strconv.Atoi(strings.TrimSpace(stepText)); err != nil || step < 1 {
				return nil, 0, fmt.Errorf("the step of %s must be a whole number >= 1", strings.TrimSpace(part))
			}
		}
		if (hi-lo)/step+1+len(seen) > maxArrayElements {
			return nil, 0, fmt.Errorf("more than %d elements", maxArrayElements)
		}
		for i := lo; i <= hi; i += step {
			if !seen[i] {
				seen[i] = true
				indices = append(indices, i)
			}
		}
	}
	slices.Sort(indices)
	return indices, limit, nil
}

// arrayLimit keeps back the pending elements of arrays that run as many
// elements as their %N allows, with a reason that says so.
func arrayLimit(c *store.Changes, pending, running []store.Job) []store.Job {
	limits := map[string]int{} // by array, of those with pending elements
	for _, j := range pending {
		if j.ArrayJob == "" {
			continue
		}
		if _, ok := limits[j.ArrayJob]; !ok {
			_, limits[j.ArrayJob], _ = parseArray(j.Spec.Array)
		}
	}
	if len(limits) == 0 {
		return pending
	}
	room := map[string]int{}
	for a, lim := range limits {
		room[a] = lim
	}
	for _, j := range running {
		if _, ok := room[j.ArrayJob]; ok && j.ArrayJob != "" {
			room[j.ArrayJob]--
		}
	}
	keep := pending[:0]
	for _, j := range pending {
		lim := limits[j.ArrayJob]
		if j.ArrayJob == "" || lim == 0 || room[j.ArrayJob] > 0 {
			if j.ArrayJob != "" && lim > 0 {
				room[j.ArrayJob]--
			}
			keep = append(keep, j)
			continue
		}
		why := fmt.Sprintf("array limit: %d elements of array %s run at once (%%%d)", lim, j.ArrayJob, lim)
		if len(j.Reasons) != 1 || j.Reasons[0] != why {
			j.Reasons = []string{why}
			c.Jobs = append(c.Jobs, j)
		}
	}
	return keep
}

// arrayElements expands a submitted job into the elements of its array.
func arrayElements(j store.Job, indices []int, ids func() string) []store.Job {
	out := make([]store.Job, len(indices))
	for k, idx := range indices {
		e := j
		e.ID = j.ID
		if k > 0 {
			e.ID = ids()
		}
		e.ArrayJob, e.ArrayIndex = j.ID, idx
		e.Spec.Env = make(map[string]string, len(j.Spec.Env)+3)
		for name, v := range j.Spec.Env {
			e.Spec.Env[name] = v
		}
		e.Spec.Env["STARGATE_ARRAY_JOB_ID"] = j.ID
		e.Spec.Env["STARGATE_ARRAY_INDEX"] = strconv.Itoa(idx)
		e.Spec.Env["STARGATE_ARRAY_COUNT"] = strconv.Itoa(len(indices))
		if j.Spec.Name != "" {
			e.Spec.Name = j.Spec.Name + "[" + strconv.Itoa(idx) + "]"
		}
		if j.IdempotencyKey != "" {
			e.IdempotencyKey = j.IdempotencyKey + "[" + strconv.Itoa(idx) + "]"
		}
		out[k] = e
	}
	return out
}

// submitArray commits the elements of an array in one transaction: all
// or none. With an idempotency key, element i takes KEY[i], so that a
// retry answers the elements the first attempt committed.
func (s *Server) submitArray(w http.ResponseWriter, r *http.Request, spec store.JobSpec, key string) error {
	indices, _, err := parseArray(spec.Array)
	if err != nil { // validateSpec checked it
		return badRequest([]Problem{{Field: "array", Message: err.Error()}})
	}
	if err := s.admitPending(r.Context(), spec.Tenant, len(indices)); err != nil {
		return err
	}
	hash := sha256.Sum256([]byte(store.EncodeJSON(s.secretDigest(spec))))
	now := s.clock.Now().UTC()
	first := store.Job{ID: s.ids.next(now), Tenant: spec.Tenant, Spec: spec, State: store.JobPending, SubmittedAt: now,
		Version: 1, IdempotencyKey: key, RequestHash: hex.EncodeToString(hash[:]), Held: spec.Hold}
	elems := arrayElements(first, indices, func() string { return s.ids.next(now) })
	for i := range elems {
		s.seal(&elems[i])
	}
	results, err := s.store.SubmitJobs(r.Context(), elems)
	created := 0
	for _, res := range results {
		if res.Created {
			created++
		}
	}
	s.pending.release(spec.Tenant, len(indices)-created)
	if err != nil {
		return err
	}
	out := ArraySubmitted{Jobs: make([]store.Job, len(results))}
	for i, res := range results {
		if errors.Is(res.Err, store.ErrIdempotencyMismatch) {
			return errorf(http.StatusConflict, "idempotency key %q was used for a different request (job %s)", key, res.Job.ID)
		}
		out.Jobs[i] = redact(res.Job)
	}
	out.ArrayJob = out.Jobs[0].ArrayJob
	if created == 0 {
		w.Header().Set(ReplayedHeader, "true")
	}
	w.Header().Set("Location", "/v1/jobs?array="+out.ArrayJob)
	writeJSON(w, http.StatusCreated, out)
	return nil
}
