package train

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	tf "github.com/wamuir/graft/tensorflow"

	"github.com/postergenre/postergenre/internal/citest"

	"github.com/postergenre/postergenre/internal/tfsession/tfsessiontest"
)

// TestGradCAMMatchesReference checks the Grad-CAM maps TensorFlow's
// gradients give against a float64 NumPy forward pass with finite-difference
// gradients (testdata/gradcam_reference.py), on a tiny paper-style network
// whose weights the test reads out of the session, for every genre, at the
// conv layer gradCAMConv picks and at the last one.
func TestGradCAMMatchesReference(t *testing.T) {
	py := citest.Python(t)
	for _, tc := range []struct {
		name  string
		spec  netSpec
		seeds uint64
	}{
		{"two-convs-one-hidden", netSpec{Height: 14, Width: 11, Genres: 3, ConvFilters: []int{3, 4}, Dense: []int{5}, Loss: "softmax_ce", Seed: 3, GradCAMConv: gradCAMConv(2)}, 1},
		{"three-convs-no-hidden-sigmoid", netSpec{Height: 26, Width: 22, Genres: 4, ConvFilters: []int{4, 4, 6}, Loss: "sigmoid_bce", Seed: 5, GradCAMConv: gradCAMConv(3)}, 2},
		// The last conv layer's map, Grad-CAM's layer before gradCAMConv.
		{"three-convs-last-layer", netSpec{Height: 26, Width: 22, Genres: 4, ConvFilters: []int{4, 4, 6}, Dense: []int{5}, Loss: "softmax_ce", Seed: 6, GradCAMConv: 2}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, err := buildGraph(tc.spec)
			if err != nil {
				t.Fatal(err)
			}
			sess, err := tf.NewSession(g.graph, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer sess.Close()
			if _, err := sess.Run(nil, nil, []*tf.Operation{g.initOp}); err != nil {
				t.Fatal(err)
			}
			weights := map[string]any{}
			for _, v := range g.vars {
				out, err := sess.Run(nil, []tf.Output{v.read}, nil)
				if err != nil {
					t.Fatal(err)
				}
				shape := out[0].Shape()
				flat := tfsessiontest.Flatten(out[0].Value())
				weights[v.name] = map[string]any{"shape": shape, "data": flat}
			}
			G, H, W := tc.spec.Genres, tc.spec.Height, tc.spec.Width
			rng := rand.New(rand.NewPCG(tc.seeds, 9))
			img := make([]float32, H*W*3)
			for i := range img {
				img[i] = float32(rng.NormFloat64())
			}
			x := make([]float32, 0, G*len(img))
			sel := make([][]float32, G)
			for c := range G {
				x = append(x, img...)
				sel[c] = make([]float32, G)
				sel[c][c] = 1
			}
			xt, _ := tf.NewTensor(x)
			st, _ := tf.NewTensor(sel)
			res, err := sess.Run(map[tf.Output]*tf.Tensor{g.images: xt, g.camSel: st}, []tf.Output{g.cam}, nil)
			if err != nil {
				t.Fatal(err)
			}
			got := res[0].Value().([][][]float32)

			dir := t.TempDir()
			in, _ := json.Marshal(map[string]any{"height": H, "width": W, "genres": G, "conv_filters": tc.spec.ConvFilters,
				"dense": tc.spec.Dense, "cam_layer": tc.spec.GradCAMConv, "weights": weights, "image": img})
			if err := os.WriteFile(filepath.Join(dir, "in.json"), in, 0o644); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(py, "testdata/gradcam_reference.py", filepath.Join(dir, "in.json"), filepath.Join(dir, "out.json"))
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("gradcam_reference.py: %v\n%s", err, out)
			}
			var ref struct{ Cams [][][]float64 }
			raw, _ := os.ReadFile(filepath.Join(dir, "out.json"))
			if err := json.Unmarshal(raw, &ref); err != nil {
				t.Fatal(err)
			}
			const tol = 1e-4
			nonzero, worst := 0, 0.0
			for c := range G {
				if len(got[c]) != len(ref.Cams[c]) || len(got[c][0]) != len(ref.Cams[c][0]) {
					t.Fatalf("genre %d: map %d×%d, reference %d×%d", c, len(got[c]), len(got[c][0]), len(ref.Cams[c]), len(ref.Cams[c][0]))
				}
				for i, row := range got[c] {
					for j, v := range row {
						d := math.Abs(float64(v) - ref.Cams[c][i][j])
						worst = max(worst, d)
						if d > tol {
							t.Errorf("genre %d cell (%d,%d): %g, reference %g", c, i, j, v, ref.Cams[c][i][j])
						}
						if v > 0 {
							nonzero++
						}
					}
				}
			}
			if nonzero == 0 {
				t.Fatal("every map is zero: the comparison would prove nothing")
			}
			t.Logf("largest difference %.2g over %d genres (%d non-zero cells)", worst, G, nonzero)
		})
	}
}

// TestGradCAMLayer: model.json's gradcam_layer names the map, an old
// model.json without it gets today's choice, a wrong name is an error; the
// map's cells are centred where their receptive fields are.
func TestGradCAMLayer(t *testing.T) {
	paper := []int{32, 32, 32, 64}
	if got := GradCAMLayer(paper); got != "conv2" {
		t.Errorf("GradCAMLayer(paper) = %q, want conv2", got)
	}
	if got := GradCAMLayer(nil); got != "head" {
		t.Errorf("GradCAMLayer(backbone) = %q, want head", got)
	}
	for _, tc := range []struct {
		name    string
		n, want int
		err     bool
	}{
		{"conv2", 4, 2, false},
		{"conv3", 4, 3, false},
		{"", 4, 2, false},
		{"", 1, 0, false},
		{"head", 0, 0, false},
		{"conv4", 4, 0, true},
		{"conv02", 4, 0, true},
		{"head", 4, 0, true},
	} {
		got, err := parseGradCAMLayer(tc.name, tc.n)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("parseGradCAMLayer(%q, %d) = %d, %v; want %d, error %v", tc.name, tc.n, got, err, tc.want, tc.err)
		}
	}
	// 73×107 through the paper's stack: conv2's ReLU is 23×14 cells 4
	// pixels apart, the first centred on pixel 8.5 (its 18-pixel receptive
	// field spans 0..17); conv3's is 9×5, 8 apart, from 18.5.
	for _, tc := range []struct {
		conv           int
		origin, stride float64
		rows, cols     int
	}{{2, 8.5, 4, 23, 14}, {3, 18.5, 8, 9, 5}} {
		g := &netGraph{spec: netSpec{Height: 107, Width: 73, ConvFilters: paper, GradCAMConv: tc.conv}}
		ox, oy, st := g.camGeometry(tc.rows, tc.cols)
		if ox != tc.origin || oy != tc.origin || st != tc.stride {
			t.Errorf("conv%d: cells from (%g, %g) every %g, want from %g every %g", tc.conv, ox, oy, st, tc.origin, tc.stride)
		}
	}
}
