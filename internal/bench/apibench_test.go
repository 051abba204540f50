package bench

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"stargate/examples"
)

func TestRunShort(t *testing.T) {
	f, err := examples.Fleet("small")
	if err != nil {
		t.Fatal(err)
	}
	stores := []string{"sqlite"}
	if os.Getenv("STARGATE_TEST_POSTGRES") != "" {
		stores = append(stores, "postgres")
	}
	var out bytes.Buffer
	rep, err := Run(context.Background(), Options{Stores: stores, Postgres: os.Getenv("STARGATE_TEST_POSTGRES"), Fleet: f,
		Bench: BenchOptions{Clients: 8, Duration: 300 * time.Millisecond, Warmup: -1}}, &out)
	if err != nil {
		t.Fatal(err)
	}
	for _, res := range rep.Results {
		if res.Submits == 0 || res.Errors != 0 || res.P99 <= 0 {
			t.Errorf("%s: %+v", res.Store, res)
		}
	}
	if !strings.Contains(out.String(), "submits/s") {
		t.Errorf("report:\n%s", out.String())
	}
	t.Logf("\n%s", out.String())
}
