package upgrade

import (
	"fmt"
	"testing"
	"time"
)

// FuzzDecode: no input makes Decode panic or hang; a state that decodes
// encodes again.
func FuzzDecode(f *testing.F) {
	cfgs := stateUnits(f)
	s, settings := testState(f, append(cfgs, zeroUnits(cfgs[0])...))
	data, err := Encode(s, settings)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	js, _ := EncodeJSON(s)
	f.Add(js)
	f.Add([]byte(Magic))
	f.Fuzz(func(t *testing.T, data []byte) {
		tm := time.AfterFunc(10*time.Second, func() { panic(fmt.Sprintf("slow input %q", data)) })
		defer tm.Stop()
		got, err := Decode(data)
		if err != nil {
			return
		}
		if _, err := Encode(got, nil); err != nil {
			t.Errorf("a decoded state does not encode: %v", err)
		}
	})
}
