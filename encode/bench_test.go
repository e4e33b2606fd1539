package encode_test

import (
	"testing"

	"github.com/postergenre/postergenre/clean/cleantest"
	"github.com/postergenre/postergenre/encode"
	"github.com/postergenre/postergenre/internal/poster"
)

func BenchmarkPrepare(b *testing.B) {
	jp := cleantest.JPEG(182, 268, 5)
	for i := 0; i < b.N; i++ {
		img, _, err := poster.Decode(jp, poster.DefaultMaxPixels)
		if err != nil {
			b.Fatal(err)
		}
		encode.PrepareImage(img, 73, 107, "stretch", "catmullrom")
	}
}
