// Package report turns test-split predictions into the evaluation report:
// every metric beside the prior baseline with 95% intervals (report.json,
// report.md), example predictions (examples.md + thumbnails) and plots. It
// is pure Go: the evaluate stage feeds it predictions made by the model.
package report

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"

	"github.com/postergenre/postergenre/encode"
	"github.com/postergenre/postergenre/internal/metrics"
	"github.com/postergenre/postergenre/internal/textcap"
)

// Format is the report.json format version.
const Format = 1

// Num is a metric that may be undefined, encoded as JSON null (metrics.Num:
// one encoding of a missing value for the report and the training history).
type Num = metrics.Num

// Split is the truth and the model's scores of one split, rows × genres.
type Split struct {
	Y [][]bool
	S [][]float64
	// Rows names each row (optional; the HTML report's poster gallery needs it).
	Rows []Row
}

// Row identifies one scored poster.
type Row struct {
	ImdbID int64  `json:"imdb_id"`
	Title  string `json:"title"`
	Year   int    `json:"year"`
}

// Case is one test poster of the gallery: the most confident hits and mistakes.
type Case struct {
	Row
	Label  []bool    `json:"label"`  // over Report.Genres
	Scores []float64 `json:"scores"` // over Report.Genres
}

// PR is one genre's precision–recall curve on the test split.
type PR struct {
	Genre     string    `json:"genre"`
	Recall    []float64 `json:"recall"`
	Precision []float64 `json:"precision"`
	AP        Num       `json:"ap"`
	Chance    Num       `json:"chance"` // test prevalence: a constant score's AP
}

// Confusion is the single-label view of the test split: rows by first
// true genre, columns by argmax genre (its diagonal share is paper accuracy).
type Confusion struct {
	Counts  [][]int `json:"counts"`
	Skipped int     `json:"skipped"` // rows without a true genre
}

// Calibration is the reliability diagram over every (row, genre) pair of the test split.
type Calibration struct {
	Bins []CalBin `json:"bins"`
	ECE  Num      `json:"ece"`
}

// CalBin is one score bin of the reliability diagram (a metrics.Bin that
// encodes an empty bin's NaN as null).
type CalBin struct {
	Low       float64 `json:"low"`
	High      float64 `json:"high"`
	Count     int     `json:"count"`
	Positives int     `json:"positives"`
	MeanScore Num     `json:"mean_score"`
	Rate      Num     `json:"rate"`
}

// Epoch is one line of the training history (a copy of train.EpochStats,
// so that this package does not link TensorFlow).
type Epoch struct {
	Epoch         int     `json:"epoch"`
	LearningRate  float64 `json:"learning_rate"`
	TrainLoss     Num     `json:"train_loss"`
	TrainPaperAcc Num     `json:"train_paper_accuracy"`
	ValLoss       Num     `json:"val_loss"`
	ValPaperAcc   Num     `json:"val_paper_accuracy"`
	ValTop3Hit    Num     `json:"val_top3_hit"`
	ValMacroAUC   Num     `json:"val_macro_auc"`
	Seconds       float64 `json:"seconds"`
	Best          bool    `json:"best"`
}

// ModelInfo is the provenance of the evaluated model (from model.json).
type ModelInfo struct {
	Loss           string  `json:"loss"`
	Height         int     `json:"height"`
	Width          int     `json:"width"`
	BestEpoch      int     `json:"best_epoch"`
	Threshold      float64 `json:"threshold"` // as tuned by train; the report tunes its own
	ConfigSHA256   string  `json:"config_sha256"`
	ManifestSHA256 string  `json:"manifest_sha256"`
	TFVersion      string  `json:"tf_version"`
	Device         string  `json:"device"`
}

// Example is one test poster shown on the example page.
type Example struct {
	ImdbID int64     `json:"imdb_id"`
	Title  string    `json:"title"`
	Year   int       `json:"year"`
	Genres []string  `json:"genres"` // every listed genre
	Label  []bool    `json:"label"`  // over Report.Genres
	Scores []float64 `json:"scores"`
	// Pixels are RGB HWC, Height×Width×3 (optional: no thumbnail when empty).
	Pixels []byte `json:"-"`
	Height int    `json:"-"`
	Width  int    `json:"-"`
}

// MaxTitleBytes bounds a title shown in the report (report.json, the
// Markdown pages, report.html): a title is input, and a 200 MB one must
// not be copied into every page.
const MaxTitleBytes = 200

// shortTitles returns examples with their titles cut to MaxTitleBytes.
func shortTitles(examples []Example) []Example {
	out := slices.Clone(examples)
	for i := range out {
		out[i].Title = textcap.Cut(out[i].Title, MaxTitleBytes)
	}
	return out
}

// Input is everything Build needs.
type Input struct {
	Genres []string
	// Val tunes the thresholds; Test is read once, for the report.
	Val, Test Split
	// TrainPrevalence is each genre's share of train rows: the prior baseline.
	TrainPrevalence []float64
	// SplitRows and GenreCounts come from the encode manifest.
	SplitRows   map[string]int
	GenreCounts map[string]map[string]int
	// Cooccurrence[i][j] counts rows (CooccurrenceRows of them) labelled with both genres.
	Cooccurrence     [][]int
	CooccurrenceRows int
	CooccurrenceFrom string // which splits were counted

	TopK      int
	Bootstrap int
	Seed      int64

	Model    ModelInfo
	History  []Epoch
	Examples []Example
}

// Metric is one headline number on the test split.
type Metric struct {
	Key   string `json:"key"`
	Label string `json:"label"`
	Value Num    `json:"value"`
	// CI is the 95% percentile bootstrap interval over test rows.
	CILow  Num `json:"ci_low"`
	CIHigh Num `json:"ci_high"`
	// Wilson interval, for proportions of rows.
	WilsonLow  *Num `json:"wilson_low,omitempty"`
	WilsonHigh *Num `json:"wilson_high,omitempty"`
	// Baseline is the prior (train prevalence) on the same rows, same resamples.
	Baseline       Num `json:"baseline"`
	BaselineCILow  Num `json:"baseline_ci_low"`
	BaselineCIHigh Num `json:"baseline_ci_high"`
	// Delta interval: paired bootstrap of model − baseline.
	DeltaCILow  Num `json:"delta_ci_low"`
	DeltaCIHigh Num `json:"delta_ci_high"`
	// AllZero is the value of predicting no genre at all (threshold metrics).
	AllZero        *Num `json:"all_zero,omitempty"`
	HigherIsBetter bool `json:"higher_is_better"`
}

// GenreRow is one genre's line of the per-genre table (test split).
type GenreRow struct {
	Genre           string `json:"genre"`
	TrainPrevalence Num    `json:"train_prevalence"`
	TestPrevalence  Num    `json:"test_prevalence"`
	Positives       int    `json:"positives"`
	AUC             Num    `json:"auc"`
	AUCLow          Num    `json:"auc_ci_low"`
	AUCHigh         Num    `json:"auc_ci_high"`
	AP              Num    `json:"ap"`
	APLow           Num    `json:"ap_ci_low"`
	APHigh          Num    `json:"ap_ci_high"`
	APBaseline      Num    `json:"ap_baseline"` // a constant score's AP = test prevalence
	F1              Num    `json:"f1"`
	Precision       Num    `json:"precision"`
	Recall          Num    `json:"recall"`
	PriorPredicted  bool   `json:"prior_predicted"` // the prior baseline predicts this genre
}

// Thresholds are the decision thresholds, tuned on validation.
type Thresholds struct {
	Grid       []float64 `json:"grid"`
	Model      float64   `json:"model"`
	ModelValF1 Num       `json:"model_validation_micro_f1"`
	Prior      float64   `json:"prior"`
	PriorValF1 Num       `json:"prior_validation_micro_f1"`
	// Train is the threshold train stored in model.json, for comparison.
	Train float64 `json:"train"`
}

// Baseline describes the prior baseline.
type Baseline struct {
	Name      string    `json:"name"`
	Scores    []float64 `json:"scores"`    // train prevalence per genre
	Ranking   []string  `json:"ranking"`   // genres by prior, top-k
	Predicted []string  `json:"predicted"` // genres with prior ≥ Thresholds.Prior
}

// HistorySummary condenses the training history.
type HistorySummary struct {
	Epochs         int `json:"epochs"`
	BestEpoch      int `json:"best_epoch"`
	BestValLoss    Num `json:"best_val_loss"`
	BestValPaper   Num `json:"best_val_paper_accuracy"`
	BestValTop3    Num `json:"best_val_top3_hit"`
	BestValAUC     Num `json:"best_val_macro_auc"`
	FinalTrainLoss Num `json:"final_train_loss"`
	FinalValLoss   Num `json:"final_val_loss"`
	Seconds        Num `json:"seconds"`
}

// ROC is one genre's ROC curve on the test split.
type ROC struct {
	Genre string    `json:"genre"`
	FPR   []float64 `json:"fpr"`
	TPR   []float64 `json:"tpr"`
	AUC   Num       `json:"auc"`
}

// Report is report.json.
type Report struct {
	Format     int            `json:"format"`
	Genres     []string       `json:"genres"`
	Rows       map[string]int `json:"rows"` // evaluated rows per split (+ manifest counts)
	Bootstrap  int            `json:"bootstrap"`
	Seed       int64          `json:"seed"`
	Thresholds Thresholds     `json:"thresholds"`
	Baseline   Baseline       `json:"baseline"`
	Headline   []Metric       `json:"headline"`
	PerGenre   []GenreRow     `json:"per_genre"`
	Model      ModelInfo      `json:"model"`
	History    []Epoch        `json:"history"`
	Summary    HistorySummary `json:"history_summary"`

	SplitRows        map[string]int            `json:"split_rows"`
	GenreCounts      map[string]map[string]int `json:"genre_counts"`
	Cooccurrence     [][]int                   `json:"cooccurrence"`
	CooccurrenceRows int                       `json:"cooccurrence_rows"`
	CooccurrenceFrom string                    `json:"cooccurrence_from"`

	Examples []Example `json:"examples"`
	ROC      []ROC     `json:"-"`
	PR       []PR      `json:"-"`

	Confusion   Confusion   `json:"confusion"`
	Calibration Calibration `json:"calibration"`
	// Mistakes are the test posters whose top genre is not a true genre,
	// most confident first; Hits those whose top genre is, likewise.
	// Empty when the input has no Rows.
	Mistakes []Case `json:"confident_mistakes"`
	Hits     []Case `json:"confident_hits"`

	Plots []string `json:"plots"`
	Notes []string `json:"notes"`
}

// Metric returns the headline metric with key, or false.
func (r *Report) Metric(key string) (Metric, bool) {
	for _, m := range r.Headline {
		if m.Key == key {
			return m, true
		}
	}
	return Metric{}, false
}

type metricDef struct {
	key, label string
	get        func(metrics.Values) float64
	proportion bool // a share of rows: gets a Wilson interval
	higher     bool
	allZero    bool
}

func defs(k int) []metricDef {
	ds := []metricDef{{key: "paper_accuracy", label: "Paper accuracy (argmax = first true genre)",
		get: func(v metrics.Values) float64 { return v.PaperAccuracy }, proportion: true, higher: true}}
	for j := 1; j <= k; j++ {
		j := j
		ds = append(ds, metricDef{key: fmt.Sprintf("top%d_hit", j), label: fmt.Sprintf("Top-%d hit", j),
			get: func(v metrics.Values) float64 { return v.TopHit[j-1] }, proportion: true, higher: true})
	}
	return append(ds,
		metricDef{key: "macro_auc", label: "Macro ROC-AUC", get: func(v metrics.Values) float64 { return v.MacroAUC }, higher: true},
		metricDef{key: "macro_ap", label: "Macro AP (mAP)", get: func(v metrics.Values) float64 { return v.MacroAP }, higher: true},
		metricDef{key: "micro_ap", label: "Micro AP", get: func(v metrics.Values) float64 { return v.MicroAP }, higher: true},
		metricDef{key: "micro_f1", label: "Micro F1", get: func(v metrics.Values) float64 { return v.MicroF1 }, higher: true, allZero: true},
		metricDef{key: "macro_f1", label: "Macro F1", get: func(v metrics.Values) float64 { return v.MacroF1 }, higher: true, allZero: true},
		metricDef{key: "samples_f1", label: "Per-sample F1", get: func(v metrics.Values) float64 { return v.SamplesF1 }, higher: true, allZero: true},
		metricDef{key: "hamming_loss", label: "Hamming loss", get: func(v metrics.Values) float64 { return v.HammingLoss }, allZero: true},
		metricDef{key: "subset_accuracy", label: "Subset accuracy (exact set)", get: func(v metrics.Values) float64 { return v.SubsetAccuracy }, proportion: true, higher: true, allZero: true},
	)
}

func (in *Input) check() error {
	g := len(in.Genres)
	var errs []error
	if g == 0 {
		errs = append(errs, errors.New("no genres"))
	}
	if len(in.TrainPrevalence) != g {
		errs = append(errs, fmt.Errorf("train prevalence has %d genres, want %d", len(in.TrainPrevalence), g))
	}
	if len(in.Test.Y) == 0 {
		errs = append(errs, errors.New("no test rows"))
	}
	if len(in.Val.Y) == 0 {
		errs = append(errs, errors.New("no validation rows (needed to tune the threshold)"))
	}
	for name, sp := range map[string]Split{encode.SplitTest: in.Test, encode.SplitValidation: in.Val} {
		if len(sp.Rows) != 0 && len(sp.Rows) != len(sp.Y) {
			errs = append(errs, fmt.Errorf("%s: %d rows named, %d label rows", name, len(sp.Rows), len(sp.Y)))
		}
		if len(sp.Y) != len(sp.S) {
			errs = append(errs, fmt.Errorf("%s: %d label rows, %d score rows", name, len(sp.Y), len(sp.S)))
			continue
		}
		for i := range sp.Y {
			if len(sp.Y[i]) != g || len(sp.S[i]) != g {
				errs = append(errs, fmt.Errorf("%s row %d: %d labels, %d scores, want %d", name, i, len(sp.Y[i]), len(sp.S[i]), g))
				break
			}
		}
	}
	if in.TopK < 1 {
		errs = append(errs, fmt.Errorf("top_k %d < 1", in.TopK))
	}
	return errors.Join(errs...)
}

// Build computes the report. Thresholds are tuned on in.Val; in.Test is
// only scored.
func Build(in Input) (*Report, error) {
	if err := in.check(); err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	g, n := len(in.Genres), len(in.Test.Y)
	k := min(in.TopK, g)
	r := newReport(in)
	thr, pthr := r.tuneThresholds(in)
	prior := in.TrainPrevalence
	r.setBaseline(in.Genres, prior, pthr, k)

	em := metrics.NewEvaluator(in.Test.Y, in.Test.S, thr, k)
	ep := metrics.NewEvaluator(in.Test.Y, metrics.Constant(prior, n), pthr, k)
	ez := metrics.NewEvaluator(in.Test.Y, metrics.Constant(make([]float64, g), n), 0.5, k)
	vm, vp, vz := em.Compute(nil), ep.Compute(nil), ez.Compute(nil)
	ds := defs(k)
	bs := bootstrapTest(em, ep, ds, g, n, in.Bootstrap, in.Seed)
	r.Headline = headline(ds, bs, vm, vp, vz, n)
	for j := range in.Genres {
		r.addGenre(in, j, vm, vp, bs, pthr)
	}
	r.Confusion.Counts, r.Confusion.Skipped = metrics.Confusion(in.Test.Y, in.Test.S, g)
	r.setCalibration(in.Test)
	r.Mistakes, r.Hits = gallery(in.Test, galleryCases)
	r.Notes = notes(r, vm, k)
	return r, nil
}

// newReport copies what the report shows as it came in.
func newReport(in Input) *Report {
	r := &Report{
		Format:           Format,
		Genres:           in.Genres,
		Rows:             map[string]int{encode.SplitValidation: len(in.Val.Y), encode.SplitTest: len(in.Test.Y)},
		Bootstrap:        in.Bootstrap,
		Seed:             in.Seed,
		Model:            in.Model,
		History:          in.History,
		Summary:          summarize(in.History),
		SplitRows:        in.SplitRows,
		GenreCounts:      in.GenreCounts,
		Cooccurrence:     in.Cooccurrence,
		CooccurrenceRows: in.CooccurrenceRows,
		CooccurrenceFrom: in.CooccurrenceFrom,
		Examples:         shortTitles(in.Examples),
	}
	if t, ok := in.SplitRows[encode.SplitTrain]; ok {
		r.Rows[encode.SplitTrain] = t
	}
	return r
}

// tuneThresholds tunes the decision thresholds on validation, the model's
// and the prior's alike, and returns them.
func (r *Report) tuneThresholds(in Input) (model, prior float64) {
	grid := metrics.Grid()
	thr, valF1 := metrics.TuneThreshold(in.Val.Y, in.Val.S, grid)
	pthr, pvalF1 := metrics.TuneThreshold(in.Val.Y, metrics.Constant(in.TrainPrevalence, len(in.Val.Y)), grid)
	r.Thresholds = Thresholds{Grid: grid, Model: thr, ModelValF1: Num(valF1), Prior: pthr, PriorValF1: Num(pvalF1), Train: in.Model.Threshold}
	return thr, pthr
}

// setBaseline describes the prior baseline: its ranking and what it
// predicts at its threshold.
func (r *Report) setBaseline(genres []string, prior []float64, pthr float64, k int) {
	r.Baseline = Baseline{Scores: prior}
	for _, j := range metrics.TopK(prior, k) {
		r.Baseline.Ranking = append(r.Baseline.Ranking, genres[j])
	}
	for j, p := range prior {
		if p >= pthr {
			r.Baseline.Predicted = append(r.Baseline.Predicted, genres[j])
		}
	}
	r.Baseline.Name = "prior: always " + genres[metrics.Argmax(prior)]
}

// bootstrapped holds, per resample of the test rows, each headline
// metric of the model (ms), the baseline (ps) and their difference (dl),
// and each genre's AUC and AP.
type bootstrapped struct {
	ms, ps, dl [][]float64
	gAUC, gAP  [][]float64
	b          int
}

func bootstrapTest(em, ep *metrics.Evaluator, ds []metricDef, g, n, b int, seed int64) bootstrapped {
	bs := bootstrapped{b: b, ms: make([][]float64, len(ds)), ps: make([][]float64, len(ds)), dl: make([][]float64, len(ds)),
		gAUC: make([][]float64, g), gAP: make([][]float64, g)}
	for i := range ds {
		bs.ms[i], bs.ps[i], bs.dl[i] = make([]float64, b), make([]float64, b), make([]float64, b)
	}
	for j := range bs.gAUC {
		bs.gAUC[j], bs.gAP[j] = make([]float64, b), make([]float64, b)
	}
	metrics.Resamples(n, b, seed, func(s int, w []float64) {
		m, p := em.Compute(w), ep.Compute(w)
		for i, d := range ds {
			bs.ms[i][s], bs.ps[i][s] = d.get(m), d.get(p)
			bs.dl[i][s] = bs.ms[i][s] - bs.ps[i][s]
		}
		for j := 0; j < g; j++ {
			bs.gAUC[j][s], bs.gAP[j][s] = m.AUC[j], m.AP[j]
		}
	})
	return bs
}

// ci is the 95% percentile interval of resampled values (NaN without
// resamples).
func (bs bootstrapped) ci(xs []float64) (Num, Num) {
	if bs.b == 0 {
		return Num(math.NaN()), Num(math.NaN())
	}
	iv := metrics.PercentileInterval(xs, 0.95)
	return Num(iv.Low), Num(iv.High)
}

// headline makes the headline metrics with their intervals: bootstrap,
// Wilson for proportions, and the all-zero scorer where it says something.
func headline(ds []metricDef, bs bootstrapped, vm, vp, vz metrics.Values, n int) []Metric {
	var out []Metric
	for i, d := range ds {
		m := Metric{Key: d.key, Label: d.label, Value: Num(d.get(vm)), Baseline: Num(d.get(vp)), HigherIsBetter: d.higher}
		m.CILow, m.CIHigh = bs.ci(bs.ms[i])
		m.BaselineCILow, m.BaselineCIHigh = bs.ci(bs.ps[i])
		m.DeltaCILow, m.DeltaCIHigh = bs.ci(bs.dl[i])
		if d.proportion {
			iv := metrics.Wilson(int(math.Round(d.get(vm)*float64(n))), n, metrics.Z95)
			lo, hi := Num(iv.Low), Num(iv.High)
			m.WilsonLow, m.WilsonHigh = &lo, &hi
		}
		if d.allZero {
			z := Num(d.get(vz))
			m.AllZero = &z
		}
		out = append(out, m)
	}
	return out
}

// addGenre adds genre j's row and its ROC and PR curves.
func (r *Report) addGenre(in Input, j int, vm, vp metrics.Values, bs bootstrapped, pthr float64) {
	name, prior, n := in.Genres[j], in.TrainPrevalence, len(in.Test.Y)
	row := GenreRow{
		Genre: name, TrainPrevalence: Num(prior[j]), TestPrevalence: Num(vm.Prevalence[j]),
		Positives: int(math.Round(vm.Prevalence[j] * float64(n))),
		AUC:       Num(vm.AUC[j]), AP: Num(vm.AP[j]), APBaseline: Num(vp.AP[j]),
		F1: Num(vm.F1[j]), Precision: Num(vm.Precision[j]), Recall: Num(vm.Recall[j]),
		PriorPredicted: prior[j] >= pthr,
	}
	row.AUCLow, row.AUCHigh = bs.ci(bs.gAUC[j])
	row.APLow, row.APHigh = bs.ci(bs.gAP[j])
	r.PerGenre = append(r.PerGenre, row)

	yc, sc := make([]bool, n), make([]float64, n)
	for i := 0; i < n; i++ {
		yc[i], sc[i] = in.Test.Y[i][j], in.Test.S[i][j]
	}
	fpr, tpr := metrics.ROCCurve(yc, sc)
	if fpr != nil {
		r.ROC = append(r.ROC, ROC{Genre: name, FPR: fpr, TPR: tpr, AUC: Num(vm.AUC[j])})
	}
	if rec, pr := metrics.PRCurve(yc, sc); rec != nil {
		r.PR = append(r.PR, PR{Genre: name, Recall: rec, Precision: pr, AP: Num(vm.AP[j]), Chance: Num(vm.Prevalence[j])})
	}
}

// setCalibration bins every (poster, genre) pair of the test split.
func (r *Report) setCalibration(test Split) {
	bins, ece := metrics.Reliability(test.Y, test.S, calibrationBins)
	r.Calibration.ECE = Num(ece)
	for _, b := range bins {
		r.Calibration.Bins = append(r.Calibration.Bins, CalBin{Low: b.Low, High: b.High, Count: b.Count, Positives: b.Positives, MeanScore: Num(b.MeanScore), Rate: Num(b.Rate())})
	}
}

// calibrationBins is the reliability diagram's resolution; galleryCases
// how many confident mistakes and hits the HTML report shows.
const (
	calibrationBins = 10
	galleryCases    = 8
)

// gallery picks the k most confident mistakes (top genre not a true
// genre) and hits (top genre a true genre), by top score, ties by row order.
func gallery(sp Split, k int) (mistakes, hits []Case) {
	if len(sp.Rows) != len(sp.Y) {
		return nil, nil
	}
	idx := make([]int, len(sp.Y))
	for i := range idx {
		idx[i] = i
	}
	top := func(i int) float64 { return sp.S[i][argmax(sp.S[i])] }
	sort.SliceStable(idx, func(a, b int) bool { return top(idx[a]) > top(idx[b]) })
	for _, i := range idx {
		c := Case{Row: sp.Rows[i], Label: sp.Y[i], Scores: sp.S[i]}
		c.Title = textcap.Cut(c.Title, MaxTitleBytes)
		if sp.Y[i][argmax(sp.S[i])] {
			if len(hits) < k {
				hits = append(hits, c)
			}
		} else if len(mistakes) < k {
			mistakes = append(mistakes, c)
		}
		if len(hits) == k && len(mistakes) == k {
			break
		}
	}
	return mistakes, hits
}

func summarize(h []Epoch) HistorySummary {
	nan := Num(math.NaN())
	s := HistorySummary{Epochs: len(h), BestValLoss: nan, BestValPaper: nan, BestValTop3: nan, BestValAUC: nan,
		FinalTrainLoss: nan, FinalValLoss: nan, Seconds: nan}
	if len(h) == 0 {
		return s
	}
	best := -1
	var secs float64
	for i, e := range h {
		secs += e.Seconds
		if e.Best {
			best = i
		}
	}
	if best < 0 { // no flag: lowest validation loss
		best = 0
		for i, e := range h {
			if float64(e.ValLoss) < float64(h[best].ValLoss) {
				best = i
			}
		}
	}
	e := h[best]
	s.BestEpoch, s.BestValLoss, s.BestValPaper, s.BestValTop3, s.BestValAUC = e.Epoch, e.ValLoss, e.ValPaperAcc, e.ValTop3Hit, e.ValMacroAUC
	s.FinalTrainLoss, s.FinalValLoss, s.Seconds = h[len(h)-1].TrainLoss, h[len(h)-1].ValLoss, Num(secs)
	return s
}

func notes(r *Report, vm metrics.Values, k int) []string {
	ns := []string{
		fmt.Sprintf("Thresholds were tuned on the validation split (%d rows) by maximising micro-F1 over 0.05..0.95; the test split (%d rows) was scored once, with no choice made on it.", r.Rows[encode.SplitValidation], r.Rows[encode.SplitTest]),
		fmt.Sprintf("Baseline = the prior: a constant score vector equal to each genre's share of the train split. Its ranking is always %v; its AUC is 0.5 and its AP the test prevalence. For threshold metrics it predicts the genres whose prior is ≥ %.2f (tuned on validation the same way): %v.", r.Baseline.Ranking, r.Thresholds.Prior, r.Baseline.Predicted),
		"All-zero = predicting no genre at all; shown beside the threshold metrics. Per-label binary accuracy is not reported: the all-zero prediction scores 1 − Hamming loss(all-zero) on it.",
		fmt.Sprintf("95%% intervals: percentile bootstrap over test rows (%d resamples, seed %d), the same resamples for model and baseline (the delta interval is paired); Wilson intervals for shares of rows.", r.Bootstrap, r.Seed),
		fmt.Sprintf("Macro AUC averages %d genres with both classes present in the test split; macro AP %d genres with a positive.", vm.AUCGenres, vm.APGenres),
		"Ties: argmax and top-k take the lower genre index; tied scores count 1/2 in AUC and form one threshold in AP (sklearn).",
	}
	_ = k
	return ns
}
