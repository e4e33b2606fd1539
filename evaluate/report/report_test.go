package report_test

import (
	"encoding/json"
	"flag"
	"fmt"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/postergenre/postergenre/evaluate/report"
)

var update = flag.Bool("update", false, "rewrite testdata golden files")

var genres = []string{"Horror", "Romance", "Action", "Documentary"}

// split draws n rows with the paper's test prevalences and a model that is
// better than chance.
func split(n int, seed uint64) report.Split {
	rng := rand.New(rand.NewPCG(seed, 2))
	prev := []float64{0.20, 0.36, 0.34, 0.17}
	var sp report.Split
	for i := 0; i < n; i++ {
		y := make([]bool, 4)
		s := make([]float64, 4)
		var sum float64
		for g := range y {
			y[g] = rng.Float64() < prev[g]
			s[g] = rng.Float64()
			if y[g] {
				s[g] += 0.8
			}
			sum += s[g]
		}
		if !y[0] && !y[1] && !y[2] && !y[3] {
			y[1] = true
		}
		for g := range s {
			s[g] = math.Round(s[g]/sum*100) / 100 // softmax-like, coarse: ties happen
		}
		sp.Y, sp.S = append(sp.Y, y), append(sp.S, s)
	}
	return sp
}

func input() report.Input {
	test := split(300, 1)
	for i := range test.Y {
		test.Rows = append(test.Rows, report.Row{ImdbID: int64(100 + i), Title: fmt.Sprintf("Film %d (%d)", i, 1990+i%20), Year: 1990 + i%20})
	}
	hist := []report.Epoch{}
	for e := 1; e <= 6; e++ {
		x := float64(e)
		hist = append(hist, report.Epoch{Epoch: e, LearningRate: 1e-4,
			TrainLoss: report.Num(1.4 - 0.1*x), TrainPaperAcc: report.Num(0.35 + 0.03*x),
			ValLoss: report.Num(1.3 - 0.05*x + 0.01*x*x), ValPaperAcc: report.Num(0.34 + 0.02*x),
			ValTop3Hit: report.Num(0.8 + 0.01*x), ValMacroAUC: report.Num(0.55 + 0.02*x), Seconds: 10, Best: e == 3})
	}
	pix := make([]byte, 6*4*3)
	for i := range pix {
		pix[i] = byte(i * 7)
	}
	var ex []report.Example
	for i := 0; i < 3; i++ {
		ex = append(ex, report.Example{ImdbID: int64(100 + i), Title: "Film | " + string(rune('A'+i)), Year: 2001 + i,
			Genres: []string{"Drama", genres[i]}, Label: test.Y[i], Scores: test.S[i], Pixels: pix, Height: 6, Width: 4})
	}
	return report.Input{
		Genres:          genres,
		Val:             split(200, 2),
		Test:            test,
		TrainPrevalence: []float64{0.21, 0.35, 0.33, 0.18},
		SplitRows:       map[string]int{"train": 1000, "validation": 200, "test": 300},
		GenreCounts: map[string]map[string]int{
			"train":      {"Horror": 210, "Romance": 350, "Action": 330, "Documentary": 180},
			"validation": {"Horror": 40, "Romance": 72, "Action": 70, "Documentary": 33},
			"test":       {"Horror": 60, "Romance": 108, "Action": 100, "Documentary": 51},
		},
		Cooccurrence:     [][]int{{270, 40, 80, 5}, {40, 458, 90, 10}, {80, 90, 430, 20}, {5, 10, 20, 231}},
		CooccurrenceRows: 1300, CooccurrenceFrom: "train+test",
		TopK: 3, Bootstrap: 60, Seed: 1,
		Model:    report.ModelInfo{Loss: "softmax_ce", Height: 107, Width: 73, BestEpoch: 3, Threshold: 0.3, ConfigSHA256: "abcdef0123456789", ManifestSHA256: "0123456789abcdef", TFVersion: "2.18.0", Device: "cpu"},
		History:  hist,
		Examples: ex,
	}
}

func TestBuildBaselineAndIntervals(t *testing.T) {
	r, err := report.Build(input())
	if err != nil {
		t.Fatal(err)
	}
	if r.Baseline.Name != "prior: always Romance" || !reflect.DeepEqual(r.Baseline.Ranking, []string{"Romance", "Action", "Horror"}) {
		t.Errorf("baseline = %+v", r.Baseline)
	}
	wantKeys := []string{"paper_accuracy", "top1_hit", "top2_hit", "top3_hit", "macro_auc", "macro_ap", "micro_ap",
		"micro_f1", "macro_f1", "samples_f1", "hamming_loss", "subset_accuracy"}
	var keys []string
	for _, m := range r.Headline {
		keys = append(keys, m.Key)
		for _, v := range []report.Num{m.Value, m.CILow, m.CIHigh, m.Baseline, m.BaselineCILow, m.BaselineCIHigh} {
			if math.IsNaN(float64(v)) {
				t.Errorf("%s: NaN in %+v", m.Key, m)
			}
		}
		if m.Value < m.CILow || m.Value > m.CIHigh {
			t.Errorf("%s: value %v outside [%v, %v]", m.Key, m.Value, m.CILow, m.CIHigh)
		}
	}
	if !reflect.DeepEqual(keys, wantKeys) {
		t.Errorf("headline keys = %v", keys)
	}
	auc, _ := r.Metric("macro_auc")
	if auc.Baseline != 0.5 || auc.BaselineCILow != 0.5 {
		t.Errorf("prior macro AUC = %v [%v], want 0.5", auc.Baseline, auc.BaselineCILow)
	}
	if auc.DeltaCILow <= 0 {
		t.Errorf("the synthetic model should beat chance: delta CI %v..%v", auc.DeltaCILow, auc.DeltaCIHigh)
	}
	pa, _ := r.Metric("paper_accuracy")
	if pa.WilsonLow == nil || *pa.WilsonLow > pa.Value || *pa.WilsonHigh < pa.Value {
		t.Errorf("paper accuracy Wilson = %v %v", pa.WilsonLow, pa.WilsonHigh)
	}
	hl, _ := r.Metric("hamming_loss")
	// all-zero Hamming loss = mean number of true genres / 4
	if hl.AllZero == nil || *hl.AllZero <= 0 || *hl.AllZero >= 0.5 {
		t.Errorf("all-zero hamming = %v", hl.AllZero)
	}
	for _, g := range r.PerGenre {
		if g.APBaseline != g.TestPrevalence {
			t.Errorf("%s: AP of the prior %v != test prevalence %v", g.Genre, g.APBaseline, g.TestPrevalence)
		}
	}
	// determinism: same input, same report
	r2, _ := report.Build(input())
	if r.Markdown() != r2.Markdown() {
		t.Error("two builds differ")
	}
}

func TestBuildRejectsBadInput(t *testing.T) {
	in := input()
	in.Val = report.Split{}
	in.TrainPrevalence = in.TrainPrevalence[:2]
	_, err := report.Build(in)
	if err == nil || !strings.Contains(err.Error(), "validation") || !strings.Contains(err.Error(), "prevalence") {
		t.Errorf("err = %v, want both problems", err)
	}
}

func TestWrite(t *testing.T) {
	r, err := report.Build(input())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if d := os.Getenv("REPORT_TEST_DIR"); d != "" {
		dir = d // keep the output to look at
	}
	if err := report.Write(dir, r, report.WriteOptions{Plots: true, Thumbnails: true}); err != nil {
		t.Fatal(err)
	}
	wantPNG := []string{report.PlotTraining, report.PlotGenres, report.PlotCooccurrence, report.PlotROC,
		report.PlotPR, report.PlotCalibration, report.PlotConfusion,
		"examples/100.png", "examples/101.png", "examples/102.png"}
	for _, f := range wantPNG {
		fh, err := os.Open(filepath.Join(dir, f))
		if err != nil {
			t.Error(err)
			continue
		}
		img, err := png.Decode(fh)
		fh.Close()
		if err != nil {
			t.Errorf("%s: %v", f, err)
		} else if img.Bounds().Dx() < 4 {
			t.Errorf("%s: %v", f, img.Bounds())
		}
	}
	if len(r.Plots) != 7 {
		t.Errorf("plots = %v", r.Plots)
	}
	back, err := report.Read(filepath.Join(dir, report.JSONFile))
	if err != nil {
		t.Fatal(err)
	}
	a, _ := json.Marshal(r)
	b, _ := json.Marshal(back)
	if string(a) != string(b) {
		t.Error("report.json does not round-trip")
	}
	md, _ := os.ReadFile(filepath.Join(dir, report.MarkdownFile))
	for _, s := range []string{"| Paper accuracy", "plots/roc_curves.png", "tuned on the validation split", "examples.md"} {
		if !strings.Contains(string(md), s) {
			t.Errorf("report.md lacks %q", s)
		}
	}
	ex, _ := os.ReadFile(filepath.Join(dir, report.ExamplesFile))
	if !strings.Contains(string(ex), "![](examples/100.png)") || !strings.Contains(string(ex), `Film \| A`) {
		t.Errorf("examples.md:\n%s", ex)
	}
}

func TestNumNaNJSON(t *testing.T) {
	b, err := json.Marshal([]report.Num{report.Num(math.NaN()), 0.25})
	if err != nil || string(b) != "[null,0.25]" {
		t.Fatalf("%s %v", b, err)
	}
	var back []report.Num
	if err := json.Unmarshal(b, &back); err != nil || !math.IsNaN(float64(back[0])) || back[1] != 0.25 {
		t.Errorf("%v %v", back, err)
	}
}

func TestMarkdownGolden(t *testing.T) {
	r, err := report.Build(input())
	if err != nil {
		t.Fatal(err)
	}
	r.Plots = []string{report.PlotTraining, report.PlotROC}
	got := r.Markdown() + "\n---\n\n" + r.ExamplesMarkdown(true)
	golden := filepath.Join("testdata", "report.md.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if got != string(want) {
		t.Errorf("report.md differs from %s (go test ./evaluate/report -run Golden -update):\n%s", golden, got)
	}
}

// TestLongTitlesAreCut: titles are input; a 20 MB one (issue 12 had
// 200 MB, copied twice into the report) is shown cut to
// report.MaxTitleBytes with its length, in every file the report writes.
func TestLongTitlesAreCut(t *testing.T) {
	in := input()
	long := strings.Repeat("T", 20<<20)
	for i := range in.Test.Rows {
		in.Test.Rows[i].Title = long // the gallery's hits and mistakes
	}
	in.Examples[0].Title = long
	r, err := report.Build(in)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := report.Write(dir, r, report.WriteOptions{HTML: true}); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{report.JSONFile, report.MarkdownFile, report.ExamplesFile, report.HTMLFile} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if len(b) > 4<<20 {
			t.Errorf("%s is %d MB: a title was copied whole", f, len(b)>>20)
		}
	}
	ex, _ := os.ReadFile(filepath.Join(dir, report.ExamplesFile))
	if !strings.Contains(string(ex), "… (20971520 bytes)") {
		t.Errorf("examples.md does not say how long the cut title was")
	}
}
