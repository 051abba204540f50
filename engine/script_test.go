package engine

import (
	"flag"
	"fmt"
	"math/bits"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"stargate/examples"
	"stargate/fleet"
)

// The scenario scripts in testdata/*.txt are stories told to the engine.
// Each block is a command line, optional input lines, a "----" line and
// the expected output, ended by a blank line. Run with -update to rewrite
// the expected output from what the engine does.
var update = flag.Bool("update", false, "rewrite the expected output of testdata/*.txt")

func TestScripts(t *testing.T) {
	files, err := filepath.Glob("testdata/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scripts: %v", err)
	}
	for _, path := range files {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".txt"), func(t *testing.T) {
			runScript(t, path)
		})
	}
}

type block struct {
	line   int
	cmd    string
	input  []string
	output string
	// the output's line range [outFrom, outTo) in the file, 0-based
	outFrom, outTo int
}

func parseScript(t *testing.T, path string) ([]string, []block) {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	var out []block
	for i := 0; i < len(lines); {
		l := lines[i]
		if strings.TrimSpace(l) == "" || strings.HasPrefix(l, "#") {
			i++
			continue
		}
		b := block{line: i + 1, cmd: l}
		i++
		for i < len(lines) && lines[i] != "----" {
			b.input = append(b.input, lines[i])
			i++
		}
		if i == len(lines) {
			t.Fatalf("%s:%d: block without ----", path, b.line)
		}
		i++
		b.outFrom = i
		for i < len(lines) && lines[i] != "" {
			i++
		}
		b.outTo = i
		b.output = strings.Join(lines[b.outFrom:b.outTo], "\n")
		out = append(out, b)
	}
	return lines, out
}

func runScript(t *testing.T, path string) {
	lines, blocks := parseScript(t, path)
	h := &harness{t: t, now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	h.start = h.now
	var rewritten []string
	prev := 0
	for _, b := range blocks {
		got := strings.TrimRight(h.run(b), "\n")
		if h.s != nil {
			checkInvariants(t, h.s, h.e, nil)
		}
		rewritten = append(rewritten, lines[prev:b.outFrom]...)
		if got != "" {
			rewritten = append(rewritten, strings.Split(got, "\n")...)
		}
		prev = b.outTo
		if !*update && got != b.output {
			t.Errorf("%s:%d: %s\n--- got\n%s\n--- want\n%s", path, b.line, b.cmd, got, b.output)
		}
	}
	if *update {
		rewritten = append(rewritten, lines[prev:]...)
		if err := os.WriteFile(path, []byte(strings.Join(rewritten, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// harness is the driver the scripts talk to: a virtual clock, an engine
// and a snapshot, as the simulator has.
type harness struct {
	t          *testing.T
	f          *fleet.Fleet
	s          *Snapshot
	e          *Engine
	cfg        Config
	now, start time.Time
	nodes      map[string]int
	events     []GridEvent
}

func (h *harness) fail(b block, format string, args ...any) string {
	h.t.Fatalf("line %d: %s: %s", b.line, b.cmd, fmt.Sprintf(format, args...))
	return ""
}

func (h *harness) run(b block) string {
	fields := strings.Fields(b.cmd)
	cmd, args := fields[0], fields[1:]
	var out strings.Builder
	switch cmd {
	case "fleet":
		h.loadFleet(b, args[0])
		fmt.Fprintf(&out, "%d sites, %d nodes, %d accelerators", len(h.f.Sites), len(h.f.Nodes), h.f.Accelerators)
	case "engine":
		h.cfg = Config{Tenants: map[string]Tenant{}}
		for _, a := range args {
			k, v, _ := strings.Cut(a, "=")
			switch k {
			case "queue":
				h.cfg.Queue = v
			case "sites":
				h.cfg.Sites = v
			case "preempt":
				h.cfg.Preemption = v == "true"
			case "backoff":
				h.cfg.Backoff = h.dur(b, v)
			case "min-runtime":
				h.cfg.MinRuntime = h.dur(b, v)
			case "grid-cap":
				h.cfg.Grid.CapFraction, _ = strconv.ParseFloat(v, 64)
			case "grid-value":
				h.cfg.Grid.ValueUSDPerAcceleratorHour, _ = strconv.ParseFloat(v, 64)
			case "naive":
				h.cfg.Grid.Naive = v == "true"
			case "quota", "weight":
				tn, n, _ := strings.Cut(v, ":")
				x, _ := strconv.ParseFloat(n, 64)
				tc := h.cfg.Tenants[tn]
				if k == "quota" {
					tc.Quota = int(x)
				} else {
					tc.Weight = x
				}
				h.cfg.Tenants[tn] = tc
			default:
				h.fail(b, "unknown engine option %q", k)
			}
		}
		var err error
		if h.e, err = New(h.cfg); err != nil {
			h.fail(b, "%v", err)
		}
		if h.s, err = NewSnapshot(h.f); err != nil {
			h.fail(b, "%v", err)
		}
		h.now = h.start
		h.events = nil
		fmt.Fprintf(&out, "queue=%s sites=%s preempt=%v", h.e.cfg.Queue, h.e.cfg.Sites, h.e.cfg.Preemption)
	case "grid-event":
		h.events = append(h.events, h.gridEvent(b, args))
		if err := h.e.SetGridEvents(h.s, h.events); err != nil {
			fmt.Fprintf(&out, "error: %v", err)
		}
	case "grid-cancel":
		kept := h.events[:0]
		for _, ev := range h.events {
			if ev.ID != args[0] {
				kept = append(kept, ev)
			}
		}
		h.events = kept
		if err := h.e.SetGridEvents(h.s, h.events); err != nil {
			fmt.Fprintf(&out, "error: %v", err)
		}
	case "grid":
		h.grid(&out)
	case "submit":
		for _, l := range b.input {
			j := h.job(b, l)
			if err := h.e.Submit(j, h.now); err != nil {
				fmt.Fprintf(&out, "error: %v\n", err)
			}
		}
	case "advance":
		h.now = h.now.Add(h.dur(b, args[0]))
		fmt.Fprintf(&out, "now %s", h.clock())
	case "schedule":
		r := h.e.Schedule(h.s, h.now)
		for _, d := range r.Decisions {
			out.WriteString(h.decision(d) + "\n")
		}
		for _, w := range h.e.Waits() {
			fmt.Fprintf(&out, "wait %d %s\n", w.Job, h.s.Describe(w.Reason))
		}
	case "complete":
		for _, a := range args {
			id, _ := strconv.Atoi(a)
			if _, ok := h.s.Release(JobID(id), h.now); !ok {
				fmt.Fprintf(&out, "%d was not running\n", id)
			}
		}
	case "cancel":
		id, _ := strconv.Atoi(args[0])
		fmt.Fprintf(&out, "cancelled=%v", h.e.Cancel(JobID(id)))
	case "fail-node":
		ids := h.e.FailNode(h.s, h.node(b, args[0]), h.now)
		fmt.Fprintf(&out, "requeued %v", ids)
	case "drain-node", "restore-node":
		st := Drained
		if cmd == "restore-node" {
			st = Up
		}
		ids := h.s.SetNodeState(h.node(b, args[0]), st)
		fmt.Fprintf(&out, "running there %v", ids)
	case "measure":
		l, d := h.domain(b, args[0], args[1])
		h.s.SetMeasured(l, int(d), int64(h.watts(b, args[2])))
	case "control":
		for _, d := range h.e.Control(h.s, h.now) {
			out.WriteString(h.decision(d) + "\n")
		}
	case "power":
		l, d := h.domain(b, args[0], args[1])
		fmt.Fprintf(&out, "draw %s limit %s", kw(h.s.Draw(l, int(d))), kw(h.s.Limit(l, int(d))))
	case "state":
		h.state(&out)
	default:
		h.fail(b, "unknown command")
	}
	return out.String()
}

func kw(w int64) string { return strconv.FormatFloat(float64(w)/1000, 'f', 1, 64) + "kW" }

func (h *harness) clock() string { return "+" + h.now.Sub(h.start).String() }

func (h *harness) loadFleet(b block, name string) {
	var err error
	if strings.HasSuffix(name, ".yaml") {
		h.f, err = fleet.Load(filepath.Join("testdata", name))
	} else {
		r, e := examples.Open(name)
		if e != nil {
			h.fail(b, "%v", e)
		}
		defer r.Close()
		h.f, err = fleet.Parse(r)
	}
	if err != nil {
		h.fail(b, "%v", err)
	}
	h.nodes = map[string]int{}
	for i := range h.f.Nodes {
		h.nodes[h.f.NodeName(i)] = i
	}
}

func (h *harness) dur(b block, s string) time.Duration {
	d, err := time.ParseDuration(s)
	if err != nil {
		h.fail(b, "%v", err)
	}
	return d
}

func (h *harness) watts(b block, s string) float64 {
	mult := 1.0
	switch {
	case strings.HasSuffix(s, "kW"):
		mult, s = 1e3, strings.TrimSuffix(s, "kW")
	case strings.HasSuffix(s, "MW"):
		mult, s = 1e6, strings.TrimSuffix(s, "MW")
	case strings.HasSuffix(s, "W"):
		s = strings.TrimSuffix(s, "W")
	}
	x, err := strconv.ParseFloat(s, 64)
	if err != nil {
		h.fail(b, "%v", err)
	}
	return x * mult
}

func (h *harness) node(b block, name string) int {
	n, ok := h.nodes[name]
	if !ok {
		h.fail(b, "no node %q", name)
	}
	return n
}

func (h *harness) domain(b block, level, name string) (fleet.Level, int32) {
	for l := fleet.LevelSite; l <= fleet.LevelRack; l++ {
		if l.String() != level {
			continue
		}
		for d := range h.f.Domains(l) {
			if h.s.DomainName(l, int32(d)) == name {
				return l, int32(d)
			}
		}
	}
	h.fail(b, "no %s %q", level, name)
	return 0, 0
}

// job parses "id=1 tenant=a n=8 prio=2 dur=1h model=h100 topo=rack
// required per-node=8 region=r site=s ckpt=10m power=0.8 preemptible".
func (h *harness) job(b block, line string) Job {
	j := Job{Tenant: "default"}
	for _, a := range strings.Fields(line) {
		k, v, _ := strings.Cut(a, "=")
		var err error
		switch k {
		case "id":
			var x int
			x, err = strconv.Atoi(v)
			j.ID = JobID(x)
		case "tenant":
			j.Tenant = v
		case "n":
			j.Accelerators, err = strconv.Atoi(v)
		case "prio":
			j.Priority, err = strconv.Atoi(v)
		case "kind":
			j.Kind, err = ParseKind(v)
		case "dur":
			j.Duration = h.dur(b, v)
		case "ckpt":
			j.CheckpointEvery = h.dur(b, v)
		case "model":
			j.Model = v
		case "topo":
			j.Topology, err = ParseTopology(v)
		case "required":
			j.TopologyRequired = true
		case "per-node":
			j.PerNode, err = strconv.Atoi(v)
		case "region":
			j.Region = v
		case "site":
			j.Site = v
		case "power":
			j.PowerFraction, err = strconv.ParseFloat(v, 64)
		case "preemptible":
			j.Preemptible = true
		case "flexible":
			f := v == "true"
			j.Flexible = &f
		default:
			h.fail(b, "unknown job field %q", k)
		}
		if err != nil {
			h.fail(b, "%s: %v", a, err)
		}
	}
	return j
}

// where describes a set of slots: the nodes when few, else the smallest
// domain holding them all and the node count.
func (h *harness) where(slots []Slot) string {
	n := 0
	for _, s := range slots {
		n += bits.OnesCount64(s.Mask)
	}
	if len(slots) <= 3 {
		parts := make([]string, len(slots))
		for i, s := range slots {
			parts[i] = h.f.NodeName(int(s.Node)) + maskString(s.Mask)
		}
		return fmt.Sprintf("%d on %s", n, strings.Join(parts, " "))
	}
	// common ancestor
	for l := fleet.LevelRack; ; l-- {
		d := h.f.Path(int(slots[0].Node))[l]
		same := true
		for _, s := range slots[1:] {
			if h.f.Path(int(s.Node))[l] != d {
				same = false
				break
			}
		}
		if same || l == fleet.LevelSite {
			return fmt.Sprintf("%d on %d nodes in %s", n, len(slots), h.domainOf(slots, l, d))
		}
	}
}

// domainOf names the narrowest domain holding slots whose common
// ancestor is domain d of level l: a scale-up group of racks (a
// supernode, a pod) when one holds them all and lies below d, else d.
func (h *harness) domainOf(slots []Slot, l fleet.Level, d int32) string {
	su := h.f.ScaleUpOf(int(slots[0].Node))
	for _, s := range slots[1:] {
		if h.f.ScaleUpOf(int(s.Node)) != su {
			su = -1
		}
	}
	if su >= 0 && l <= fleet.LevelRow && l >= fleet.LevelSite && h.f.Ancestor(fleet.LevelRow, h.f.ScaleUps[su].Row, l) == d {
		return h.f.ScaleUpPath(su)
	}
	return h.s.DomainName(l, d)
}

func maskString(m uint64) string {
	lo := bits.TrailingZeros64(m)
	hi := 63 - bits.LeadingZeros64(m)
	if bits.OnesCount64(m) == hi-lo+1 {
		if lo == hi {
			return fmt.Sprintf("[%d]", lo)
		}
		return fmt.Sprintf("[%d-%d]", lo, hi)
	}
	var p []string
	for ; m != 0; m &= m - 1 {
		p = append(p, strconv.Itoa(bits.TrailingZeros64(m)))
	}
	return "[" + strings.Join(p, ",") + "]"
}

func (h *harness) decision(d Decision) string {
	switch d.Action {
	case Place:
		return fmt.Sprintf("place %d: %s (%s)", d.Job, h.where(d.Slots), h.s.Describe(d.Reason))
	case Dispatch:
		return fmt.Sprintf("dispatch %d to %s (%s)", d.Job, h.f.Sites[d.Site].Name, h.s.Describe(d.Reason))
	case Cap:
		return fmt.Sprintf("cap %d at %.0fW (%s)", d.Job, d.CapW, h.s.Describe(d.Reason))
	}
	return fmt.Sprintf("%s %d (%s)", d.Action, d.Job, h.s.Describe(d.Reason))
}

func (h *harness) state(out *strings.Builder) {
	fmt.Fprintf(out, "at %s: %d running on %d accelerators, %d free, %d pending\n",
		h.clock(), h.s.Jobs(), h.s.Allocated(), h.s.Free(), h.e.Queued())
	for _, id := range h.s.Running() {
		a, _ := h.s.Alloc(id)
		capped := ""
		if a.CapW > 0 {
			capped = fmt.Sprintf(" capped %.0fW", a.CapW)
		}
		fmt.Fprintf(out, "  running %d since %s: %s%s\n", id, "+"+a.Start.Sub(h.start).String(), h.where(a.Slots), capped)
	}
	q := h.e.Queue()
	sort.Slice(q, func(i, j int) bool { return q[i].Seq < q[j].Seq })
	for _, p := range q {
		nb := ""
		if p.NotBefore.After(h.now) {
			nb = " not before +" + p.NotBefore.Sub(h.start).String()
		}
		fmt.Fprintf(out, "  pending %d%s\n", p.Job.ID, nb)
	}
}

// gridEvent parses "id=e1 sites=lab,away start=1h end=2h notice=10m
// target=50kW kind=voluntary price=900"; times are from the script's
// start.
func (h *harness) gridEvent(b block, args []string) GridEvent {
	ev := GridEvent{}
	for _, a := range args {
		k, v, _ := strings.Cut(a, "=")
		switch k {
		case "id":
			ev.ID = v
		case "sites":
			for _, name := range strings.Split(v, ",") {
				found := false
				for i := range h.f.Sites {
					if h.f.Sites[i].Name == name {
						ev.Sites, found = append(ev.Sites, i), true
					}
				}
				if !found {
					h.fail(b, "no site %q", name)
				}
			}
		case "start":
			ev.Start = h.start.Add(h.dur(b, v))
		case "end":
			ev.End = h.start.Add(h.dur(b, v))
		case "notice":
			ev.Notice = h.dur(b, v)
		case "target":
			ev.TargetW = h.watts(b, v)
		case "kind":
			var err error
			if ev.Kind, err = ParseGridKind(v); err != nil {
				h.fail(b, "%v", err)
			}
		case "price":
			ev.PriceUSDPerMWh, _ = strconv.ParseFloat(v, 64)
		default:
			h.fail(b, "unknown grid event field %q", k)
		}
	}
	return ev
}

// grid shows each grid event's state and its scope's estimated facility
// draw against its target, and each ramp-limited site's rise in the last
// minute.
func (h *harness) grid(out *strings.Builder) {
	g := h.e.gridOf(h.s)
	g.update(h.now)
	for i := range g.events {
		ev := &g.events[i]
		state := "announced"
		switch {
		case h.now.Before(ev.Announced()):
			state = "scheduled"
		case !h.now.Before(ev.End):
			state = "ended"
		case ev.active(h.now):
			state = "active"
		}
		fmt.Fprintf(out, "%s %s %s: draw %.1fkW target %.1fkW\n", ev.ID, ev.Kind, state, g.scopeEst(ev)/1e3, ev.TargetW/1e3)
	}
	for _, sc := range h.e.GridScopes(h.s, h.now) {
		if sc.Active && sc.OnlyProtected && sc.EstimatedW > sc.TargetW {
			fmt.Fprintf(out, "%s: over its target with only protected work left\n", sc.ID)
		}
	}
	for si := range g.rampW {
		if g.rampW[si] > 0 {
			fmt.Fprintf(out, "ramp %s: %.1fkW of %.1fkW risen in the last minute\n", h.f.Sites[si].Name, g.rises[si].used(h.now)/1e3, g.rampW[si]/1e3)
		}
	}
}
