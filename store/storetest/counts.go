package storetest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"stargate/store"
)

// testJobCountsKept checks that JobCounts, which backends keep as jobs
// are written, agrees with a recount of the jobs themselves after many
// submits and state changes, and again after more.
func testJobCountsKept(t *testing.T, s store.Store, _ func() store.Store) {
	ctx := context.Background()
	recount := func() []store.JobCount {
		jobs, err := s.Jobs(ctx, store.JobQuery{})
		if err != nil {
			t.Fatal(err)
		}
		by := map[[2]string]*store.JobCount{}
		for _, j := range jobs {
			k := [2]string{j.Tenant, string(j.State)}
			if by[k] == nil {
				by[k] = &store.JobCount{Tenant: j.Tenant, State: j.State}
			}
			by[k].Jobs++
			by[k].Accelerators += j.Spec.Accelerators
		}
		var out []store.JobCount
		for _, c := range by {
			out = append(out, *c)
		}
		slices.SortFunc(out, func(a, b store.JobCount) int {
			if a.Tenant != b.Tenant {
				return strings.Compare(a.Tenant, b.Tenant)
			}
			return strings.Compare(string(a.State), string(b.State))
		})
		return out
	}
	check := func(when string) {
		t.Helper()
		for range 2 { // the first may fold what the writes left
			got, err := s.JobCounts(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if want := recount(); !slices.Equal(got, want) {
				t.Fatalf("%s: JobCounts = %v, a recount says %v", when, got, want)
			}
		}
	}
	var jobs []store.Job
	for i := range 1500 {
		jobs = append(jobs, newJob(fmt.Sprintf("c%05d", i), fmt.Sprint("t", i%3), 1+i%8))
	}
	mustSubmit(t, s, jobs...)
	check("after submits")
	move := func(from, to int, st store.JobState) {
		var c store.Changes
		for _, j := range jobs[from:to] {
			j = mustJob(t, s, j.ID)
			j.State = st
			c.Jobs = append(c.Jobs, j)
		}
		if err := s.Apply(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	move(0, 1200, store.JobRunning)
	move(0, 300, store.JobSucceeded)
	move(1200, 1300, store.JobCancelled)
	check("after state changes")
	move(300, 1200, store.JobFailed)
	check("after more")
}
