package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestTenantCommands(t *testing.T) {
	url, admin, _ := testServer(t)
	if out := cli(t, url, admin, "tenant", "create", "research", "--weight", "3", "--quota", "64"); !strings.Contains(out, "created tenant research: weight 3, quota 64") {
		t.Errorf("create: %s", out)
	}
	if out := cli(t, url, admin, "tenant", "set", "research", "--quota", "128"); !strings.Contains(out, "weight 3, quota 128") {
		t.Errorf("set keeps the weight: %s", out)
	}
	cli(t, url, admin, "tenant", "set", "research", "--model-quota", "h100=64", "--power-quota-kw", "500")
	if out := cli(t, url, admin, "tenant", "list"); !strings.Contains(out, "h100-sxm=64") || !strings.Contains(out, "500") {
		t.Errorf("list lacks the quotas by model and of power: %s", out)
	}
	out := cli(t, url, admin, "tenant", "list")
	if !strings.Contains(out, "TENANT") || !strings.Contains(out, "research") || !strings.Contains(out, "128") {
		t.Errorf("list: %s", out)
	}
	var stdout, stderr bytes.Buffer
	if err := Run(context.Background(), []string{"tenant", "set", "research", "--server", url, "--token", admin}, &stdout, &stderr); err == nil {
		t.Errorf("set with nothing to set: no error")
	}
	if err := Run(context.Background(), []string{"tenant", "create", "research", "--server", url, "--token", admin}, &stdout, &stderr); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Errorf("create twice: %v", err)
	}
	if out := cli(t, url, admin, "tenant", "delete", "research"); !strings.Contains(out, "deleted tenant research") {
		t.Errorf("delete: %s", out)
	}
	if out := cli(t, url, admin, "tenant", "list"); strings.Contains(out, "research") {
		t.Errorf("listed after delete: %s", out)
	}
}
