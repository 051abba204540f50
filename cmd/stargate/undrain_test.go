package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"stargate/client"
	"stargate/server"
	"stargate/store"
)

func TestUndrainCommand(t *testing.T) {
	url, admin, _ := testServer(t)
	agent := strings.SplitN(cli(t, url, admin, "token", "create", "--role", "agent"), "\n", 2)[0]
	const node = "lab/hall-a/row-2/rack-1/n3"
	if _, err := client.New(url, agent).Register(context.Background(), server.NodeRegistration{Name: node}); err != nil {
		t.Fatal(err)
	}
	if out := cli(t, url, admin, "drain", node); !strings.Contains(out, "draining") {
		t.Fatalf("drain: %s", out)
	}
	if out := cli(t, url, admin, "undrain", node); !strings.Contains(out, node+" ready") {
		t.Errorf("undrain: %s", out)
	}
	var nodes []store.Node
	if err := json.Unmarshal([]byte(cli(t, url, admin, "undrain", node, "-o", "json")), &nodes); err != nil ||
		len(nodes) != 1 || nodes[0].State != store.NodeReady || nodes[0].Drained {
		t.Errorf("undrain -o json: %+v, %v", nodes, err)
	}
	if out := cli(t, url, admin, "events"); !strings.Contains(out, "undrain") {
		t.Errorf("events lack the undrain: %s", out)
	}
	user := strings.SplitN(cli(t, url, admin, "token", "create", "--role", "user", "--tenant", "acme"), "\n", 2)[0]
	var o, e bytes.Buffer
	if err := Run(context.Background(), []string{"undrain", node, "--server", url, "--token", user}, &o, &e); err == nil || !strings.Contains(err.Error(), "403") {
		t.Errorf("undrain as a user: %v", err)
	}
}
