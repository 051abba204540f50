package main

import (
	"testing"

	"stargate/engine"
)

func TestParseTenants(t *testing.T) {
	got, err := parseTenants([]string{"acme=2", "blue=0.5:512"})
	if err != nil {
		t.Fatal(err)
	}
	if got["acme"] != (engine.Tenant{Weight: 2}) || got["blue"] != (engine.Tenant{Weight: 0.5, Quota: 512}) {
		t.Errorf("tenants = %+v", got)
	}
	for _, bad := range []string{"acme", "=1", "acme=0", "acme=x", "acme=1:-3", "acme=1:lots"} {
		if _, err := parseTenants([]string{bad}); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if _, err := parseTenants([]string{"a=1", "a=2"}); err == nil {
		t.Error("a tenant given twice was accepted")
	}
}
