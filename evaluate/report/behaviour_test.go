package report_test

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/postergenre/postergenre/evaluate/report"
)

// build is report.Build that ends the test on an error.
func build(t *testing.T, in report.Input) *report.Report {
	t.Helper()
	r, err := report.Build(in)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func metric(t *testing.T, r *report.Report, key string) report.Metric {
	t.Helper()
	m, ok := r.Metric(key)
	if !ok {
		t.Fatalf("no headline metric %q (have %v)", key, headlineKeys(r))
	}
	return m
}

func headlineKeys(r *report.Report) []string {
	var keys []string
	for _, m := range r.Headline {
		keys = append(keys, m.Key)
	}
	return keys
}

// TestBuildChecksInput: every malformed input is refused with what is
// wrong, all problems at once.
func TestBuildChecksInput(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*report.Input)
		want []string
	}{
		{"no genres", func(in *report.Input) { in.Genres = nil }, []string{"no genres"}},
		{"no test rows", func(in *report.Input) { in.Test = report.Split{} }, []string{"no test rows"}},
		{"rows named", func(in *report.Input) { in.Test.Rows = in.Test.Rows[:5] }, []string{"test: 5 rows named, 300 label rows"}},
		{"scores missing", func(in *report.Input) { in.Val.S = in.Val.S[:10] }, []string{"validation: 200 label rows, 10 score rows"}},
		{"short row", func(in *report.Input) { in.Test.S[7] = in.Test.S[7][:3] }, []string{"test row 7: 4 labels, 3 scores, want 4"}},
		{"top_k", func(in *report.Input) { in.TopK = 0 }, []string{"top_k 0 < 1"}},
		{"two problems", func(in *report.Input) { in.TopK = 0; in.Val = report.Split{} }, []string{"top_k 0", "no validation rows"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := input()
			tc.edit(&in)
			_, err := report.Build(in)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

// A model that scores exactly the truth is perfect on every metric, and
// beats the prior on each.
func TestPerfectModel(t *testing.T) {
	in := input()
	for _, sp := range []*report.Split{&in.Test, &in.Val} {
		for i, y := range sp.Y {
			for g := range y {
				sp.S[i][g] = 0.05
				if y[g] {
					sp.S[i][g] = 0.95
				}
			}
		}
	}
	// Paper accuracy asks the argmax to be the first true genre: make the
	// first one the highest.
	for i, y := range in.Test.Y {
		if g := slices.Index(y, true); g >= 0 {
			in.Test.S[i][g] = 0.99
		}
	}
	r := build(t, in)
	for key, want := range map[string]float64{
		"paper_accuracy": 1, "top1_hit": 1, "macro_auc": 1, "macro_ap": 1, "micro_ap": 1,
		"micro_f1": 1, "macro_f1": 1, "samples_f1": 1, "subset_accuracy": 1, "hamming_loss": 0,
	} {
		m := metric(t, r, key)
		if math.Abs(float64(m.Value)-want) > 1e-9 {
			t.Errorf("%s = %v, want %v", key, m.Value, want)
		}
		better := float64(m.Value) > float64(m.Baseline)
		if !m.HigherIsBetter {
			better = float64(m.Value) < float64(m.Baseline)
		}
		if !better {
			t.Errorf("%s: model %v not better than the prior %v", key, m.Value, m.Baseline)
		}
		if float64(m.DeltaCILow) <= 0 && m.HigherIsBetter {
			t.Errorf("%s: the difference's interval [%v, %v] reaches 0", key, m.DeltaCILow, m.DeltaCIHigh)
		}
	}
	if len(r.Mistakes) != 0 || len(r.Hits) == 0 {
		t.Errorf("a perfect model: %d mistakes, %d hits", len(r.Mistakes), len(r.Hits))
	}
	// Its argmax is always the first true genre: the confusion matrix is
	// diagonal, and the calibration has no score between the two levels.
	for i, row := range r.Confusion.Counts {
		for j, c := range row {
			if i != j && c != 0 {
				t.Errorf("confusion[%s][%s] = %d off the diagonal", genres[i], genres[j], c)
			}
		}
	}
	for _, bin := range r.Calibration.Bins {
		if bin.Low >= 0.1 && bin.High <= 0.9 && bin.Count != 0 {
			t.Errorf("calibration bin [%v, %v) holds %d scores", bin.Low, bin.High, bin.Count)
		}
	}
}

// A model that scores every poster with the train prevalence is the prior:
// its metrics are the baseline's and their difference's interval is 0.
func TestPriorModelEqualsBaseline(t *testing.T) {
	in := input()
	for _, sp := range []*report.Split{&in.Test, &in.Val} {
		for i := range sp.S {
			sp.S[i] = slices.Clone(in.TrainPrevalence)
		}
	}
	r := build(t, in)
	for _, m := range r.Headline {
		v, b := float64(m.Value), float64(m.Baseline)
		if math.IsNaN(v) != math.IsNaN(b) || (!math.IsNaN(v) && math.Abs(v-b) > 1e-12) {
			t.Errorf("%s: model %v, prior %v", m.Key, v, b)
		}
		if !math.IsNaN(v) && (float64(m.DeltaCILow) != 0 || float64(m.DeltaCIHigh) != 0) {
			t.Errorf("%s: difference interval [%v, %v], want [0, 0]", m.Key, m.DeltaCILow, m.DeltaCIHigh)
		}
	}
	if auc := metric(t, r, "macro_auc"); float64(auc.Value) != 0.5 {
		t.Errorf("macro AUC of a constant score = %v, want 0.5", auc.Value)
	}
	if r.Baseline.Name != "prior: always Romance" || !reflect.DeepEqual(r.Baseline.Ranking, []string{"Romance", "Action", "Horror"}) {
		t.Errorf("baseline %+v", r.Baseline)
	}
}

// The threshold is tuned on validation only: the test split is scored with
// it, never used to choose it.
func TestThresholdTunedOnValidationOnly(t *testing.T) {
	in := input()
	r := build(t, in)
	changedTest := input()
	for i := range changedTest.Test.S {
		for g := range changedTest.Test.S[i] {
			changedTest.Test.S[i][g] = 1 - changedTest.Test.S[i][g]
		}
	}
	if r2 := build(t, changedTest); !reflect.DeepEqual(r2.Thresholds, r.Thresholds) {
		t.Errorf("thresholds moved with the test scores: %+v vs %+v", r2.Thresholds, r.Thresholds)
	}
	changedVal := input()
	changedVal.Val = split(200, 9)
	for i := range changedVal.Val.S {
		for g := range changedVal.Val.S[i] {
			changedVal.Val.S[i][g] *= 0.5 // every score halved: the best threshold moves down
		}
	}
	if r3 := build(t, changedVal); r3.Thresholds.Model >= r.Thresholds.Model {
		t.Errorf("halved validation scores: threshold %v, was %v", r3.Thresholds.Model, r.Thresholds.Model)
	}
	if r.Thresholds.Train != in.Model.Threshold {
		t.Errorf("train's threshold %v not kept beside the report's", r.Thresholds.Train)
	}
}

// The same input and seed give the same report; the seed moves only the
// intervals.
func TestBuildIsDeterministic(t *testing.T) {
	a, _ := json.Marshal(build(t, input()))
	b, _ := json.Marshal(build(t, input()))
	if string(a) != string(b) {
		t.Error("two builds of one input differ")
	}
	in := input()
	in.Seed = 99
	other := build(t, in)
	first := build(t, input())
	sameCI := true
	for i, m := range other.Headline {
		f := first.Headline[i]
		if m.Value != f.Value && !(math.IsNaN(float64(m.Value)) && math.IsNaN(float64(f.Value))) {
			t.Errorf("%s: value %v with another seed, %v before", m.Key, m.Value, f.Value)
		}
		sameCI = sameCI && m.CILow == f.CILow && m.CIHigh == f.CIHigh
	}
	if sameCI {
		t.Error("another bootstrap seed left every interval unchanged")
	}
}

// top_k decides which top-k hits are reported, up to the number of genres.
func TestTopKMetrics(t *testing.T) {
	for _, tc := range []struct {
		k    int
		want []string
	}{
		{1, []string{"top1_hit"}},
		{2, []string{"top1_hit", "top2_hit"}},
		{9, []string{"top1_hit", "top2_hit", "top3_hit", "top4_hit"}}, // 4 genres
	} {
		in := input()
		in.TopK = tc.k
		r := build(t, in)
		var got []string
		for _, k := range headlineKeys(r) {
			if strings.HasSuffix(k, "_hit") {
				got = append(got, k)
			}
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("top_k %d: %v, want %v", tc.k, got, tc.want)
		}
		if len(r.Baseline.Ranking) != len(tc.want) {
			t.Errorf("top_k %d: baseline ranking %v", tc.k, r.Baseline.Ranking)
		}
	}
	// Top-4 of 4 genres always hits a labelled poster.
	in := input()
	in.TopK = 4
	if m := metric(t, build(t, in), "top4_hit"); m.Value != 1 {
		t.Errorf("top-4 of 4 genres = %v, want 1", m.Value)
	}
}

// The per-genre table counts what the test labels hold.
func TestPerGenreRows(t *testing.T) {
	in := input()
	r := build(t, in)
	if len(r.PerGenre) != len(genres) {
		t.Fatalf("%d genre rows", len(r.PerGenre))
	}
	for g, row := range r.PerGenre {
		pos := 0
		for _, y := range in.Test.Y {
			if y[g] {
				pos++
			}
		}
		n := float64(len(in.Test.Y))
		if row.Genre != genres[g] || row.Positives != pos || math.Abs(float64(row.TestPrevalence)-float64(pos)/n) > 1e-12 ||
			float64(row.TrainPrevalence) != in.TrainPrevalence[g] || math.Abs(float64(row.APBaseline)-float64(pos)/n) > 1e-9 {
			t.Errorf("row %d: %+v (positives %d)", g, row, pos)
		}
		if !(row.AUCLow <= row.AUC && row.AUC <= row.AUCHigh) {
			t.Errorf("%s: AUC %v outside its interval [%v, %v]", row.Genre, row.AUC, row.AUCLow, row.AUCHigh)
		}
	}
}

// Confusion, calibration and the gallery account for every test row.
func TestConfusionCalibrationGallery(t *testing.T) {
	in := input()
	r := build(t, in)
	total := r.Confusion.Skipped
	for _, row := range r.Confusion.Counts {
		for _, c := range row {
			total += c
		}
	}
	if total != len(in.Test.Y) {
		t.Errorf("confusion counts %d rows, want %d", total, len(in.Test.Y))
	}
	n := 0
	for _, b := range r.Calibration.Bins {
		n += b.Count
		if b.Positives > b.Count || b.Low >= b.High {
			t.Errorf("bin %+v", b)
		}
	}
	if n != len(in.Test.Y)*len(genres) {
		t.Errorf("calibration bins hold %d scores, want %d", n, len(in.Test.Y)*len(genres))
	}
	for name, cases := range map[string][]report.Case{"mistakes": r.Mistakes, "hits": r.Hits} {
		if len(cases) == 0 || len(cases) > 8 {
			t.Errorf("%d %s", len(cases), name)
		}
		for i, c := range cases {
			top := slices.Index(c.Scores, slices.Max(c.Scores))
			if c.Label[top] != (name == "hits") {
				t.Errorf("%s %d (%d): top genre %d, labels %v", name, i, c.ImdbID, top, c.Label)
			}
			if i > 0 && slices.Max(c.Scores) > slices.Max(cases[i-1].Scores) {
				t.Errorf("%s not most confident first at %d", name, i)
			}
		}
	}
	// Without row names there is no gallery (nothing to show).
	in.Test.Rows = nil
	if r := build(t, in); r.Mistakes != nil || r.Hits != nil {
		t.Errorf("gallery without rows: %d mistakes, %d hits", len(r.Mistakes), len(r.Hits))
	}
}

// The Markdown report names every genre and every headline metric, and
// says where the threshold came from; examples link thumbnails only when
// asked.
func TestMarkdownContents(t *testing.T) {
	r := build(t, input())
	md := r.Markdown()
	for _, g := range genres {
		if !strings.Contains(md, g) {
			t.Errorf("report.md lacks genre %s", g)
		}
	}
	for _, m := range r.Headline {
		if !strings.Contains(md, m.Label) {
			t.Errorf("report.md lacks metric %q", m.Label)
		}
	}
	with, without := r.ExamplesMarkdown(true), r.ExamplesMarkdown(false)
	if !strings.Contains(with, "![](examples/100.png)") || strings.Contains(without, "examples/100.png") {
		t.Errorf("thumbnails: with %v, without %v", strings.Contains(with, "png"), strings.Contains(without, "png"))
	}
}

// The HTML report stands alone: plots and posters are inlined, nothing is
// fetched.
func TestHTMLInlinesEverything(t *testing.T) {
	r := build(t, input())
	plots := map[string][]byte{report.PlotROC: []byte("\x89PNG fake")}
	posters := func(id int64) ([]byte, error) { return []byte("\xff\xd8 fake jpeg"), nil }
	html, err := r.HTML(plots, posters, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := string(html)
	if !strings.Contains(s, "data:image/png;base64,") {
		t.Error("plot not inlined")
	}
	for _, bad := range []string{`src="http`, `href="http`, `src="plots/`} {
		if strings.Contains(s, bad) {
			t.Errorf("HTML fetches from outside: %q", bad)
		}
	}
}

func TestReadErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := report.Read(filepath.Join(dir, "missing.json")); err == nil {
		t.Error("missing file: no error")
	}
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte("{not json"), 0o644)
	if _, err := report.Read(bad); err == nil {
		t.Error("broken JSON: no error")
	}
}

// Write writes only what it is asked for; report.json is always last and
// always there.
func TestWriteOptions(t *testing.T) {
	for _, tc := range []struct {
		name        string
		opt         report.WriteOptions
		plots, html bool
		thumbs      bool
	}{
		{"bare", report.WriteOptions{}, false, false, false},
		{"thumbnails", report.WriteOptions{Thumbnails: true}, false, false, true},
		{"html only", report.WriteOptions{HTML: true}, false, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			r := build(t, input())
			if err := report.Write(dir, r, tc.opt); err != nil {
				t.Fatal(err)
			}
			exists := func(name string) bool { _, err := os.Stat(filepath.Join(dir, name)); return err == nil }
			for name, want := range map[string]bool{
				report.JSONFile: true, report.MarkdownFile: true, report.ExamplesFile: true,
				report.PlotsDir: tc.plots, report.HTMLFile: tc.html, report.ExamplesDir: tc.thumbs,
			} {
				if exists(name) != want {
					t.Errorf("%s exists: %v, want %v", name, !want, want)
				}
			}
			if len(r.Plots) != 0 {
				t.Errorf("plots listed without plot files: %v", r.Plots)
			}
			ex, _ := os.ReadFile(filepath.Join(dir, report.ExamplesFile))
			if strings.Contains(string(ex), ".png") != tc.thumbs {
				t.Errorf("examples.md links thumbnails: %v, want %v", !tc.thumbs, tc.thumbs)
			}
		})
	}
}

// An example without pixels writes no thumbnails at all, and examples.md
// then links none.
func TestWriteExampleWithoutPixels(t *testing.T) {
	in := input()
	in.Examples[1].Pixels = nil
	r := build(t, in)
	dir := t.TempDir()
	if err := report.Write(dir, r, report.WriteOptions{Thumbnails: true}); err != nil {
		t.Fatal(err)
	}
	ex, err := os.ReadFile(filepath.Join(dir, report.ExamplesFile))
	if err != nil || strings.Contains(string(ex), ".png") {
		t.Errorf("examples.md links thumbnails though one example has no pixels: %v", err)
	}
}

func TestThumbnail(t *testing.T) {
	pix := []byte{255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30} // 2×2
	png, err := report.Thumbnail(pix, 2, 2)
	if err != nil || !strings.HasPrefix(string(png), "\x89PNG") {
		t.Fatalf("Thumbnail: %v", err)
	}
	for _, tc := range []struct {
		pix  []byte
		h, w int
	}{{pix, 3, 2}, {pix[:11], 2, 2}, {pix, 0, 4}, {nil, 1, 1}} {
		if _, err := report.Thumbnail(tc.pix, tc.h, tc.w); err == nil {
			t.Errorf("Thumbnail(%d bytes, %d×%d): no error", len(tc.pix), tc.h, tc.w)
		}
	}
}

// The history summary is the flagged best epoch's, or the lowest
// validation loss's when none is flagged; the final losses are the last
// epoch's.
func TestHistorySummary(t *testing.T) {
	in := input()
	r := build(t, in)
	if s := r.Summary; s.Epochs != 6 || s.BestEpoch != 3 || s.BestValLoss != in.History[2].ValLoss ||
		s.FinalTrainLoss != in.History[5].TrainLoss || float64(s.Seconds) != 60 {
		t.Errorf("summary %+v", s)
	}
	for i := range in.History {
		in.History[i].Best = false
	}
	lowest := 0
	for i, e := range in.History {
		if e.ValLoss < in.History[lowest].ValLoss {
			lowest = i
		}
	}
	if s := build(t, in).Summary; s.BestEpoch != in.History[lowest].Epoch {
		t.Errorf("no flagged epoch: best %d, want the lowest validation loss's %d", s.BestEpoch, in.History[lowest].Epoch)
	}
	in.History = nil
	if s := build(t, in).Summary; s.Epochs != 0 || !math.IsNaN(float64(s.BestValLoss)) {
		t.Errorf("no history: %+v", s)
	}
}

// The notes say how the numbers were made, with this report's own counts.
func TestNotesNameTheirNumbers(t *testing.T) {
	in := input()
	in.Bootstrap, in.Seed = 40, 7
	r := build(t, in)
	text := strings.Join(r.Notes, "\n")
	for _, want := range []string{"validation split (200 rows)", "test split (300 rows)", "40 resamples, seed 7", "Romance"} {
		if !strings.Contains(text, want) {
			t.Errorf("notes lack %q:\n%s", want, text)
		}
	}
}

// Without resamples there are no intervals, and that shows as NaN (null in
// report.json), not as zero.
func TestNoBootstrapNoIntervals(t *testing.T) {
	in := input()
	in.Bootstrap = 0
	r := build(t, in)
	for _, m := range r.Headline {
		if !math.IsNaN(float64(m.CILow)) || !math.IsNaN(float64(m.DeltaCIHigh)) {
			t.Errorf("%s: interval [%v, %v] without resamples", m.Key, m.CILow, m.CIHigh)
		}
	}
	js, err := json.Marshal(r.Headline[0])
	if err != nil || !strings.Contains(string(js), `"ci_low":null`) {
		t.Errorf("JSON %s, %v: want ci_low null", js, err)
	}
}

// The row counts carry the train split when the manifest gave it, and the
// Markdown says so; a metric not computed is not found.
func TestRowsAndMetricLookup(t *testing.T) {
	in := input()
	r := build(t, in)
	if !reflect.DeepEqual(r.Rows, map[string]int{"train": 1000, "validation": 200, "test": 300}) {
		t.Errorf("rows %v", r.Rows)
	}
	if !strings.Contains(r.Markdown(), "Train: 1000 posters.") {
		t.Error("report.md does not give the train rows")
	}
	delete(in.SplitRows, "train")
	r = build(t, in)
	if _, ok := r.Rows["train"]; ok || strings.Contains(r.Markdown(), "Train:") {
		t.Errorf("train rows without a manifest count: %v", r.Rows)
	}
	if _, ok := r.Metric("top9_hit"); ok {
		t.Error("Metric found top9_hit with top_k 3")
	}
	if m := metric(t, r, "hamming_loss"); m.HigherIsBetter || !strings.Contains(r.Markdown(), m.Label+" ↓") {
		t.Errorf("a lower-is-better metric is not marked: %+v", m)
	}
	for _, key := range []string{"paper_accuracy", "top1_hit", "subset_accuracy"} {
		if m := metric(t, r, key); m.WilsonLow == nil || float64(*m.WilsonLow) > float64(m.Value) || float64(*m.WilsonHigh) < float64(m.Value) {
			t.Errorf("%s: a share of rows without a Wilson interval around it: %+v", key, m)
		}
	}
	if m := metric(t, r, "macro_auc"); m.WilsonLow != nil || m.AllZero != nil {
		t.Errorf("macro AUC has a Wilson interval or an all-zero value: %+v", m)
	}
}
