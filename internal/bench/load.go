package bench

import (
	"context"
	"fmt"
	"slices"
	"stargate/client"
	"sync"
	"time"
)

// BenchOptions configures Bench.
type BenchOptions struct {
	// Clients is the number of concurrent submitters (default 64).
	Clients int
	// Duration is how long to submit (default 5s), after Warmup (default
	// 1s) whose submits are not counted.
	Duration, Warmup time.Duration
	// Spec is the job submitted (default: 8 accelerators).
	Spec []byte
	// KeyPrefix makes each submit's Idempotency-Key unique to this run;
	// empty: no keys.
	KeyPrefix string
	// Op, when set, is the request measured instead of a submit: the i-th
	// of a worker.
	Op func(ctx context.Context, worker, i int) error
}

// BenchResult is what Bench measured: only requests that succeeded count
// (for submits, a 201, which means the job was committed).
type BenchResult struct {
	Submits   int           `json:"submits"`
	Errors    int           `json:"errors"`
	Seconds   float64       `json:"seconds"`
	PerSecond float64       `json:"submits_per_s"`
	P50       time.Duration `json:"p50_ns"`
	P99       time.Duration `json:"p99_ns"`
	Max       time.Duration `json:"max_ns"`
	// FirstError is an example of what failed, if anything did.
	FirstError string `json:"first_error,omitempty"`
}

// Bench submits jobs (or runs Op) from concurrent clients for a while and
// measures the rate of acknowledged requests and their latency.
func Bench(ctx context.Context, c *client.Client, o BenchOptions) (BenchResult, error) {
	if o.Clients <= 0 {
		o.Clients = 64
	}
	if o.Duration <= 0 {
		o.Duration = 5 * time.Second
	}
	if o.Warmup < 0 {
		o.Warmup = 0
	} else if o.Warmup == 0 {
		o.Warmup = time.Second
	}
	if o.Spec == nil {
		o.Spec = []byte(`{"name":"bench","accelerators":8,"duration_s":3600}`)
	}
	begin := time.Now()
	measureFrom := begin.Add(o.Warmup)
	end := measureFrom.Add(o.Duration)
	var (
		mu       sync.Mutex
		lat      []time.Duration
		errs     int
		firstErr string
		wg       sync.WaitGroup
	)
	for w := 0; w < o.Clients; w++ {
		wg.Go(func() {
			var mine []time.Duration
			var bad int
			var example string
			for i := 0; ; i++ {
				t0 := time.Now()
				if t0.After(end) || ctx.Err() != nil {
					break
				}
				var err error
				if o.Op != nil {
					err = o.Op(ctx, w, i)
				} else {
					key := ""
					if o.KeyPrefix != "" {
						key = fmt.Sprintf("%s-%d-%d", o.KeyPrefix, w, i)
					}
					_, _, err = c.Submit(ctx, o.Spec, "application/json", key)
				}
				d := time.Since(t0)
				if t0.Before(measureFrom) {
					continue
				}
				if err != nil {
					bad++
					if example == "" {
						example = err.Error()
					}
					continue
				}
				mine = append(mine, d)
			}
			mu.Lock()
			lat = append(lat, mine...)
			errs += bad
			if firstErr == "" {
				firstErr = example
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	secs := time.Since(measureFrom).Seconds()
	if err := ctx.Err(); err != nil {
		return BenchResult{}, err
	}
	slices.Sort(lat)
	r := BenchResult{Submits: len(lat), Errors: errs, Seconds: secs, FirstError: firstErr}
	if secs > 0 {
		r.PerSecond = float64(len(lat)) / secs
	}
	if n := len(lat); n > 0 {
		r.P50, r.P99, r.Max = lat[n*50/100], lat[min(n-1, n*99/100)], lat[n-1]
	}
	return r, nil
}
