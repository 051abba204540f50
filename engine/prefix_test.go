package engine

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"
)

// TestPrefixDecidesAsTheWhole: under a policy of static order (QueueKey
// not KeyOther), a pass over the head of the queue, given in that order,
// decides what a pass over the whole queue decides first. A new leader
// reading a long queue relies on it to place from the part it has read.
func TestPrefixDecidesAsTheWhole(t *testing.T) {
	f := loadTestdata(t, "multi.yaml")
	rapid.Check(t, func(t *rapid.T) {
		queue := rapid.SampledFrom([]string{"fifo", "priority", "backfill"}).Draw(t, "queue")
		cfg := Config{Queue: queue, Preemption: rapid.Bool().Draw(t, "preemption"), Tenants: map[string]Tenant{"q": {Quota: 16}}}
		models, sizes := []string{"", "", "h100", "gb200"}, []int{1, 2, 4, 8, 16, 24, 32, 64, 200}
		draw := func(id int) Job { return drawJob(t, JobID(id), models, sizes) }
		var running, queued []Job
		for i := range rapid.IntRange(0, 30).Draw(t, "running") {
			running = append(running, draw(1+i))
		}
		for i := range rapid.IntRange(1, 60).Draw(t, "queued") {
			queued = append(queued, draw(100+i))
		}
		if queue != "fifo" {
			slices.SortStableFunc(queued, func(a, b Job) int { return cmp.Compare(b.Priority, a.Priority) })
		}
		head := rapid.IntRange(0, len(queued)).Draw(t, "head")
		now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		pass := func(jobs []Job) []string {
			e, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if e.QueueKey() == KeyOther {
				t.Fatalf("%s: no static key", queue)
			}
			s, err := NewSnapshot(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, j := range running {
				if err := e.Submit(j, now); err != nil {
					t.Fatal(err)
				}
			}
			e.Schedule(s, now)
			for _, p := range e.Queue() { // the queue is jobs alone
				e.Cancel(p.Job.ID)
			}
			for _, j := range jobs {
				if err := e.Submit(j, now.Add(time.Minute)); err != nil {
					t.Fatal(err)
				}
			}
			var out []string
			for _, d := range e.Schedule(s, now.Add(time.Hour)).Decisions {
				out = append(out, fmt.Sprintf("%v %d %d %v %s", d.Action, d.Job, d.Site, d.Slots, d.Reason))
			}
			return out
		}
		whole, part := pass(queued), pass(queued[:head])
		if len(part) > len(whole) || !slices.Equal(part, whole[:len(part)]) {
			t.Fatalf("%s: the head of %d jobs of %d decides\n%s\nthe whole queue\n%s", queue, head, len(queued),
				strings.Join(part, "\n"), strings.Join(whole, "\n"))
		}
	})
}

// TestQueueKey: only the built-in policies of a static order by the jobs'
// own fields have a key.
func TestQueueKey(t *testing.T) {
	for queue, want := range map[string]QueueKey{"fifo": KeyArrival, "priority": KeyPriority, "": KeyPriority,
		"backfill": KeyPriority, "fair": KeyOther, "las": KeyOther} {
		e, err := New(Config{Queue: queue})
		if err != nil {
			t.Fatal(err)
		}
		if got := e.QueueKey(); got != want {
			t.Errorf("queue %q: key %v, want %v", queue, got, want)
		}
	}
}
