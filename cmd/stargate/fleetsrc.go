package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"stargate/examples"
	"stargate/fleet"
)

// fleetSource is the --fleet/--example pair shared by the commands that
// read a fleet: a file on disk, or one of the built-in examples.
type fleetSource struct {
	file    string
	example string
	def     string // built-in example used when neither flag is given
}

func (s *fleetSource) addFlags(cmd *cobra.Command, def string) {
	s.def = def
	cmd.Flags().StringVarP(&s.file, "fleet", "f", "", "fleet file (YAML); default: the built-in "+def+" example")
	cmd.Flags().StringVar(&s.example, "example", "", fmt.Sprintf("use a built-in example fleet: %v", examples.Names()))
}

// name says where the fleet came from, for titles and messages.
func (s *fleetSource) name() string {
	if s.file != "" {
		return s.file
	}
	if s.example != "" {
		return "example " + s.example
	}
	return "example " + s.def
}

func (s *fleetSource) load() (*fleet.Fleet, error) {
	if s.file != "" && s.example != "" {
		return nil, fmt.Errorf("give --fleet or --example, not both")
	}
	if s.file != "" {
		return fleet.Load(s.file)
	}
	name := s.example
	if name == "" {
		name = s.def
	}
	f, err := examples.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return fleet.Parse(f.(io.Reader))
}
