package server

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"stargate/fleet"
	"stargate/store"
)

// meterFleet is the small example with an hourly energy mix: hour 8 costs
// 60 USD/MWh at 100 g/kWh, hour 9 120 USD/MWh at 500 g/kWh.
func meterFleet(t *testing.T) *fleet.Fleet {
	t.Helper()
	price, carbon := make([]string, 24), make([]string, 24)
	for h := range 24 {
		price[h], carbon[h] = "80", "300"
	}
	price[8], carbon[8], price[9], carbon[9] = "60", "100", "120", "500"
	f, err := fleet.Parse(strings.NewReader(`
regions:
  - name: demo
    sites:
      - name: lab
        substation_mw: 2
        pue: 1.25
        energy:
          - source: grid
            share: 1
            price_usd_mwh: 80
            profile:
              price: [` + strings.Join(price, ", ") + `]
              carbon: [` + strings.Join(carbon, ", ") + `]
        halls:
          - name: hall-a
            limit_kw: 1200
            rows:
              - name: row
                count: 1
                limit_kw: 450
                racks:
                  - name: rack
                    count: 1
                    limit_kw: 42
                    nodes:
                      - model: dgx-h100
                        count: 2
`))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// The meter: counter deltas, power readings and the hour's mix, exactly;
// what the accounting answers is the sum of what the telemetry said.
func TestEnergyAccounting(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Scheduler = placeFirst{}; c.Fleet = meterFleet(t) })
	const n1 = "lab/hall-a/row/rack/n1"
	h.register(n1)
	ctx := context.Background()
	a := h.submit("acme", `{"name":"a","accelerators":4}`)
	b := h.submit("blue", `{"name":"b","accelerators":4}`)
	if err := h.srv.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	beat := func(body string) {
		t.Helper()
		if r := h.do(n1, "POST", NodePath(n1)+"/heartbeat", body); r.status != 200 {
			t.Fatalf("heartbeat: %d %s", r.status, r.body)
		}
	}
	// readings: accelerators 0-3 hold a, 4-7 hold b (placeFirst)
	readings := func(energy func(i int) float64, power float64) string {
		var rs []string
		for i := range 8 {
			e := ""
			if energy != nil {
				e = fmt.Sprintf(`,"energy_j":%g`, energy(i))
			}
			rs = append(rs, fmt.Sprintf(`{"index":%d,"power_w":%g%s}`, i, power, e))
		}
		return `{"accelerators":[` + strings.Join(rs, ",") + `]}`
	}
	beat(readings(func(int) float64 { return 1000 }, 500)) // 08:00:00, the first: nothing to count
	h.clock.Advance(10 * time.Second)
	beat(readings(func(i int) float64 { // +7000 J on a's, +700 on b's
		if i < 4 {
			return 8000
		}
		return 1700
	}, 500))
	h.clock.Advance(59*time.Minute + 40*time.Second) // 08:59:50: a silence the meter does not guess across
	beat(readings(func(int) float64 { return 50000 }, 500))
	h.clock.Advance(20 * time.Second) // 09:00:10: +5000 J each
	beat(readings(func(int) float64 { return 55000 }, 500))
	h.clock.Advance(10 * time.Second) // no counters: power 500 → 400, mean 450 W × 10 s
	beat(readings(nil, 400))
	// b fails: its last interval (power 400 W × 10 s) is still its own
	h.clock.Advance(10 * time.Second)
	b1, _ := h.st.Job(ctx, b.ID)
	beat(`{"accelerators":` + strings.TrimPrefix(strings.TrimSuffix(readings(nil, 400), "}"), `{"accelerators":`) +
		`,"finished":[{"job":"` + b.ID + `","attempt":` + fmt.Sprint(b1.Attempts) + `,"state":"failed","message":"exit 1"}]}`)
	if err := h.srv.flushEnergy(ctx); err != nil {
		t.Fatal(err)
	}

	// expected, by hand: a's 4 accelerators
	hour8 := 4 * 7000.0                       // J at hour 8
	hour9 := 4*5000.0 + 4*450*10 + 4*400*10.0 // J at hour 9
	pue := 1.25
	kwh := func(j float64) float64 { return j / 3.6e6 }
	wantA := AccountRow{EnergyKWh: kwh(hour8 + hour9), FacilityKWh: kwh((hour8 + hour9) * pue),
		CostUSD:          kwh(hour8*pue)/1000*60 + kwh(hour9*pue)/1000*120,
		EmissionsKg:      (kwh(hour8*pue)*100 + kwh(hour9*pue)*500) / 1000,
		AcceleratorHours: 4 * 50.0 / 3600, Source: store.EnergyMixed}
	b8, b9 := 4*700.0, 4*5000.0+4*450*10+4*400*10.0
	wantB := AccountRow{EnergyKWh: kwh(b8 + b9), LostKWh: kwh(b8 + b9), EmissionsKg: (kwh(b8*pue)*100 + kwh(b9*pue)*500) / 1000}

	near := func(x, y float64) bool { return math.Abs(x-y) <= 1e-9*math.Max(1, math.Abs(y)) }
	var acct Accounting
	h.do("admin", "GET", "/v1/accounting?state=running,failed", "").decode(t, &acct)
	rows := map[string]AccountRow{}
	for _, r := range acct.Rows {
		rows[r.Job] = r
	}
	ga, gb := rows[a.ID], rows[b.ID]
	if !near(ga.EnergyKWh, wantA.EnergyKWh) || !near(ga.FacilityKWh, wantA.FacilityKWh) || !near(ga.CostUSD, wantA.CostUSD) ||
		!near(ga.EmissionsKg, wantA.EmissionsKg) || !near(ga.AcceleratorHours, wantA.AcceleratorHours) || ga.Source != wantA.Source ||
		ga.LostKWh != 0 || ga.Site != "lab" || ga.State != "running" {
		t.Errorf("a: %+v\nwant %+v", ga, wantA)
	}
	if !near(gb.EnergyKWh, wantB.EnergyKWh) || !near(gb.LostKWh, wantB.LostKWh) || !near(gb.EmissionsKg, wantB.EmissionsKg) || gb.State != "failed" {
		t.Errorf("b: %+v\nwant %+v", gb, wantB)
	}
	if !near(acct.Totals.EnergyKWh, ga.EnergyKWh+gb.EnergyKWh) || acct.Totals.Jobs != 2 {
		t.Errorf("totals: %+v", acct.Totals)
	}
	// by tenant: each tenant's total is the sum of its jobs
	var byTenant Accounting
	h.do("admin", "GET", "/v1/accounting?state=running,failed&by=tenant", "").decode(t, &byTenant)
	if len(byTenant.Rows) != 2 || byTenant.Rows[0].Key != "acme" || !near(byTenant.Rows[0].EnergyKWh, ga.EnergyKWh) ||
		byTenant.Rows[1].Key != "blue" || !near(byTenant.Rows[1].EmissionsKg, gb.EmissionsKg) {
		t.Errorf("by tenant: %+v", byTenant.Rows)
	}
	// users see their own tenant only; bad filters are refused
	var mine Accounting
	h.do("blue", "GET", "/v1/accounting?state=running,failed", "").decode(t, &mine)
	if len(mine.Rows) != 1 || mine.Rows[0].Job != b.ID {
		t.Errorf("blue sees: %+v", mine.Rows)
	}
	for _, bad := range []string{"by=moon", "since=yesterday", "state=asleep", "limit=0"} {
		if r := h.do("admin", "GET", "/v1/accounting?"+bad, ""); r.status != 400 {
			t.Errorf("%s: %d", bad, r.status)
		}
	}
	// a time range on the end time: b ended at 09:00:30
	var after Accounting
	h.do("admin", "GET", "/v1/accounting?state=failed&since=2026-05-01T09:00:00Z", "").decode(t, &after)
	var before Accounting
	h.do("admin", "GET", "/v1/accounting?state=failed&until=2026-05-01T09:00:00Z", "").decode(t, &before)
	if len(after.Rows) != 1 || len(before.Rows) != 0 {
		t.Errorf("since/until: %d after, %d before", len(after.Rows), len(before.Rows))
	}
}
