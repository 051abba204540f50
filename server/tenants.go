package server

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"sort"

	"stargate/store"
)

// Tenants are the queues of the fair share, kept in the store and
// managed at run time by admins (POST /v1/tenants, PUT and DELETE
// /v1/tenants/{name}); the scheduler's next pass honours a change. The
// server's --tenant flags seed a store that has none.

// maxWeight bounds a tenant's weight: shares are relative, and a weight
// beyond it would only hide a typo.
const maxWeight = 1e6

// maxQuota bounds a quota, as a job's size is bounded.
const maxQuota = 1 << 28

// SeedTenants stores Config.Tenants when the store has no tenant yet, so
// that the server's flags give a new installation its queues. It returns
// how many it stored.
func (s *Server) SeedTenants(ctx context.Context) (int, error) {
	if len(s.cfg.Tenants) == 0 {
		return 0, nil
	}
	have, err := s.store.Tenants(ctx)
	if err != nil || len(have) > 0 {
		return 0, err
	}
	names := make([]string, 0, len(s.cfg.Tenants))
	for name := range s.cfg.Tenants {
		names = append(names, name)
	}
	sort.Strings(names)
	n := 0
	for _, name := range names {
		c := s.cfg.Tenants[name]
		err := s.store.PutTenant(ctx, store.Tenant{Name: name, Weight: c.Weight, Quota: c.Quota, UpdatedAt: s.clock.Now().UTC()}, true)
		if errors.Is(err, store.ErrExists) {
			continue // another replica seeded it
		}
		if err != nil {
			return n, fmt.Errorf("server: seed tenant %s: %w", name, err)
		}
		n++
	}
	return n, nil
}

// tenantConfigs reads the tenants for a scheduling pass.
func (s *Server) tenantConfigs(ctx context.Context) (map[string]TenantConfig, error) {
	ts, err := s.store.Tenants(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string]TenantConfig, len(ts))
	for _, t := range ts {
		out[t.Name] = TenantConfig{Weight: t.Weight, Quota: t.Quota, ModelQuotas: t.ModelQuotas, PowerQuotaKW: t.PowerQuotaKW}
	}
	return out, nil
}

func (s *Server) listTenants(w http.ResponseWriter, r *http.Request, tok store.Token) error {
	if problems := unknownParams(r.URL.Query()); len(problems) > 0 {
		return badRequest(problems)
	}
	configs, err := s.tenantConfigs(r.Context())
	if err != nil {
		return err
	}
	counts, err := s.jobCounts(r.Context())
	if err != nil {
		return err
	}
	by := map[string]*TenantUsage{}
	get := func(name string) *TenantUsage {
		u := by[name]
		if u == nil {
			u = &TenantUsage{Name: name, Weight: 1, Jobs: map[store.JobState]int{}}
			if c, ok := configs[name]; ok {
				u.Weight, u.Quota, u.Configured = c.Weight, c.Quota, true
				u.ModelQuotas, u.PowerQuotaKW = c.ModelQuotas, c.PowerQuotaKW
			}
			by[name] = u
		}
		return u
	}
	for name := range configs {
		get(name)
	}
	total := 0
	for _, c := range counts {
		u := get(c.Tenant)
		u.Jobs[c.State] += c.Jobs
		if c.State == store.JobRunning {
			u.Running += c.Accelerators
			total += c.Accelerators
		}
	}
	var weights float64
	for _, u := range by {
		if u.Jobs[store.JobPending]+u.Jobs[store.JobRunning] > 0 {
			weights += u.Weight
		}
	}
	out := TenantList{Tenants: []TenantUsage{}}
	for _, u := range by {
		if total > 0 {
			u.Share = float64(u.Running) / float64(total)
		}
		if weights > 0 && u.Jobs[store.JobPending]+u.Jobs[store.JobRunning] > 0 {
			u.FairShare = u.Weight / weights
		}
		if canSee(tok, u.Name) {
			out.Tenants = append(out.Tenants, *u)
		}
	}
	sort.Slice(out.Tenants, func(i, j int) bool { return out.Tenants[i].Name < out.Tenants[j].Name })
	writeJSON(w, http.StatusOK, out)
	return nil
}

// decodeTenant reads a tenant request and checks its values.
func (s *Server) decodeTenant(w http.ResponseWriter, r *http.Request) (TenantRequest, error) {
	var req TenantRequest
	body, err := readBody(w, r, 64<<10)
	if err != nil {
		return req, err
	}
	problems := decodeStrict(body, &req)
	if len(problems) > 0 {
		return req, badRequest(problems)
	}
	if req.Weight != nil && !(*req.Weight > 0 && *req.Weight <= maxWeight) || req.Weight != nil && math.IsNaN(*req.Weight) {
		problems = append(problems, Problem{Field: "weight", Message: fmt.Sprintf("a number > 0 and at most %g", float64(maxWeight))})
	}
	// quotas are kept by the catalog's name of the model ("h100" is h100-sxm)
	var canon map[string]int
	if req.ModelQuotas != nil {
		canon = map[string]int{}
	}
	for model, n := range req.ModelQuotas {
		i := s.fleet.Catalog.Accelerator(model)
		switch {
		case i < 0:
			problems = append(problems, Problem{Field: "model_quotas." + model, Message: "no accelerator of this name in the catalog"})
		case n < 0 || n > maxQuota:
			problems = append(problems, Problem{Field: "model_quotas." + model, Message: fmt.Sprintf("accelerators, from 0 (none) to %d", maxQuota)})
		default:
			canon[s.fleet.Catalog.Accelerators[i].Name] = n
		}
	}
	req.ModelQuotas = canon
	if p := req.PowerQuotaKW; p != nil && !(*p >= 0 && *p <= 1e9) {
		problems = append(problems, Problem{Field: "power_quota_kw", Message: "kW, from 0 (none) to 1e9"})
	}
	if req.Quota != nil && (*req.Quota < 0 || *req.Quota > maxQuota) {
		problems = append(problems, Problem{Field: "quota", Message: fmt.Sprintf("accelerators, from 0 (none) to %d", maxQuota)})
	}
	if len(problems) > 0 {
		return req, badRequest(problems)
	}
	return req, nil
}

func (s *Server) createTenant(w http.ResponseWriter, r *http.Request, tok store.Token) error {
	req, err := s.decodeTenant(w, r)
	if err != nil {
		return err
	}
	if !ValidTenant(req.Name) {
		return badRequest([]Problem{{Field: "name", Message: "lower-case letters, digits, '.', '_', '-', up to 63"}})
	}
	t := store.Tenant{Name: req.Name, Weight: 1, UpdatedAt: s.clock.Now().UTC()}
	if req.Weight != nil {
		t.Weight = *req.Weight
	}
	if req.Quota != nil {
		t.Quota = *req.Quota
	}
	applyQuotas(&t, req)
	if err := s.store.PutTenant(r.Context(), t, true); errors.Is(err, store.ErrExists) {
		return errorf(http.StatusConflict, "tenant %s exists: change it with PUT /v1/tenants/%s", t.Name, t.Name)
	} else if err != nil {
		return err
	}
	s.journalTenant(r.Context(), "tenant-created", t, tok)
	writeJSON(w, http.StatusCreated, t)
	return nil
}

func (s *Server) setTenant(w http.ResponseWriter, r *http.Request, tok store.Token) error {
	name := r.PathValue("name")
	req, err := s.decodeTenant(w, r)
	if err != nil {
		return err
	}
	if req.Name != "" && req.Name != name {
		return badRequest([]Problem{{Field: "name", Message: "a tenant cannot be renamed"}})
	}
	ts, err := s.store.Tenants(r.Context())
	if err != nil {
		return err
	}
	for _, t := range ts {
		if t.Name != name {
			continue
		}
		if req.Weight != nil {
			t.Weight = *req.Weight
		}
		if req.Quota != nil {
			t.Quota = *req.Quota
		}
		applyQuotas(&t, req)
		t.UpdatedAt = s.clock.Now().UTC()
		if err := s.store.PutTenant(r.Context(), t, false); err != nil {
			return err
		}
		s.journalTenant(r.Context(), "tenant-set", t, tok)
		writeJSON(w, http.StatusOK, t)
		return nil
	}
	return errorf(http.StatusNotFound, "no tenant %s: create it with POST /v1/tenants", name)
}

func (s *Server) deleteTenant(w http.ResponseWriter, r *http.Request, tok store.Token) error {
	name := r.PathValue("name")
	if err := s.store.DeleteTenant(r.Context(), name); errors.Is(err, store.ErrNotFound) {
		return errorf(http.StatusNotFound, "no tenant %s", name)
	} else if err != nil {
		return err
	}
	s.journalTenant(r.Context(), "tenant-deleted", store.Tenant{Name: name}, tok)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// applyQuotas sets the quotas by model and of power a request gives: a
// model's count of 0 removes its quota.
func applyQuotas(t *store.Tenant, req TenantRequest) {
	if req.ModelQuotas != nil {
		t.ModelQuotas = map[string]int{}
		for m, n := range req.ModelQuotas {
			if n > 0 {
				t.ModelQuotas[m] = n
			}
		}
		if len(t.ModelQuotas) == 0 {
			t.ModelQuotas = nil
		}
	}
	if req.PowerQuotaKW != nil {
		t.PowerQuotaKW = *req.PowerQuotaKW
	}
}

// journalTenant records a tenant change in the journal; the change is
// committed already, so a failure here is logged, not answered.
func (s *Server) journalTenant(ctx context.Context, kind string, t store.Tenant, tok store.Token) {
	msg := fmt.Sprintf("tenant %s by %s token %s", t.Name, tok.Role, tok.ID)
	if kind != "tenant-deleted" {
		msg += fmt.Sprintf(": weight %g, quota %d", t.Weight, t.Quota)
	}
	if err := s.store.Apply(ctx, store.Changes{Events: []store.Event{{Time: s.clock.Now().UTC(), Kind: kind, Message: msg}}}); err != nil {
		s.log.Warn("journal: tenant change not recorded", "tenant", t.Name, "err", err)
	}
}
