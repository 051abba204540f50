package server

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"stargate/store"
)

func TestParseArray(t *testing.T) {
	for _, c := range []struct {
		expr    string
		indices string
		limit   int
		err     string
	}{
		{"0-3", "[0 1 2 3]", 0, ""},
		{"0-9%4", "[0 1 2 3 4 5 6 7 8 9]", 4, ""},
		{"1,3,5-7", "[1 3 5 6 7]", 0, ""},
		{"0-15:4%2", "[0 4 8 12]", 2, ""},
		{"7,1-2,2", "[1 2 7]", 0, ""},
		{" 3 ", "[3]", 0, ""},
		{"", "", 0, "no indices"},
		{"%3", "", 0, "no indices"},
		{"5-1", "", 0, "backwards"},
		{"1:2", "", 0, "needs a range"},
		{"0-4:0", "", 0, "step"},
		{"0-4%0", "", 0, "limit"},
		{"0-4%x", "", 0, "limit"},
		{"-1", "", 0, "not an index"},
		{"a-b", "", 0, "not an index"},
		{"0-10000", "", 0, "more than 10000"},
		{"0-9999,20000-29999", "", 0, "more than 10000"},
		{"4000001", "", 0, "not an index"},
	} {
		idx, lim, err := parseArray(c.expr)
		switch {
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%q: err %v, want %q", c.expr, err, c.err)
		case c.err == "" && err != nil:
			t.Errorf("%q: %v", c.expr, err)
		case c.err == "" && (fmt.Sprint(idx) != c.indices || lim != c.limit):
			t.Errorf("%q: %v %%%d, want %s %%%d", c.expr, idx, lim, c.indices, c.limit)
		}
	}
}

func FuzzParseArray(f *testing.F) {
	for _, s := range []string{"0-99%10", "1,3,5-9", "0-15:4", "%", "-", ":", "0-4000000", "1,,2", "9-0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		idx, lim, err := parseArray(expr)
		if err != nil {
			return
		}
		if len(idx) == 0 || len(idx) > maxArrayElements || lim < 0 {
			t.Fatalf("%q: %d indices, limit %d", expr, len(idx), lim)
		}
		for i, v := range idx {
			if v < 0 || v > maxArrayIndex || (i > 0 && v <= idx[i-1]) {
				t.Fatalf("%q: indices %v not ascending within bounds", expr, idx)
			}
		}
	})
}

func TestArraySubmitAndLimit(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Scheduler = placeFirst{} })
	h.register(node1) // 8 accelerators: room for every element but for the limit
	ctx := context.Background()
	r := h.do("acme", "POST", "/v1/jobs", `{"name":"sweep","accelerators":1,"array":"0-5%2","env":{"A":"x"}}`, IdempotencyHeader, "k")
	var arr ArraySubmitted
	r.decode(t, &arr)
	if r.status != 201 || len(arr.Jobs) != 6 || arr.ArrayJob != arr.Jobs[0].ID {
		t.Fatalf("submit: %d %s", r.status, r.body)
	}
	for i, j := range arr.Jobs {
		if j.ArrayJob != arr.ArrayJob || j.ArrayIndex != i || j.Spec.Name != fmt.Sprintf("sweep[%d]", i) ||
			j.Spec.Env["STARGATE_ARRAY_INDEX"] != fmt.Sprint(i) || j.Spec.Env["STARGATE_ARRAY_JOB_ID"] != arr.ArrayJob ||
			j.Spec.Env["STARGATE_ARRAY_COUNT"] != "6" || j.Spec.Env["A"] != "x" {
			t.Errorf("element %d: %+v", i, j)
		}
	}
	// a retry with the key answers the same elements
	r = h.do("acme", "POST", "/v1/jobs", `{"name":"sweep","accelerators":1,"array":"0-5%2","env":{"A":"x"}}`, IdempotencyHeader, "k")
	var again ArraySubmitted
	r.decode(t, &again)
	if r.status != 201 || r.header.Get(ReplayedHeader) != "true" || again.ArrayJob != arr.ArrayJob || len(again.Jobs) != 6 {
		t.Errorf("replay: %d %s", r.status, r.body)
	}
	running := func() (n int) {
		var list JobList
		h.do("acme", "GET", "/v1/jobs?array="+arr.ArrayJob+"&state=running", "").decode(t, &list)
		return len(list.Jobs)
	}
	if err := h.srv.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	if n := running(); n != 2 {
		t.Fatalf("running elements with %%2: %d", n)
	}
	j, _ := h.st.Job(ctx, arr.Jobs[5].ID)
	if j.State != store.JobPending || len(j.Reasons) != 1 || !strings.Contains(j.Reasons[0], "array limit") {
		t.Errorf("a held-back element: %s %v", j.State, j.Reasons)
	}
	// one ends: the next takes its place, never more than 2
	h.do("acme", "DELETE", "/v1/jobs/"+arr.Jobs[0].ID, "")
	if err := h.srv.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	if n := running(); n != 2 {
		t.Errorf("after one ended: %d running", n)
	}
	if j, _ := h.st.Job(ctx, arr.Jobs[2].ID); j.State != store.JobRunning {
		t.Errorf("the next element by index: %s", j.State)
	}
	// refused: a bad expression, an array too large for the tenant's bound
	if r := h.do("acme", "POST", "/v1/jobs", `{"accelerators":1,"array":"9-1"}`); r.status != 400 || !strings.Contains(string(r.body), "array") {
		t.Errorf("a bad array: %d %s", r.status, r.body)
	}
}

func TestArrayRespectsThePendingBound(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.MaxPendingPerTenant = 10 })
	if r := h.do("acme", "POST", "/v1/jobs", `{"accelerators":1,"array":"0-10"}`); r.status != http.StatusTooManyRequests {
		t.Errorf("11 elements over a bound of 10: %d %s", r.status, r.body)
	}
	if r := h.do("acme", "POST", "/v1/jobs", `{"accelerators":1,"array":"0-9"}`); r.status != 201 {
		t.Errorf("10 elements: %d %s", r.status, r.body)
	}
	if r := h.do("acme", "POST", "/v1/jobs", `{"accelerators":1}`); r.status != http.StatusTooManyRequests {
		t.Errorf("one more: %d", r.status)
	}
}
