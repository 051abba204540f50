// Package examples embeds the example fleet files, so that the stargate
// binary runs on its built-in defaults with no file on disk.
package examples

import (
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strings"

	"stargate/fleet"
)

//go:embed *.yaml
var files embed.FS

// Open returns the example fleet file with this name ("small",
// "stargate", "million-gpu"; the .yaml suffix is optional).
func Open(name string) (fs.File, error) {
	f, err := files.Open(strings.TrimSuffix(name, ".yaml") + ".yaml")
	if err != nil {
		return nil, fmt.Errorf("examples: no built-in fleet %q (have %s)", name, strings.Join(Names(), ", "))
	}
	return f, nil
}

// Names lists the built-in fleets.
func Names() []string {
	entries, _ := fs.ReadDir(files, ".")
	var out []string
	for _, e := range entries {
		out = append(out, strings.TrimSuffix(e.Name(), ".yaml"))
	}
	sort.Strings(out)
	return out
}

// Fleet loads the built-in fleet with this name.
func Fleet(name string) (*fleet.Fleet, error) {
	r, err := Open(name)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return fleet.Parse(r)
}
