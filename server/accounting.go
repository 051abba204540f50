package server

import (
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"stargate/store"
)

// GET /v1/accounting is what jobs cost, as Slurm's sacct and sreport:
// per job, its elapsed time, accelerator-hours, energy (IT and at the
// facility), the energy's cost and emissions at its site's mix hour by
// hour, and the part of that energy lost to attempts that did not
// complete (preempted, requeued, failed); with ?by=tenant|site|day, the
// same summed by group.

// maxAccountJobs bounds the jobs one grouped answer reads.
const maxAccountJobs = 1_000_000

var finalStates = []store.JobState{store.JobSucceeded, store.JobFailed, store.JobCancelled, store.JobTimeout}

func (s *Server) accounting(w http.ResponseWriter, r *http.Request, tok store.Token) error {
	q := r.URL.Query()
	var problems []Problem
	query := store.JobQuery{Tenant: q.Get("tenant"), States: finalStates, Newest: true, After: q.Get("after"), Limit: 1000}
	if st := splitList(q["state"]); len(st) > 0 {
		query.States = nil
		for _, v := range st {
			if !store.JobState(v).Valid() {
				problems = append(problems, Problem{Field: "state", Message: fmt.Sprintf("unknown state %q", v)})
			}
			query.States = append(query.States, store.JobState(v))
		}
	}
	since, err := parseWhen(q.Get("since"))
	if err != nil {
		problems = append(problems, Problem{Field: "since", Message: err.Error()})
	}
	until, err := parseWhen(q.Get("until"))
	if err != nil {
		problems = append(problems, Problem{Field: "until", Message: err.Error()})
	}
	by := q.Get("by")
	switch by {
	case "", "job", "tenant", "site", "day":
	default:
		problems = append(problems, Problem{Field: "by", Message: "must be job, tenant, site or day"})
	}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > MaxPage {
			problems = append(problems, Problem{Field: "limit", Message: fmt.Sprintf("must be an integer from 1 to %d", MaxPage)})
		}
		query.Limit = n
	}
	problems = append(problems, unknownParams(q, "tenant", "state", "since", "until", "by", "limit", "after")...)
	if tok.Role == store.RoleUser {
		if query.Tenant != "" && query.Tenant != tok.Tenant {
			return errorf(http.StatusForbidden, "a user sees only its own tenant (%s)", tok.Tenant)
		}
		query.Tenant = tok.Tenant
	}
	if len(problems) > 0 {
		return badRequest(problems)
	}
	grouped := by != "" && by != "job"
	out := Accounting{Rows: []AccountRow{}}
	groups := map[string]*AccountRow{}
	for read := 0; ; {
		jobs, err := s.store.Jobs(r.Context(), query)
		if err != nil {
			return err
		}
		read += len(jobs)
		var kept []store.Job
		for _, j := range jobs {
			at := j.EndedAt
			if at.IsZero() {
				at = j.SubmittedAt
			}
			if (!since.IsZero() && at.Before(since)) || (!until.IsZero() && !at.Before(until)) {
				continue
			}
			kept = append(kept, j)
		}
		rows, err := s.accountRows(r, kept)
		if err != nil {
			return err
		}
		for _, row := range rows {
			addRow(&out.Totals, row)
			if !grouped {
				out.Rows = append(out.Rows, row)
				continue
			}
			key := row.Tenant
			switch by {
			case "site":
				key = row.Site
			case "day":
				key = row.Key
			}
			g := groups[key]
			if g == nil {
				g = &AccountRow{Key: key}
				groups[key] = g
			}
			addRow(g, row)
		}
		if len(jobs) < query.Limit || (!grouped) || read >= maxAccountJobs {
			if !grouped && len(jobs) == query.Limit {
				out.Next = jobs[len(jobs)-1].ID
			}
			break
		}
		query.After = jobs[len(jobs)-1].ID
	}
	if grouped {
		for _, g := range groups {
			g.Source = ""
			out.Rows = append(out.Rows, *g)
		}
		sort.Slice(out.Rows, func(i, j int) bool { return out.Rows[i].Key < out.Rows[j].Key })
	}
	out.Totals.Source = ""
	writeJSON(w, http.StatusOK, out)
	return nil
}

// accountRows makes the rows of jobs from their energy accounts. A row's
// Key is the UTC day it ended (or was submitted, if it has not ended).
func (s *Server) accountRows(r *http.Request, jobs []store.Job) ([]AccountRow, error) {
	if len(jobs) == 0 {
		return nil, nil
	}
	ids := make([]string, len(jobs))
	for i, j := range jobs {
		ids[i] = j.ID
	}
	accounts, err := s.store.Energy(r.Context(), ids)
	if err != nil {
		return nil, err
	}
	byJob := map[string][]store.JobEnergy{}
	for _, e := range accounts {
		byJob[e.Job] = append(byJob[e.Job], e)
	}
	rows := make([]AccountRow, 0, len(jobs))
	for _, j := range jobs {
		day := j.EndedAt
		if day.IsZero() {
			day = j.SubmittedAt
		}
		row := AccountRow{Jobs: 1, Job: j.ID, Name: j.Spec.Name, Tenant: j.Tenant, State: string(j.State), Key: day.UTC().Format("2006-01-02")}
		if !j.StartedAt.IsZero() && !j.EndedAt.IsZero() {
			row.ElapsedS = j.EndedAt.Sub(j.StartedAt).Seconds()
		}
		for _, e := range byJob[j.ID] {
			row.Site = e.Site
			row.AcceleratorHours += e.AcceleratorS / 3600
			row.EnergyKWh += e.EnergyJ / 3.6e6
			row.FacilityKWh += e.FacilityJ / 3.6e6
			row.CostUSD += e.CostUSD
			row.EmissionsKg += e.CO2g / 1000
			// every attempt but the last was cut short; the last too when
			// the job failed or ran out of time
			if e.Attempt < j.Attempts || j.State == store.JobFailed || j.State == store.JobTimeout {
				row.LostKWh += e.EnergyJ / 3.6e6
			}
			switch {
			case row.Source == "":
				row.Source = e.Source
			case row.Source != e.Source:
				row.Source = store.EnergyMixed
			}
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// addRow adds a row's figures to a group's.
func addRow(g *AccountRow, r AccountRow) {
	g.Jobs += r.Jobs
	g.ElapsedS += r.ElapsedS
	g.AcceleratorHours += r.AcceleratorHours
	g.EnergyKWh += r.EnergyKWh
	g.FacilityKWh += r.FacilityKWh
	g.CostUSD += r.CostUSD
	g.EmissionsKg += r.EmissionsKg
	g.LostKWh += r.LostKWh
}

// parseWhen reads a time: RFC 3339, or a UTC date (2026-05-01).
func parseWhen(v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	if t, err := time.Parse("2006-01-02", v); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%q is neither an RFC 3339 time nor a date (2026-05-01)", strings.TrimSpace(v))
}
