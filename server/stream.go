package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"stargate/store"
)

// GET /v1/stream is a server-sent event stream (text/event-stream) that
// tells a console when to look again, so that it needs no polling of its
// own and no reloads:
//
//   - event "tick", every streamEvery: {"at": time, "jobs": {state: count}}
//     with the jobs the caller may see, so that a page showing jobs or
//     draw refreshes what it shows;
//   - event "journal" (operators and admins): each new event of the
//     journal, as GET /v1/events gives it, in sequence order.
//
// The stream ends when the client leaves or the server shuts down; a
// browser's EventSource reconnects by itself after the "retry" delay.

// streamEvery is the period of the stream's ticks.
const streamEvery = 2 * time.Second

// streamMargin is how far back each journal poll reads again: on
// PostgreSQL, events of concurrent transactions can become visible after
// events with higher sequence numbers.
const streamMargin = 256

func (s *Server) stream(w http.ResponseWriter, r *http.Request, tok store.Token) error {
	if problems := unknownParams(r.URL.Query()); len(problems) > 0 {
		return badRequest(problems)
	}
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	fmt.Fprintf(w, "retry: 3000\n\n")
	rc.Flush()
	journal := tok.Role == store.RoleAdmin || tok.Role == store.RoleOperator
	var high int64 // the highest journal sequence sent
	seen := map[int64]bool{}
	if journal {
		// start at the journal's end: the page reads what came before
		tail, err := s.store.Events(r.Context(), store.EventQuery{Limit: streamMargin, Last: true})
		if err != nil {
			return nil // the status is sent: end the stream, the client retries
		}
		for _, e := range tail {
			seen[e.Seq] = true
			high = max(high, e.Seq)
		}
	}
	t := time.NewTicker(streamEvery)
	defer t.Stop()
	for {
		if err := s.streamOnce(w, r, tok, journal, &high, seen); err != nil {
			return nil
		}
		rc.SetWriteDeadline(time.Now().Add(streamEvery * 5)) // a client that stops reading is dropped
		if err := rc.Flush(); err != nil {
			return nil
		}
		select {
		case <-r.Context().Done():
			return nil
		case <-s.closing:
			return nil
		case <-t.C:
		}
	}
}

// streamOnce writes one tick, and the journal's new events.
func (s *Server) streamOnce(w http.ResponseWriter, r *http.Request, tok store.Token, journal bool, high *int64, seen map[int64]bool) error {
	if journal {
		evs, err := s.store.Events(r.Context(), store.EventQuery{After: max(0, *high-streamMargin), Limit: MaxPage})
		if err != nil {
			return err
		}
		for _, e := range evs {
			if seen[e.Seq] || e.Seq <= *high-streamMargin {
				continue
			}
			seen[e.Seq] = true
			*high = max(*high, e.Seq)
			if err := writeEvent(w, "journal", e); err != nil {
				return err
			}
		}
		for seq := range seen {
			if seq <= *high-streamMargin {
				delete(seen, seq)
			}
		}
	}
	counts, err := s.jobCounts(r.Context())
	if err != nil {
		return err
	}
	tick := StreamTick{At: s.clock.Now().UTC(), Jobs: map[store.JobState]int{}}
	for _, c := range counts {
		if canSee(tok, c.Tenant) {
			tick.Jobs[c.State] += c.Jobs
		}
	}
	return writeEvent(w, "tick", tick)
}

func writeEvent(w http.ResponseWriter, name string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "event: %s\ndata: %s\n\n", name, data)
	return err
}
