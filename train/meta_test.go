package train

import (
	"encoding/json"
	"testing"

	"github.com/postergenre/postergenre/encode"
	"github.com/postergenre/postergenre/encode/encodeconfig"
)

// TestMetaReadsOlderFiles reads model.json as earlier versions wrote it: with
// fit and filter (and the never-written image_fit/image_filter), and from
// before fit and filter were recorded at all (encode's defaults then).
func TestMetaReadsOlderFiles(t *testing.T) {
	for _, tc := range []struct {
		name string
		json string
		want encode.Preprocess
	}{
		{"fit and filter", `{"format":1,"height":107,"width":73,"standardize":true,"mean":[0.1,0.2,0.3],"std":[1,1,1],
			"image_fit":"","image_filter":"","fit":"pad","filter":"box"}`,
			encode.Preprocess{Width: 73, Height: 107, Fit: "pad", Filter: "box"}},
		{"no fit or filter", `{"format":1,"height":24,"width":16,"standardize":true,"mean":[0.1,0.2,0.3],"std":[1,1,1]}`,
			encode.Preprocess{Width: 16, Height: 24, Fit: encodeconfig.DefaultFit, Filter: encodeconfig.DefaultFilter}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var m Meta
			if err := json.Unmarshal([]byte(tc.json), &m); err != nil {
				t.Fatal(err)
			}
			if got := m.Preprocess.WithDefaults(); got != tc.want {
				t.Errorf("preprocess %+v, want %+v", got, tc.want)
			}
			if !m.Standardize || m.Mean != [3]float32{0.1, 0.2, 0.3} {
				t.Errorf("scaling %+v", m.Preprocessing)
			}
		})
	}
}
