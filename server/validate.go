package server

import (
	"fmt"
	"net/url"
	"reflect"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"stargate/store"
)

var topologies = []string{"any", "node", "nvlink", "rack", "row", "hall", "site"}

var kinds = []string{store.KindTraining, store.KindInference, store.KindBatch}

func oneOf(v string, set []string) bool {
	for _, s := range set {
		if v == s {
			return true
		}
	}
	return false
}

// validateSpec checks a job spec against the fleet and fills in defaults,
// returning every problem.
func (s *Server) validateSpec(sp *store.JobSpec) []Problem {
	var ps []Problem
	bad := func(field, format string, args ...any) {
		ps = append(ps, Problem{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	f := s.fleet
	if len(sp.Name) > 128 {
		bad("name", "at most 128 characters")
	}
	if sp.Kind == "" {
		sp.Kind = store.KindTraining
	} else if !oneOf(sp.Kind, kinds) {
		bad("kind", "must be one of %s", strings.Join(kinds, ", "))
	}
	if sp.Priority < -1000 || sp.Priority > 1000 {
		bad("priority", "must be between -1000 and 1000")
	}
	maxPerNode := 0
	for i := range f.Catalog.Nodes {
		maxPerNode = max(maxPerNode, f.Catalog.Nodes[i].Accelerators)
	}
	switch {
	case sp.Accelerators < 1:
		bad("accelerators", "must be at least 1")
	case sp.Accelerators > f.Accelerators:
		bad("accelerators", "the fleet has only %d accelerators", f.Accelerators)
	}
	if sp.PerNode < 0 || sp.PerNode > maxPerNode {
		bad("per_node", "must be between 0 (automatic) and %d", maxPerNode)
	} else if sp.PerNode > 0 && sp.Accelerators > 0 && sp.Accelerators%sp.PerNode != 0 {
		bad("per_node", "accelerators (%d) must be a multiple of per_node (%d)", sp.Accelerators, sp.PerNode)
	}
	if sp.Model != "" {
		if i := f.Catalog.Accelerator(sp.Model); i < 0 {
			bad("model", "unknown accelerator model (known: %s)", strings.Join(f.Catalog.Names(), ", "))
		} else {
			sp.Model = f.Catalog.Accelerators[i].Name
		}
	}
	if sp.Topology != "" && !oneOf(sp.Topology, topologies) {
		bad("topology", "must be one of %s", strings.Join(topologies, ", "))
	}
	if sp.TopologyRequired && (sp.Topology == "" || sp.Topology == "any") {
		bad("topology_required", "needs a topology other than any")
	}
	region := -1
	if sp.Region != "" {
		for i, r := range f.Regions {
			if r.Name == sp.Region {
				region = i
			}
		}
		if region < 0 {
			bad("region", "no such region in the fleet")
		}
	}
	if sp.Site != "" {
		site := -1
		for i, st := range f.Sites {
			if st.Name == sp.Site {
				site = i
			}
		}
		switch {
		case site < 0:
			bad("site", "no such site in the fleet")
		case region >= 0 && int(f.Sites[site].Region) != region:
			bad("site", "site %s is not in region %s", sp.Site, sp.Region)
		}
	}
	// Both become durations (nanoseconds in an int64): bounded well
	// below where that overflows.
	if sp.DurationS < 0 || sp.DurationS > maxSeconds {
		bad("duration_s", "must be between 0 and %d seconds (10 years)", maxSeconds)
	}
	if sp.TimeLimitS < 0 || sp.TimeLimitS > maxSeconds {
		bad("time_limit_s", "must be between 0 (no limit) and %d seconds (10 years)", maxSeconds)
	}
	if sp.CheckpointS < 0 || sp.CheckpointS > maxSeconds {
		bad("checkpoint_s", "must be between 0 and %d seconds (10 years)", maxSeconds)
	}
	if sp.Power < 0 || sp.Power > 1 {
		bad("power", "must be a fraction of TDP between 0 and 1")
	}
	switch sp.Launch {
	case "":
		sp.Launch = store.LaunchNode
	case store.LaunchNode, store.LaunchAccelerator:
	default:
		bad("launch", "must be %s (one process per node) or %s (one per accelerator)", store.LaunchNode, store.LaunchAccelerator)
	}
	switch {
	case sp.GraceS == 0:
		sp.GraceS = DefaultGraceS
	case sp.GraceS < 0 || sp.GraceS > maxGraceS:
		bad("grace_s", "must be between 1 and %d seconds", maxGraceS)
	}
	if sp.MaxRestarts < 0 || sp.MaxRestarts > maxRestarts {
		bad("max_restarts", "must be between 0 and %d", maxRestarts)
	}
	// A job's spec is kept in memory while the job is active: its free
	// text is bounded so that a queue of jobs stays small.
	if len(sp.Command) > maxArgs {
		bad("command", "at most %d arguments", maxArgs)
	}
	total := 0
	for _, a := range sp.Command {
		total += len(a)
	}
	if total > maxCommandBytes {
		bad("command", "at most %d bytes in all", maxCommandBytes)
	}
	if sp.Array != "" {
		if _, _, err := parseArray(sp.Array); err != nil {
			bad("array", "%v", err)
		}
	}
	if len(sp.Env) > maxEnv {
		bad("env", "at most %d variables", maxEnv)
	}
	keys := make([]string, 0, len(sp.Env))
	for k := range sp.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		switch {
		case k == "" || len(k) > 256 || strings.ContainsAny(k, "=\x00"):
			bad("env", "invalid variable name %q", k)
		case len(sp.Env[k]) > maxEnvValue:
			bad("env."+k, "at most %d bytes", maxEnvValue)
		}
		total += len(k) + len(sp.Env[k])
	}
	if len(sp.SecretEnv) > 0 && len(s.cfg.SecretKey) == 0 {
		bad("secret_env", "this server keeps no secrets: start it with a secret key (stargate server makes DATA/%s)", SecretKeyFile)
	}
	if len(sp.Env)+len(sp.SecretEnv) > maxEnv {
		bad("secret_env", "at most %d variables with env", maxEnv)
	}
	skeys := make([]string, 0, len(sp.SecretEnv))
	for k := range sp.SecretEnv {
		skeys = append(skeys, k)
	}
	sort.Strings(skeys)
	for _, k := range skeys {
		_, both := sp.Env[k]
		switch {
		case k == "" || len(k) > 256 || strings.ContainsAny(k, "=\x00"):
			bad("secret_env", "invalid variable name %q", k)
		case both:
			bad("secret_env."+k, "also in env: give it once")
		case len(sp.SecretEnv[k]) > maxEnvValue:
			bad("secret_env."+k, "at most %d bytes", maxEnvValue)
		}
		total += len(k) + len(sp.SecretEnv[k])
	}
	total += len(sp.Name) + len(sp.Tenant) + len(sp.Model) + len(sp.Region) + len(sp.Site)
	if total > maxSpecText {
		bad("", "a job's text (command, env, names) is at most %d bytes in all, not %d: keep large inputs in files the job reads", maxSpecText, total)
	}
	if len(ps) == 0 {
		ps = s.feasible.check(sp)
	}
	return ps
}

// DefaultGraceS is the time a stopped job's processes get between SIGTERM
// and SIGKILL when its spec does not say.
const DefaultGraceS = 30

// Bounds of a job's lifecycle settings.
const (
	maxSeconds  = 10 * 365 * 24 * 3600
	maxGraceS   = 3600
	maxRestarts = 100
)

// Bounds of a job's free text.
const (
	maxArgs         = 256
	maxCommandBytes = 64 << 10
	maxEnv          = 128
	maxEnvValue     = 4 << 10
	// maxSpecText bounds all of a job's text together: a queue of a
	// million jobs must fit in memory.
	maxSpecText = 64 << 10
)

// printable reports whether s is valid UTF-8 without control characters.
func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}

// badStrings lists the strings in v (a struct, slice, map or string) that
// no store can keep as text: invalid UTF-8, or a NUL byte. Paths use the
// JSON names of the fields.
func badStrings(v reflect.Value, path string) []Problem {
	switch v.Kind() {
	case reflect.String:
		if s := v.String(); !utf8.ValidString(s) || strings.ContainsRune(s, 0) {
			return []Problem{{Field: path, Message: "must be valid UTF-8 without NUL characters"}}
		}
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			return badStrings(v.Elem(), path)
		}
	case reflect.Struct:
		var out []Problem
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			if !t.Field(i).IsExported() {
				continue
			}
			name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
			if name == "" || name == "-" {
				name = t.Field(i).Name
			}
			out = append(out, badStrings(v.Field(i), joinPath(path, name))...)
		}
		return out
	case reflect.Slice, reflect.Array:
		var out []Problem
		for i := 0; i < v.Len(); i++ {
			out = append(out, badStrings(v.Index(i), fmt.Sprintf("%s[%d]", path, i))...)
		}
		return out
	case reflect.Map:
		var out []Problem
		iter := v.MapRange()
		for iter.Next() {
			out = append(out, badStrings(iter.Key(), path)...)
			out = append(out, badStrings(iter.Value(), joinPath(path, fmt.Sprint(iter.Key())))...)
		}
		sort.Slice(out, func(a, b int) bool { return out[a].Field < out[b].Field })
		return out
	}
	return nil
}

func joinPath(path, field string) string {
	if path == "" {
		return field
	}
	return path + "." + field
}

// unknownParams lists the query parameters not among known, in order.
func unknownParams(q url.Values, known ...string) []Problem {
	var out []Problem
	for k := range q {
		if !oneOf(k, known) {
			out = append(out, Problem{Field: k, Message: "unknown parameter (known: " + strings.Join(known, ", ") + ")"})
		}
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Field < out[b].Field })
	return out
}
