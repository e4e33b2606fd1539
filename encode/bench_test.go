package encode_test

import (
	"testing"

	"github.com/postergenre/postergenre/clean/cleantest"
	"github.com/postergenre/postergenre/encode"
)

func BenchmarkPrepare(b *testing.B) {
	jp := cleantest.JPEG(182, 268, 5)
	for i := 0; i < b.N; i++ {
		img, err := encode.DecodePoster(jp)
		if err != nil {
			b.Fatal(err)
		}
		encode.PrepareImage(img, 73, 107, "stretch", "catmullrom")
	}
}
