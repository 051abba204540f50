package plan

import (
	"bytes"
	"encoding/json"
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"stargate/internal/chart"
)

// pageData is the report's JSON block, as its script reads it.
type pageData struct {
	Charts []struct {
		ID     string  `json:"id"`
		Unit   string  `json:"unit"`
		XUnit  string  `json:"xUnit"`
		Stack  bool    `json:"stack"`
		Limit  float64 `json:"limit"`
		Series []struct {
			Name   string    `json:"name"`
			Xs     string    `json:"xs"`
			Values []float64 `json:"values"`
		} `json:"series"`
	} `json:"charts"`
	Xs map[string][]float64 `json:"xs"`
}

func planPage(t *testing.T, name string) (*Report, string, *pageData) {
	t.Helper()
	f := load(t, name)
	r, err := Fleet(f, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := r.WriteHTML(&b, "plan <test>", f, []Param{{Name: "fleet", Value: "example " + name}}); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	m := regexp.MustCompile(`(?s)<script type="application/json" id="sg-data">(.*?)</script>`).FindStringSubmatch(page)
	if m == nil {
		t.Fatal("no JSON data block")
	}
	var d pageData
	if err := json.Unmarshal([]byte(m[1]), &d); err != nil {
		t.Fatalf("the data block is not JSON: %v", err)
	}
	return r, page, &d
}

// The page draws with the console's chart code, works offline, and has
// its tables as sortable HTML with the unused power of each site.
func TestHTMLIsSelfContained(t *testing.T) {
	r, page, _ := planPage(t, "stargate")
	if !strings.Contains(page, "<script>"+chart.Script+"</script>") {
		t.Error("the page does not inline the chart code")
	}
	for _, want := range []string{"abilene", "nuclear", "plan &lt;test&gt;", "Power budget", `<table class="sortable">`,
		"unused IT (MW)", "room for (accelerators)", "<dt>fleet</dt><dd>example stargate</dd>", "<dt>load factor</dt>",
		"forEach(sgSortable)", `data-bar="`} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	for _, banned := range []string{"https://", "src=\"http", "href=\"http", "<pre"} {
		if strings.Contains(page, banned) {
			t.Errorf("page contains %q", banned)
		}
	}
	// Each site's unused IT power is in its row.
	rows := regexp.MustCompile(`(?s)<tr><td>([^<]*)</td>(.*?)</tr>`).FindAllStringSubmatch(page, -1)
	for _, s := range r.Sites {
		found := false
		for _, row := range rows {
			if row[1] == s.Name && strings.Contains(row[2], ">"+mw(s.ITMW-s.DrawMW)+"</td>") && strings.Contains(row[2], ">"+mw(s.ITMW)+"</td>") {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: no row with its IT power %s MW and unused %s MW", s.Name, mw(s.ITMW), mw(s.ITMW-s.DrawMW))
		}
	}
}

// The typical day of each site's mix, recounted from the page: every hour
// the sources add up to the site's facility draw (no mix of the example
// leaves load uncovered), and over the day they give each source's share
// of the year; abilene's solar follows its profile: nothing at night, up
// to 300 MW × 0.9 at noon.
func TestHTMLDispatchByHour(t *testing.T) {
	r, _, d := planPage(t, "stargate")
	hours := d.Xs["hour"]
	if len(hours) != 48 || hours[0] != 0 || hours[47] != 24 {
		t.Fatalf("hour x values %v", hours)
	}
	byID := map[string]int{}
	for i, c := range d.Charts {
		byID[c.ID] = i
	}
	for i, s := range r.Sites {
		k, ok := byID["c-mix-"+strconv.Itoa(i)]
		if !ok {
			t.Fatalf("no mix chart for %s", s.Name)
		}
		c := d.Charts[k]
		if !c.Stack || c.Unit != "MW" || c.XUnit != "h" || c.Limit != s.SubstationMW || len(c.Series) != len(s.Mix) {
			t.Errorf("%s: stack %v, unit %q, x unit %q, limit %v, %d series for %d sources", s.Name, c.Stack, c.Unit, c.XUnit, c.Limit, len(c.Series), len(s.Mix))
			continue
		}
		for h := range 48 {
			var sum float64
			for _, ser := range c.Series {
				sum += ser.Values[h]
			}
			if math.Abs(sum-s.FacilityMW) > 1e-3*s.FacilityMW {
				t.Errorf("%s, hour %v: sources give %.2f MW, the site draws %.2f", s.Name, hours[h], sum, s.FacilityMW)
			}
		}
		for j, ser := range c.Series {
			var mwh float64
			for h := 0; h < 48; h += 2 {
				mwh += ser.Values[h]
			}
			if share := mwh / (24 * s.FacilityMW); math.Abs(share-s.Mix[j].Share) > 2e-3 {
				t.Errorf("%s %s: %.4f of a typical day, %.4f of the year", s.Name, ser.Name, share, s.Mix[j].Share)
			}
		}
		if s.Name == "abilene" {
			solar := c.Series[1]
			if solar.Name != "solar" || solar.Values[0] != 0 || math.Abs(solar.Values[2*12]-270) > 0.5 {
				t.Errorf("abilene's solar: %s at midnight %v MW, at noon %v MW (want 0 and 270)", solar.Name, solar.Values[0], solar.Values[24])
			}
		}
	}
	for _, id := range []string{"c-carbon", "c-price"} {
		if c := d.Charts[byID[id]]; len(c.Series) != len(r.Sites) || c.Unit == "" {
			t.Errorf("%s: %d series, unit %q", id, len(c.Series), c.Unit)
		}
	}
}

// A report needs the fleet it was computed from.
func TestHTMLNeedsItsFleet(t *testing.T) {
	r, err := Fleet(load(t, "stargate"), DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	if err := r.WriteHTML(&bytes.Buffer{}, "x", load(t, "small"), nil); err == nil {
		t.Error("a plan written with another fleet's energy sources")
	}
}
