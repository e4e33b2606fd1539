package serve_test

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/jpeg"
	"math/rand"
	"os"
	"path/filepath"
	"testing"

	"github.com/postergenre/postergenre/app/cli"
	"github.com/postergenre/postergenre/app/demodata"
	"github.com/postergenre/postergenre/app/serve"
	"github.com/postergenre/postergenre/train"
)

// runDir is a real pipeline run (the embedded demo, made tiny): scrape →
// clean → encode → train → evaluate with real TensorFlow, so the server
// loads a real model and finds its real evaluate output. Built once in
// TestMain (~5 s).
var runDir string

func TestMain(m *testing.M) {
	work, err := os.MkdirTemp("", "serve-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := func() int {
		var out, errb bytes.Buffer
		st := &cli.State{Ctx: context.Background(), Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" },
			Args: []string{"run", "../../configs/demo.yaml", "--workdir", work, "--log-format", "json", "--quiet",
				// Small and quick: 60 posters at 27×40, two epochs.
				"--set", "demo.posters=60", "--set", "encode.image.shrink_percent=15",
				"--set", "train.epochs=2", "--set", "train.conv_filters=[8,8]", "--set", "train.dense=[16]",
				"--set", "evaluate.bootstrap=50", "--set", "evaluate.examples=2", "--set", "evaluate.plots=false"}}
		if c := cli.Run(st); c != cli.ExitOK {
			fmt.Fprintf(os.Stderr, "fixture run: exit %d\n%s\n%s", c, out.String(), errb.String())
			return 1
		}
		runDir = filepath.Join(work, "runs", "latest")
		return m.Run()
	}()
	os.RemoveAll(work)
	os.Exit(code)
}

// loadModel loads the fixture's model (closed at the end of the test).
func loadModel(t testing.TB) (*train.Model, string) {
	t.Helper()
	dir := filepath.Join(runDir, "model")
	m, err := train.LoadModel(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m, dir
}

// newServer builds a server over the fixture's model.
func newServer(t testing.TB, opts serve.Options) (*serve.Server, *train.Model) {
	t.Helper()
	m, dir := loadModel(t)
	s, err := serve.New(m, dir, opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s, m
}

// poster is a generated poster (the demo's drawing for a genre), as JPEG.
func poster(t testing.TB, genre int, seed int64) ([]byte, image.Image) {
	t.Helper()
	img := demodata.Draw(genre, rand.New(rand.NewSource(seed)))
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	dec, err := jpeg.Decode(bytes.NewReader(b.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	return b.Bytes(), dec
}
