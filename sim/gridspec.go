package sim

// Grid events as a run is given them: from --grid-event flags
// ("site=abilene,start=14h,duration=3h,target=75%,notice=10m,kind=mandatory")
// or a file of them (YAML or CSV), with the same keys everywhere.

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"stargate/engine"
	"stargate/fleet"
)

// GridEventSpec is a grid event of a run: a scope (a site or a region by
// name), when it starts (from the run's start) and how long it holds, the
// notice before it, and a target, either absolute (TargetMW) or a fraction
// of the scope's draw at its start (TargetFraction).
type GridEventSpec struct {
	ID        string
	ScopeKind string // "site" or "region"
	Scope     string
	Start     time.Duration
	Duration  time.Duration
	Notice    time.Duration
	// TargetMW is the most the scope may draw at the facility; with
	// TargetFraction instead, that fraction of its draw at the start.
	TargetMW       float64
	TargetFraction float64
	Kind           engine.GridKind
	PriceUSDPerMWh float64
}

// GridEventKeys are the keys of a grid event, in flags, YAML and CSV.
var GridEventKeys = []string{"id", "site", "region", "start", "duration", "target", "notice", "kind", "price"}

// ParseGridEvent reads one event from "key=value,...": site=NAME or
// region=NAME, start=DURATION (from the run's start), duration=DURATION,
// target=75% (of the scope's draw at the start) or target=120MW (at the
// facility), and optionally notice=DURATION, kind=mandatory|voluntary
// (default mandatory), price=USD_PER_MWH and id=NAME.
func ParseGridEvent(spec string) (GridEventSpec, error) {
	kv := map[string]string{}
	for _, part := range strings.Split(spec, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return GridEventSpec{}, fmt.Errorf("sim: grid event %q: %q is not key=value", spec, part)
		}
		if _, dup := kv[k]; dup {
			return GridEventSpec{}, fmt.Errorf("sim: grid event %q: %s given twice", spec, k)
		}
		kv[k] = strings.TrimSpace(v)
	}
	return gridEventOf(kv)
}

// gridEventOf builds an event from its keys, reporting every problem.
func gridEventOf(kv map[string]string) (GridEventSpec, error) {
	var ev GridEventSpec
	var errs []string
	bad := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	for k := range kv {
		if !slices.Contains(GridEventKeys, k) {
			bad("unknown key %q (known: %s)", k, strings.Join(GridEventKeys, ", "))
		}
	}
	ev.ID = kv["id"]
	switch site, region := kv["site"], kv["region"]; {
	case site != "" && region != "":
		bad("give site or region, not both")
	case site != "":
		ev.ScopeKind, ev.Scope = "site", site
	case region != "":
		ev.ScopeKind, ev.Scope = "region", region
	default:
		bad("site or region is required")
	}
	dur := func(key string, required bool) time.Duration {
		v, ok := kv[key]
		if !ok || v == "" {
			if required {
				bad("%s is required", key)
			}
			return 0
		}
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			bad("%s: want a duration >= 0 such as 14h or 10m, got %q", key, v)
		}
		return d
	}
	ev.Start, ev.Duration, ev.Notice = dur("start", true), dur("duration", true), dur("notice", false)
	if _, ok := kv["duration"]; ok && ev.Duration <= 0 {
		bad("duration must be > 0")
	}
	switch t := kv["target"]; {
	case t == "":
		bad("target is required (75%% of the scope's draw at the start, or 120MW)")
	case strings.HasSuffix(t, "%"):
		x, err := strconv.ParseFloat(strings.TrimSuffix(t, "%"), 64)
		if err != nil || !(x >= 0 && x <= 100) {
			bad("target: want a percentage in [0, 100], got %q", t)
		}
		ev.TargetFraction = x / 100
	default:
		x, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSuffix(t, "MW"), " "), 64)
		if err != nil || !(x >= 0) || math.IsInf(x, 0) {
			bad("target: want 75%% or 120MW, got %q", t)
		}
		ev.TargetMW = x
	}
	if k, ok := kv["kind"]; ok && k != "" {
		kind, err := engine.ParseGridKind(k)
		if err != nil {
			bad("kind: want mandatory or voluntary, got %q", k)
		}
		ev.Kind = kind
	}
	if p, ok := kv["price"]; ok && p != "" {
		x, err := strconv.ParseFloat(p, 64)
		if err != nil || !(x >= 0) || math.IsInf(x, 0) {
			bad("price: want USD per MWh >= 0, got %q", p)
		}
		ev.PriceUSDPerMWh = x
	}
	if len(errs) > 0 {
		return ev, fmt.Errorf("sim: grid event: %s", strings.Join(errs, "; "))
	}
	return ev, nil
}

// ReadGridEvents reads a file of grid events: YAML (a list of mappings,
// or a mapping whose "events" is one) or CSV with a header row naming
// the keys (GridEventKeys). name is for errors; a name ending in .csv is
// read as CSV, anything else as YAML.
func ReadGridEvents(r io.Reader, name string) ([]GridEventSpec, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("sim: %s: %w", name, err)
	}
	var rows []map[string]string
	if strings.HasSuffix(strings.ToLower(name), ".csv") {
		rows, err = gridCSV(data)
	} else {
		rows, err = gridYAML(data)
	}
	if err != nil {
		return nil, fmt.Errorf("sim: %s: %w", name, err)
	}
	var out []GridEventSpec
	var errs []error
	for i, kv := range rows {
		ev, err := gridEventOf(kv)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: event %d: %w", name, i+1, err))
			continue
		}
		out = append(out, ev)
	}
	return out, errors.Join(errs...)
}

func gridCSV(data []byte) ([]map[string]string, error) {
	recs, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
	if err != nil {
		return nil, err
	}
	if len(recs) == 0 {
		return nil, errors.New("empty: want a header row and one row per event")
	}
	head := recs[0]
	var out []map[string]string
	for _, rec := range recs[1:] {
		kv := map[string]string{}
		for i, h := range head {
			if i < len(rec) && strings.TrimSpace(rec[i]) != "" {
				kv[strings.TrimSpace(h)] = strings.TrimSpace(rec[i])
			}
		}
		out = append(out, kv)
	}
	return out, nil
}

func gridYAML(data []byte) ([]map[string]string, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	if len(doc.Content) == 0 {
		return nil, nil
	}
	n := doc.Content[0]
	if n.Kind == yaml.MappingNode {
		var list *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value != "events" {
				return nil, fmt.Errorf("line %d: unknown key %q (want events)", n.Content[i].Line, n.Content[i].Value)
			}
			list = n.Content[i+1]
		}
		if list == nil {
			return nil, nil
		}
		n = list
	}
	if n.Kind != yaml.SequenceNode {
		return nil, fmt.Errorf("line %d: want a list of events", n.Line)
	}
	var out []map[string]string
	for _, item := range n.Content {
		if item.Kind != yaml.MappingNode {
			return nil, fmt.Errorf("line %d: an event is a mapping of %s", item.Line, strings.Join(GridEventKeys, ", "))
		}
		kv := map[string]string{}
		for i := 0; i+1 < len(item.Content); i += 2 {
			k, v := item.Content[i], item.Content[i+1]
			if v.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("line %d: %s must be a scalar", v.Line, k.Value)
			}
			kv[k.Value] = v.Value
		}
		out = append(out, kv)
	}
	return out, nil
}

// gridSites resolves an event's scope on a fleet.
func gridSites(f *fleet.Fleet, ev *GridEventSpec) ([]int, error) {
	var sites []int
	for si := range f.Sites {
		st := &f.Sites[si]
		if ev.ScopeKind == "site" && st.Name == ev.Scope || ev.ScopeKind == "region" && f.Regions[st.Region].Name == ev.Scope {
			sites = append(sites, si)
		}
	}
	if len(sites) == 0 {
		return nil, fmt.Errorf("sim: grid event %s: no %s %q in the fleet", ev.ID, ev.ScopeKind, ev.Scope)
	}
	return sites, nil
}

// String writes the event as ParseGridEvent reads it.
func (ev GridEventSpec) String() string {
	var b strings.Builder
	if ev.ID != "" {
		b.WriteString("id=" + ev.ID + ",")
	}
	fmt.Fprintf(&b, "%s=%s,start=%s,duration=%s,", ev.ScopeKind, ev.Scope, ev.Start, ev.Duration)
	if ev.TargetMW > 0 || ev.TargetFraction == 0 {
		fmt.Fprintf(&b, "target=%gMW", ev.TargetMW)
	} else {
		fmt.Fprintf(&b, "target=%g%%", 100*ev.TargetFraction)
	}
	if ev.Notice > 0 {
		fmt.Fprintf(&b, ",notice=%s", ev.Notice)
	}
	fmt.Fprintf(&b, ",kind=%s", ev.Kind)
	if ev.PriceUSDPerMWh > 0 {
		fmt.Fprintf(&b, ",price=%g", ev.PriceUSDPerMWh)
	}
	return b.String()
}
