package chart

import (
	"bytes"
	"encoding/json"
	"math"
	"regexp"
	"strings"
	"testing"
)

func TestNumKeepsFourDigits(t *testing.T) {
	for _, c := range []struct {
		x    float64
		want string
	}{{0, "0"}, {1234.5678, "1235"}, {0.000123456, "0.0001235"}, {-98.7654, "-98.77"}, {1e9 + 7, "1e+09"},
		{0.1 + 0.2, "0.3"}, {math.NaN(), "null"}, {math.Inf(1), "null"}} {
		b, err := json.Marshal(Num(c.x))
		if err != nil || string(b) != c.want {
			t.Errorf("Num(%v) = %s (%v), want %s", c.x, b, err, c.want)
		}
	}
}

// Text from a fleet file or a trace (a site's name, a tenant's) cannot
// close the data block or the page's markup.
func TestPageEscapes(t *testing.T) {
	bad := `</script><script>alert(1)</script>`
	p := &Page{Title: bad, Lead: []string{bad}, Params: []Param{{Name: bad, Value: bad}},
		Sections: []Section{{ID: "s", Title: bad, Figures: []Figure{{ID: "c", Caption: bad}},
			Tables: []Table{{Caption: bad, Head: Head(bad), Rows: [][]Cell{{Text(bad)}}}}}},
		Charts: []Line{{ID: "c", Label: bad, Unit: bad, Series: []Series{{Name: bad, Xs: []Num{1}, Values: []Num{2}}}}},
	}
	var b bytes.Buffer
	if err := p.Write(&b); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	if n := strings.Count(page, "<script>alert"); n != 0 {
		t.Errorf("the page runs an injected script %d times", n)
	}
	m := regexp.MustCompile(`(?s)<script type="application/json" id="sg-data">(.*?)</script>`).FindStringSubmatch(page)
	if m == nil {
		t.Fatal("no data block")
	}
	var d struct {
		Charts []Line `json:"charts"`
	}
	if err := json.Unmarshal([]byte(m[1]), &d); err != nil || len(d.Charts) != 1 || d.Charts[0].Label != bad {
		t.Errorf("the data block reads back as %+v (%v)", d, err)
	}
}

func TestAlignHeadFollowsTheCells(t *testing.T) {
	tb := Table{Head: Head("name", "MW", "share"), Rows: [][]Cell{{Text("a"), Number("1.0", 1), Share(0.5)}}}
	tb.AlignHead()
	if tb.Head[0].Num || !tb.Head[1].Num || tb.Head[2].Num {
		t.Errorf("heads aligned %v %v %v, want text left, number right, gauge left", tb.Head[0].Num, tb.Head[1].Num, tb.Head[2].Num)
	}
	if c := Share(0.25); c.Text != "25.0%" || !c.Bar || !c.Part || c.V != 0.25 {
		t.Errorf("Share(0.25) = %+v", c)
	}
}
