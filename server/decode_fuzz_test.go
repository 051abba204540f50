package server

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"unicode/utf8"

	"stargate/store"
)

// FuzzDecodeStrict: no body panics the strict decoder, and a body it
// takes is valid UTF-8 and decodes to the same value as encoding/json
// makes of it (nothing altered, no key counted twice).
func FuzzDecodeStrict(f *testing.F) {
	for _, seed := range []string{
		`{"accelerators":1}`,
		`{"accelerators":1,"accelerators":2}`,
		`{"accelerators":1,"env":{"A":"1","A":"2"}}`,
		"{\"name\":\"a\xffb\",\"accelerators\":1}",
		`{"Accelerators":1}`,
		`{"accelerators":"8"}`,
		`[{"accelerators":1}]`,
		`{"command":["a",["b"]],"env":{"X":{"Y":1}}}`,
		`null`, ``, `{`, `{"a":1}{"b":2}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var spec store.JobSpec
		if ps := decodeStrict(data, &spec); len(ps) > 0 {
			return
		}
		if !utf8.Valid(data) {
			t.Fatalf("took invalid UTF-8: %q", data)
		}
		var again store.JobSpec
		dec := json.NewDecoder(bytes.NewReader(data))
		if err := dec.Decode(&again); err != nil {
			t.Fatalf("took %q, which encoding/json refuses: %v", data, err)
		}
		if !reflect.DeepEqual(spec, again) {
			t.Fatalf("%q decoded to %+v, encoding/json makes %+v", data, spec, again)
		}
		if ps := duplicateKeys(data); len(ps) > 0 {
			t.Fatalf("took %q with keys given twice: %v", data, ps)
		}
	})
}
