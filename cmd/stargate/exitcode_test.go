package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"stargate/client"
	"stargate/store"
)

// Every client command exits with the code of its class of failure (see
// exitCodes), as a script sees it: a real child process.
func TestClientExitCodes(t *testing.T) {
	url, admin, _ := testServer(t)
	spec := filepath.Join(t.TempDir(), "job.yaml")
	os.WriteFile(spec, []byte("tenant: acme\naccelerators: 1\n"), 0o644)
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("tenant: acme\naccelerators: 0\n"), 0o644)
	pending, err := client.New(url, admin).SubmitSpec(context.Background(), store.JobSpec{Tenant: "acme", Accelerators: 1}, "")
	if err != nil {
		t.Fatal(err)
	}
	node := "lab/hall-a/row-1/rack-1/n1"
	commands := [][]string{
		{"submit", spec}, {"jobs"}, {"job", pending.ID}, {"cancel", "jnope"}, {"requeue", "jnope"}, {"hold", "jnope"},
		{"release", "jnope"}, {"logs", pending.ID}, {"acct"}, {"nodes"}, {"drain", node}, {"undrain", node}, {"power"},
		{"events"}, {"token", "list"}, {"token", "create"}, {"token", "revoke", "nope"}, {"tenant", "list"},
		{"tenant", "create", "green"}, {"tenant", "set", "green", "--weight", "2"}, {"tenant", "delete", "green"},
	}
	run := func(args ...string) (int, string) {
		t.Helper()
		_, stderr, code := stargate(t, args...)
		return code, stderr
	}
	for _, c := range commands {
		name := strings.Join(c, " ")
		if code, e := run(append(c, "--no-such-flag")...); code != exitUsage {
			t.Errorf("%s --no-such-flag: exit %d, want %d (%s)", name, code, exitUsage, e)
		}
		if code, e := run(append(c, "--server", "http://127.0.0.1:1", "--token", "sgt_x_y")...); code != exitUnreachable {
			t.Errorf("%s, no server: exit %d, want %d (%s)", name, code, exitUnreachable, e)
		}
		if code, e := run(append(c, "--server", url, "--token", "sgt_bad_bad")...); code != exitRefused {
			t.Errorf("%s, unknown token: exit %d, want %d (%s)", name, code, exitRefused, e)
		}
	}
	as := func(args ...string) []string { return append(args, "--server", url, "--token", admin) }
	for _, c := range []struct {
		args []string
		want int
	}{
		{as("job", "jnope"), exitNotFound},
		{as("cancel", "jnope"), exitNotFound},
		{as("hold", "jnope"), exitNotFound},
		{as("drain", "lab/hall-a/row-9/rack-1/n1"), exitNotFound},
		{as("tenant", "delete", "nope"), exitNotFound},
		{as("submit", bad), exitInvalid},
		{as("acct", "--by", "moon"), exitInvalid},
		{as("jobs", "--state", "asleep"), exitInvalid},
		{as("requeue", pending.ID), exitConflict},
		{as("tenant", "create", "twice"), exitOK},
		{as("tenant", "create", "twice"), exitConflict},
		{as("job"), exitUsage},
		{as("jobs", "-o", "yaml"), exitUsage},
		{as("tenant", "set", "twice"), exitUsage},
		{[]string{"nosuchcommand"}, exitUsage},
		{[]string{"plan", "-f", "/no/such/fleet.yaml"}, exitFailed},
		{as("jobs"), exitOK},
	} {
		if code, e := run(c.args...); code != c.want {
			t.Errorf("%s: exit %d, want %d (%s)", strings.Join(c.args, " "), code, c.want, e)
		}
	}
}
