package server

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	"stargate/store"
)

// idAlphabet keeps the byte order of the encoded value, so that job IDs
// sort by submission time.
var idAlphabet = "0123456789abcdefghijklmnopqrstuv"

// idGen makes job IDs: "j", 10 characters of Unix milliseconds and 10
// characters of 50 bits that are random for the first ID of a millisecond
// and incremented for the next ones, so that the IDs of one replica sort
// in the order it took the submits (as ULIDs do), and replicas' IDs by
// millisecond.
type idGen struct {
	mu   sync.Mutex
	ms   uint64
	rand uint64 // 50 bits
}

func (g *idGen) next(t time.Time) string {
	ms := uint64(t.UnixMilli())
	g.mu.Lock()
	if ms <= g.ms && g.rand+1 < 1<<50 {
		ms = g.ms // the clock went back or stood still: keep the order
		g.rand++
	} else {
		var b [8]byte
		rand.Read(b[:])
		g.ms, g.rand = ms, binary.BigEndian.Uint64(b[:])>>15 // 49 bits: room to count up
	}
	r := g.rand
	g.mu.Unlock()
	var out [21]byte
	out[0] = 'j'
	for i := 0; i < 10; i++ { // 50 bits of time, the top 2 always 0
		out[10-i] = idAlphabet[(ms>>(5*i))&31]
	}
	for i := 0; i < 10; i++ {
		out[20-i] = idAlphabet[(r>>(5*i))&31]
	}
	return string(out[:])
}

// submitReq is one submit waiting for the committer.
type submitReq struct {
	job  store.Job
	done chan submitRes
}

type submitRes struct {
	res store.SubmitResult
	err error
}

// submitJob handles POST /v1/jobs: decode, validate, commit, then answer
// 201. The answer is sent only after the job's transaction committed.
func (s *Server) submitJob(w http.ResponseWriter, r *http.Request, tok store.Token) error {
	body, err := readBody(w, r, s.cfg.MaxBody)
	if err != nil {
		return err
	}
	var spec store.JobSpec
	problems := decodeStrict(body, &spec)
	key := r.Header.Get(IdempotencyHeader)
	if len(key) > 255 || !printable(key) {
		problems = append(problems, Problem{Field: IdempotencyHeader, Message: "at most 255 printable UTF-8 characters"})
	}
	if len(problems) > 0 && !onlyFieldProblems(problems) {
		return badRequest(problems) // not an object: nothing more to check
	}
	tenant := spec.Tenant
	switch {
	case tok.Role == store.RoleUser && tenant == "":
		tenant = tok.Tenant
		spec.Tenant = tenant
	case tok.Role == store.RoleUser && tenant != tok.Tenant:
		return errorf(http.StatusForbidden, "a user submits only to its own tenant (%s)", tok.Tenant)
	case tenant == "":
		problems = append(problems, Problem{Field: "tenant", Message: "required when submitting as " + string(tok.Role)})
	case !ValidTenant(tenant):
		problems = append(problems, Problem{Field: "tenant", Message: "lower-case letters, digits, '.', '_', '-', up to 63"})
	}
	// Check the values too, except those of fields that did not decode.
	bad := map[string]bool{}
	for _, p := range problems {
		bad[p.Field] = true
	}
	for _, p := range s.validateSpec(&spec) {
		if !bad[p.Field] {
			problems = append(problems, p)
		}
	}
	problems = append(problems, badStrings(reflect.ValueOf(spec), "")...)
	if len(spec.DependsOn) > 0 && len(problems) == 0 {
		ps, err := s.checkDependencies(r.Context(), tok, spec.DependsOn)
		if err != nil {
			return err
		}
		problems = append(problems, ps...)
	}
	if len(problems) > 0 {
		return badRequest(problems)
	}
	switch r.URL.Query().Get("dry_run") {
	case "", "false":
	case "true":
		// a fresh ID, never stored, sorts after every job submitted so far
		job := store.Job{ID: s.ids.next(s.clock.Now().UTC()), Tenant: tenant, Spec: spec, State: store.JobPending, SubmittedAt: s.clock.Now().UTC(), Held: spec.Hold}
		if spec.Array != "" { // the first element stands for the array
			indices, _, _ := parseArray(spec.Array)
			job = arrayElements(job, indices[:1], nil)[0]
		}
		return s.dryRun(w, r, job)
	default:
		return badRequest([]Problem{{Field: "dry_run", Message: "must be true or false"}})
	}
	if spec.Array != "" {
		return s.submitArray(w, r, spec, key)
	}
	if err := s.admitPending(r.Context(), tenant, 1); err != nil {
		return err
	}
	admitted := true
	defer func() {
		if admitted {
			s.pending.release(tenant, 1) // not created: give the room back
		}
	}()
	// The request is identified after defaults are filled in, so that the
	// same job asked with or without its defaults is the same request.
	hash := sha256.Sum256([]byte(store.EncodeJSON(s.secretDigest(spec))))
	now := s.clock.Now().UTC()
	req := &submitReq{
		job: store.Job{ID: s.ids.next(now), Tenant: tenant, Spec: spec, State: store.JobPending, SubmittedAt: now,
			Version: 1, IdempotencyKey: key, RequestHash: hex.EncodeToString(hash[:]), Held: spec.Hold},
		done: make(chan submitRes, 1),
	}
	s.seal(&req.job)
	select {
	case s.submits <- req:
	case <-r.Context().Done():
		return r.Context().Err()
	}
	var res submitRes
	select {
	case res = <-req.done:
	case <-s.stopped:
		return errorf(http.StatusServiceUnavailable, "server is shutting down; retry with the same %s", IdempotencyHeader)
	}
	if res.err != nil {
		return res.err
	}
	if errors.Is(res.res.Err, store.ErrIdempotencyMismatch) {
		return errorf(http.StatusConflict, "idempotency key %q was used for a different request (job %s)", key, res.res.Job.ID)
	}
	if res.res.Created {
		admitted = false // it holds its room until the next recount
	} else {
		w.Header().Set(ReplayedHeader, "true")
	}
	w.Header().Set("Location", "/v1/jobs/"+res.res.Job.ID)
	writeJSON(w, http.StatusCreated, redact(res.res.Job))
	return nil
}

// onlyFieldProblems reports whether every problem names a field (the body
// was an object).
func onlyFieldProblems(ps []Problem) bool {
	for _, p := range ps {
		if p.Field == "" {
			return false
		}
	}
	return true
}

// commitLoop takes waiting submits in batches, commits each batch in one
// transaction and answers every request of it: group commit. While one
// batch commits, the next one gathers.
func (s *Server) commitLoop(ctx context.Context) {
	batch := make([]*submitReq, 0, s.cfg.MaxBatch)
	jobs := make([]store.Job, 0, s.cfg.MaxBatch)
	for {
		var ok bool
		if batch, ok = gather(ctx, s.submits, batch, s.cfg.MaxBatch); !ok {
			return
		}
		jobs = jobs[:0]
		for _, req := range batch {
			jobs = append(jobs, req.job)
		}
		start := time.Now()                                            // a latency measurement, not logic
		results, err := s.store.SubmitJobs(context.Background(), jobs) // a batch outlives its requests
		s.metrics.commitLatency.Observe(time.Since(start).Seconds())
		s.metrics.batchSize.Observe(float64(len(batch)))
		if err != nil && len(batch) > 1 {
			// One bad job must not fail the others of its batch: commit
			// them one by one, each answered with its own outcome.
			s.log.Warn("commit of a batch failed; committing its jobs one by one", "jobs", len(batch), "err", err)
			for _, req := range batch {
				res, err := s.store.SubmitJobs(context.Background(), []store.Job{req.job})
				if err != nil {
					req.done <- submitRes{err: fmt.Errorf("server: commit: %w", err)}
					continue
				}
				if res[0].Created {
					s.metrics.submitted.Inc()
				}
				req.done <- submitRes{res: res[0]}
			}
			continue
		}
		if err != nil {
			s.log.Error("commit of submitted jobs failed", "jobs", len(batch), "err", err)
		}
		for i, req := range batch {
			if err != nil {
				req.done <- submitRes{err: fmt.Errorf("server: commit: %w", err)}
				continue
			}
			if results[i].Created {
				s.metrics.submitted.Inc()
			}
			req.done <- submitRes{res: results[i]}
		}
	}
}

// gather waits for one item of ch, then takes whatever else is queued, up
// to max, into buf: a batch for one group commit. It returns false when
// ctx ends first.
func gather[T any](ctx context.Context, ch <-chan T, buf []T, max int) ([]T, bool) {
	buf = buf[:0]
	select {
	case <-ctx.Done():
		return buf, false
	case x := <-ch:
		buf = append(buf, x)
	}
	for len(buf) < max {
		select {
		case x := <-ch:
			buf = append(buf, x)
		default:
			return buf, true
		}
	}
	return buf, true
}

// visibleJob returns a job the token may see; another tenant's job is
// not found, so that its existence is not revealed.
func (s *Server) visibleJob(r *http.Request, tok store.Token, id string) (store.Job, error) {
	j, err := s.store.Job(r.Context(), id)
	if err == nil && !canSee(tok, j.Tenant) {
		err = store.ErrNotFound
	}
	if errors.Is(err, store.ErrNotFound) {
		return j, errorf(http.StatusNotFound, "no job %s", id)
	}
	return j, err
}

func (s *Server) getJob(w http.ResponseWriter, r *http.Request, tok store.Token) error {
	j, err := s.visibleJob(r, tok, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, redact(j))
	return nil
}

// MaxPage bounds the jobs of one page of GET /v1/jobs.
const MaxPage = 1000

func (s *Server) listJobs(w http.ResponseWriter, r *http.Request, tok store.Token) error {
	q := r.URL.Query()
	var problems []Problem
	query := store.JobQuery{Tenant: q.Get("tenant"), After: q.Get("after"), Limit: 100, Array: q.Get("array")}
	for _, st := range splitList(q["state"]) {
		if !store.JobState(st).Valid() {
			problems = append(problems, Problem{Field: "state", Message: fmt.Sprintf("unknown state %q", st)})
		}
		query.States = append(query.States, store.JobState(st))
	}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > MaxPage {
			problems = append(problems, Problem{Field: "limit", Message: fmt.Sprintf("must be an integer from 1 to %d", MaxPage)})
		}
		query.Limit = n
	}
	switch q.Get("order") {
	case "", "oldest":
	case "newest":
		query.Newest = true
	default:
		problems = append(problems, Problem{Field: "order", Message: "must be oldest (the default) or newest"})
	}
	problems = append(problems, unknownParams(q, "state", "tenant", "after", "limit", "order", "array")...)
	if tok.Role == store.RoleUser {
		if query.Tenant != "" && query.Tenant != tok.Tenant {
			return errorf(http.StatusForbidden, "a user sees only its own tenant (%s)", tok.Tenant)
		}
		query.Tenant = tok.Tenant
	}
	if len(problems) > 0 {
		return badRequest(problems)
	}
	return s.streamJobs(w, r, query)
}

// Bounds of one page of jobs as it is read and written: the store is read
// listBatch jobs at a time, and a page ends early once it holds
// maxListBytes of JSON, so that a page of large specs costs the server a
// batch, not the page.
const (
	listBatch    = 100
	maxListBytes = 4 << 20
)

// streamJobs writes a JobList page as it reads it. The first batch is read
// before anything is written, so that a failing store is still a clean
// error; a failure later cuts the answer short (the client sees invalid
// JSON, never a wrong page).
func (s *Server) streamJobs(w http.ResponseWriter, r *http.Request, q store.JobQuery) error {
	limit := q.Limit
	q.Limit = min(limit, listBatch)
	batch, err := s.store.Jobs(r.Context(), q)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	io.WriteString(w, `{"jobs":[`)
	n, size, next := 0, 0, ""
	for {
		for _, j := range batch {
			b, err := json.Marshal(redact(j))
			if err != nil {
				return nil // cannot happen for stored jobs; the answer stays cut
			}
			if n > 0 {
				io.WriteString(w, ",")
			}
			w.Write(b)
			n, size = n+1, size+len(b)
			if n == limit || size >= maxListBytes {
				next = j.ID
				break
			}
		}
		if next != "" || len(batch) < q.Limit {
			break
		}
		q.After, q.Limit = batch[len(batch)-1].ID, min(limit-n, listBatch)
		if batch, err = s.store.Jobs(r.Context(), q); err != nil {
			s.log.Error("list jobs: store failed mid-page", "err", err)
			return nil
		}
	}
	io.WriteString(w, "]")
	if next != "" {
		b, _ := json.Marshal(next)
		io.WriteString(w, `,"next":`+string(b))
	}
	io.WriteString(w, "}\n")
	return nil
}

func splitList(vs []string) []string {
	var out []string
	for _, v := range vs {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

// cancelJob handles DELETE /v1/jobs/{id}. Cancelling a cancelled job is a
// no-op; a job that already ended otherwise is a conflict.
func (s *Server) cancelJob(w http.ResponseWriter, r *http.Request, tok store.Token) error {
	id := r.PathValue("id")
	for attempt := 0; ; attempt++ {
		j, err := s.visibleJob(r, tok, id)
		if err != nil {
			return err
		}
		if j.State == store.JobCancelled {
			writeJSON(w, http.StatusOK, redact(j))
			return nil
		}
		if j.State.Final() {
			return errorf(http.StatusConflict, "job %s already %s", id, j.State)
		}
		now := s.clock.Now().UTC()
		msg := "cancelled by " + string(tok.Role) + " token " + tok.ID
		var nodes []string
		for _, a := range j.Placement {
			nodes = append(nodes, a.Node)
		}
		if len(nodes) > 0 {
			msg += "; released " + strings.Join(nodes, ", ")
		}
		j.State, j.EndedAt, j.Placement, j.Reasons, j.CapW = store.JobCancelled, now, nil, []string{"cancelled"}, 0
		err = s.store.Apply(r.Context(), store.Changes{Jobs: []store.Job{j},
			Events: []store.Event{{Time: now, Kind: "cancelled", Job: id, Message: msg}}})
		if errors.Is(err, store.ErrConflict) && attempt < 5 {
			continue
		}
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, redact(j))
		return nil
	}
}

// requeueJob stops a running job and puts it back in the queue: its
// nodes' agents stop its processes, no longer assigned them, and the
// scheduler starts it again after its backoff.
func (s *Server) requeueJob(w http.ResponseWriter, r *http.Request, tok store.Token) error {
	id := r.PathValue("id")
	for attempt := 0; ; attempt++ {
		j, err := s.visibleJob(r, tok, id)
		if err != nil {
			return err
		}
		if j.State != store.JobRunning {
			return errorf(http.StatusConflict, "job %s is %s: only a running job can be requeued", id, j.State)
		}
		now := s.clock.Now().UTC()
		why := "requeued by " + string(tok.Role) + " token " + tok.ID
		j.State, j.Placement, j.Reasons, j.CapW = store.JobPending, nil, []string{why}, 0
		err = s.store.Apply(r.Context(), store.Changes{Jobs: []store.Job{j},
			Events: []store.Event{{Time: now, Kind: "requeued", Job: id, Message: why}}})
		if errors.Is(err, store.ErrConflict) && attempt < 5 {
			continue
		}
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, redact(j))
		return nil
	}
}

func (s *Server) jobEvents(w http.ResponseWriter, r *http.Request, tok store.Token) error {
	id := r.PathValue("id")
	if _, err := s.visibleJob(r, tok, id); err != nil {
		return err
	}
	evs, err := s.store.Events(r.Context(), store.EventQuery{Job: id, Limit: 1000})
	if err != nil {
		return err
	}
	if evs == nil {
		evs = []store.Event{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"events": evs})
	return nil
}

func (s *Server) listEvents(w http.ResponseWriter, r *http.Request, _ store.Token) error {
	q := r.URL.Query()
	var problems []Problem
	eq := store.EventQuery{Job: q.Get("job"), Limit: 100}
	if a := q.Get("after"); a != "" {
		n, err := strconv.ParseInt(a, 10, 64)
		if err != nil || n < 0 {
			problems = append(problems, Problem{Field: "after", Message: "must be a sequence number"})
		}
		eq.After = n
	}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > MaxPage {
			problems = append(problems, Problem{Field: "limit", Message: fmt.Sprintf("must be an integer from 1 to %d", MaxPage)})
		}
		eq.Limit = n
	}
	if l := q.Get("last"); l != "" {
		if q.Has("limit") {
			problems = append(problems, Problem{Field: "last", Message: "give last or limit, not both"})
		}
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > MaxPage {
			problems = append(problems, Problem{Field: "last", Message: fmt.Sprintf("must be an integer from 1 to %d", MaxPage)})
		}
		eq.Limit, eq.Last = n, true
	}
	problems = append(problems, unknownParams(q, "after", "limit", "last", "job")...)
	if len(problems) > 0 {
		return badRequest(problems)
	}
	evs, err := s.store.Events(r.Context(), eq)
	if err != nil {
		return err
	}
	out := EventList{Events: evs, Next: eq.After}
	if out.Events == nil {
		out.Events = []store.Event{}
	}
	if len(evs) > 0 {
		out.Next = evs[len(evs)-1].Seq
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
