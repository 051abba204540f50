package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"stargate/server"
	"stargate/store"
)

// --follow re-reads a margin on each poll, so that an event that becomes
// visible after one with a higher sequence number (concurrent commits on
// PostgreSQL) is shown, once, and nothing is shown twice.
func TestEventsFollowSeesLateEvents(t *testing.T) {
	var mu sync.Mutex
	visible := []int64{1, 3} // 2 commits late
	polls := 0
	// The command stops once the server has answered a few polls, however
	// slowly the machine runs; the timeout is only a backstop.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		after, _ := strconv.ParseInt(r.URL.Query().Get("after"), 10, 64)
		polls++
		if polls == 2 {
			visible = []int64{1, 2, 3, 4}
		}
		if polls == 4 {
			defer cancel()
		}
		out := server.EventList{Events: []store.Event{}, Next: after}
		for _, s := range visible {
			if s > after {
				out.Events = append(out.Events, store.Event{Seq: s, Kind: "placed", Time: time.Unix(0, 0), Job: "j" + strconv.FormatInt(s, 10)})
				out.Next = s
			}
		}
		json.NewEncoder(w).Encode(out)
	}))
	defer hs.Close()
	var out, errb bytes.Buffer
	err := Run(ctx, []string{"events", "--follow", "--every", "20ms", "--server", hs.URL, "--token", "sgt_x"}, &out, &errb)
	if err != nil {
		t.Fatal(err, errb.String())
	}
	for _, j := range []string{"j1", "j2", "j3", "j4"} {
		if n := strings.Count(out.String(), " "+j+" "); n != 1 {
			t.Errorf("%s shown %d times:\n%s", j, n, out.String())
		}
	}
}
