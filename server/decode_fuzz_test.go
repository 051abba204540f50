package server

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"unicode/utf8"

	"stargate/store"
)

// FuzzDecodeStrict: no body panics the strict decoder of any request
// type, and a body it takes is valid UTF-8 and decodes to the same value
// as encoding/json makes of it (nothing altered, no key counted twice).
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
	for _, seed := range []string{
		`{"name":"lab/hall-a/row-1/rack-1/n1","labels":{"a":"b"},"draw_w":100}`,
		`{"draw_w":1,"finished":[{"job":"j","attempt":1,"state":"failed"}],"accelerators":[{"index":0,"power_w":700}]}`,
		`{"role":"agent","node_prefix":"lab/"}`,
		`{"chunks":[{"job":"j","attempt":1,"offset":0,"data":"aGk="}]}`,
		`{"name":"acme","weight":2.5,"quota":64}`,
		`{"token":"sgt_x_y"}`,
		`{"accelerators":1,"array":"0-9%2","hold":true}`,
	} {
		f.Add([]byte(seed))
	}
	// Every request body the API decodes.
	kinds := []func() any{
		func() any { return new(store.JobSpec) },
		func() any { return new(NodeRegistration) },
		func() any { return new(Heartbeat) },
		func() any { return new(TokenRequest) },
		func() any { return new(LogUpload) },
		func() any { return new(TenantRequest) },
		func() any { return new(SessionRequest) },
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, kind := range kinds {
			v := kind()
			if ps := decodeStrict(data, v); len(ps) > 0 {
				continue
			}
			if !utf8.Valid(data) {
				t.Fatalf("%T took invalid UTF-8: %q", v, data)
			}
			again := kind()
			if err := json.NewDecoder(bytes.NewReader(data)).Decode(again); err != nil {
				t.Fatalf("%T took %q, which encoding/json refuses: %v", v, data, err)
			}
			if !reflect.DeepEqual(v, again) {
				t.Fatalf("%q decoded to %+v, encoding/json makes %+v", data, v, again)
			}
			if ps := duplicateKeys(data); len(ps) > 0 {
				t.Fatalf("%T took %q with keys given twice: %v", v, data, ps)
			}
		}
	})
}
