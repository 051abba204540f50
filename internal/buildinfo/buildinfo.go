// Package buildinfo tells which build of Stargate is running, from the
// binary's own build information: the module version ("(devel)" for a
// build from a work tree), the commit and its time, and whether the tree
// had changes.
package buildinfo

import (
	"runtime"
	"runtime/debug"
)

// Info describes the running build.
type Info struct {
	Version   string `json:"version"`
	Revision  string `json:"revision,omitempty"`
	Time      string `json:"time,omitempty"`
	Modified  bool   `json:"modified,omitempty"`
	GoVersion string `json:"go_version"`
}

// Read returns the running binary's build information.
func Read() Info {
	in := Info{Version: "(unknown)", GoVersion: runtime.Version()}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return in
	}
	if bi.Main.Version != "" {
		in.Version = bi.Main.Version
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			in.Revision = s.Value
		case "vcs.time":
			in.Time = s.Value
		case "vcs.modified":
			in.Modified = s.Value == "true"
		}
	}
	return in
}

// String is one line: "v1.2.3 (abc1234, 2026-05-01T10:00:00Z) go1.26".
func (in Info) String() string {
	s := in.Version
	if in.Revision != "" {
		rev := in.Revision
		if len(rev) > 12 {
			rev = rev[:12]
		}
		if in.Modified {
			rev += "+changes"
		}
		s += " (" + rev
		if in.Time != "" {
			s += ", " + in.Time
		}
		s += ")"
	}
	return s + " " + in.GoVersion
}
