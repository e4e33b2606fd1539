package cli

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/postergenre/postergenre/internal/atomicfile"
	"github.com/postergenre/postergenre/internal/heatmap"
	"github.com/postergenre/postergenre/internal/poster"
	"github.com/postergenre/postergenre/internal/regular"
	"github.com/postergenre/postergenre/train"
)

// maxPredictBytes caps one input image (file or URL).
const maxPredictBytes = 20 << 20

// prediction is one input's result.
type prediction struct {
	Input  string      `json:"input"`
	ImdbID int64       `json:"imdb_id,omitempty"`
	Top    []genreProb `json:"top,omitempty"`
	Probs  []float32   `json:"-"`
	// The poster check (null when the model has no detector).
	PosterScore     *float64 `json:"poster_score"`
	LooksLikePoster *bool    `json:"looks_like_poster"`
	// Explained is the overlay PNG written for --explain.
	Explained string `json:"explained,omitempty"`
	Error     string `json:"error,omitempty"`
}

type genreProb struct {
	Genre       string  `json:"genre"`
	Probability float32 `json:"probability"`
}

// predictFlags are predict's flags.
type predictFlags struct {
	model, format, prec, explain string
	top                          int
}

func newPredictCmd(st *State, g *globals) *cobra.Command {
	var f predictFlags
	cmd := &cobra.Command{
		Use:   "predict --model MODEL [--top 3] [--format text|json|csv] [--explain DIR] INPUT...",
		Short: "genres of poster images (files, folders, URLs) from a trained model",
		Long: `Genres of poster images from a trained model.

INPUT is an image file, a folder of images, or an http(s) URL. A folder's
images are written one CSV row each (path, imdb id, one probability per
genre, poster_score, looks_like_poster). MODEL is a model folder, or a run,
grid cell or tag of the working folder (e.g. latest, champion, RUN/CELL): its
model.

poster_score in [0,1] is the share of the model's validation posters that
lie further from its training posters than the image; looks_like_poster is
false below 0.05 (95% of validation posters pass) and then the genres are
unreliable. Both are empty for a model trained before the detector existed
(pipeline calibrate adds it).`,
		Example:     "  pipeline predict --model latest poster.jpg\n  pipeline predict --model champion --format csv posters/\n  pipeline predict --model latest --explain heatmaps/ posters/",
		Args:        cobra.MinimumNArgs(1),
		Annotations: map[string]string{"exits": exitsPredict},
		RunE: func(cmd *cobra.Command, args []string) error {
			if code := cmdPredict(st, g, f, args); code != ExitOK {
				return exitWith(code, nil)
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.model, "model", "", "model folder (e.g. work/runs/latest/model), or a run, RUN/CELL or tag of the working folder (required)")
	fl.IntVar(&f.top, "top", 3, "genres to show per input (text and json)")
	fl.StringVar(&f.format, "format", "", "text, json or csv (default: text; csv when an input is a folder)")
	fl.StringVar(&f.explain, "explain", "", "write a Grad-CAM overlay PNG per input into this folder (<name>.<top genre>.png: where the poster speaks for its top genre)")
	fl.StringVar(&f.prec, "precision", "", "float32 or bfloat16 (default: the precision model.json says the model was trained with)")
	cmd.MarkFlagRequired("model")
	return cmd
}

func cmdPredict(st *State, g *globals, f predictFlags, inputs []string) int {
	format, top := f.format, f.top
	if format == "" {
		format = "text"
		for _, in := range inputs {
			if fi, err := os.Stat(in); err == nil && fi.IsDir() {
				format = "csv"
			}
		}
	}
	if format != "text" && format != "json" && format != "csv" {
		fmt.Fprintf(st.Stderr, "predict: --format must be text, json or csv, got %q\n", format)
		return ExitUsage
	}
	if top < 1 {
		fmt.Fprintf(st.Stderr, "predict: --top must be >= 1, got %d\n", top)
		return ExitUsage
	}
	m, err := resolveModel(g.workdir, f.model)
	if err != nil {
		fmt.Fprintf(st.Stderr, "predict: %v\n", err)
		return ExitUsage
	}
	modelDir, prec := m.dir, f.prec
	model, err := train.LoadModelPrecision(modelDir, prec)
	if err != nil {
		fmt.Fprintf(st.Stderr, "predict: %v\n", err)
		return ExitUsage
	}
	defer model.Close()
	meta := model.Meta()
	if top > len(meta.Genres) {
		top = len(meta.Genres)
	}
	if !model.HasDetector() {
		fmt.Fprintf(st.Stderr, "predict: %s: %v; poster_score and looks_like_poster are left empty\n", modelDir, train.ErrNoDetector)
	}
	if f.explain != "" {
		if err := os.MkdirAll(f.explain, 0o755); err != nil {
			fmt.Fprintf(st.Stderr, "predict: --explain: %v\n", err)
			return ExitUsage
		}
	}

	var preds []prediction
	for _, in := range expandInputs(inputs) {
		p := prediction{Input: in.path, ImdbID: imdbIDOf(in.path)}
		if in.err == nil {
			in.err = predictOne(st.Ctx, model, in.path, f.explain, &p)
		}
		if in.err != nil {
			p.Error = in.err.Error()
		} else {
			p.Top = topK(meta.Genres, p.Probs, top)
		}
		preds = append(preds, p)
	}

	failed := 0
	for _, p := range preds {
		if p.Error != "" {
			failed++
			fmt.Fprintf(st.Stderr, "predict: %s: %s\n", p.Input, p.Error)
		}
	}
	writePredictions(st.Stdout, format, meta.Genres, preds)
	if failed > 0 {
		return ExitFailed
	}
	return ExitOK
}

// writePredictions writes the successful predictions in format (text, json
// or csv; json also carries the failures with their error).
func writePredictions(w io.Writer, format string, genres []string, preds []prediction) {
	switch format {
	case "text":
		for _, p := range preds {
			if p.Error != "" {
				continue
			}
			parts := make([]string, len(p.Top))
			for i, g := range p.Top {
				parts[i] = fmt.Sprintf("%s %.3f", g.Genre, g.Probability)
			}
			note := ""
			if p.LooksLikePoster != nil && !*p.LooksLikePoster {
				note = fmt.Sprintf("  [does not look like a movie poster (poster_score %.3f): the genres are unreliable]", *p.PosterScore)
			}
			fmt.Fprintf(w, "%s: %s%s\n", p.Input, strings.Join(parts, ", "), note)
		}
	case "json":
		enc := json.NewEncoder(w)
		for _, p := range preds {
			enc.Encode(p)
		}
	case "csv":
		cw := csv.NewWriter(w)
		cw.Write(append(append([]string{"path", "imdb_id"}, genres...), "poster_score", "looks_like_poster"))
		for _, p := range preds {
			if p.Error != "" {
				continue
			}
			row := []string{p.Input, ""}
			if p.ImdbID > 0 {
				row[1] = strconv.FormatInt(p.ImdbID, 10)
			}
			for _, v := range p.Probs {
				row = append(row, strconv.FormatFloat(float64(v), 'f', 5, 32))
			}
			if p.PosterScore != nil {
				row = append(row, strconv.FormatFloat(*p.PosterScore, 'f', 4, 64), strconv.FormatBool(*p.LooksLikePoster))
			} else {
				row = append(row, "", "")
			}
			cw.Write(row)
		}
		cw.Flush()
	}
}

type input struct {
	path string
	err  error
}

var imageExt = map[string]bool{".jpg": true, ".jpeg": true, ".png": true, ".gif": true}

// expandInputs turns folders into their image files (sorted); files and
// URLs pass through. A folder that cannot be read is an error for it alone.
func expandInputs(args []string) []input {
	var out []input
	for _, a := range args {
		if isURL(a) {
			out = append(out, input{path: a})
			continue
		}
		fi, err := os.Stat(a)
		if err != nil || !fi.IsDir() {
			out = append(out, input{path: a, err: err})
			continue
		}
		entries, err := os.ReadDir(a)
		if err != nil {
			out = append(out, input{path: a, err: err})
			continue
		}
		names := make([]string, 0, len(entries))
		for _, e := range entries {
			if !e.IsDir() && imageExt[strings.ToLower(filepath.Ext(e.Name()))] {
				names = append(names, e.Name())
			}
		}
		if len(names) == 0 {
			// Nothing to predict is a failed input, not a silent success.
			out = append(out, input{path: a, err: errors.New("no images found (.jpg, .jpeg, .png, .gif)")})
			continue
		}
		sort.Strings(names)
		for _, n := range names {
			out = append(out, input{path: filepath.Join(a, n)})
		}
	}
	return out
}

func isURL(s string) bool { return strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://") }

var idName = regexp.MustCompile(`^(?:tt)?0*(\d{1,9})$`)

// imdbIDOf returns the id a file is named after (123456.jpg, tt0123456.jpg), else 0.
func imdbIDOf(path string) int64 {
	if isURL(path) {
		return 0
	}
	stem := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	if m := idName.FindStringSubmatch(stem); m != nil {
		id, _ := strconv.ParseInt(m[1], 10, 64)
		return id
	}
	return 0
}

// predictOne reads and decodes one image, then prepares and scores it with
// Model.Analyze: the preprocessing recorded in model.json (size, fit,
// filter, scaling), exactly as the training posters were prepared, and the
// poster check. With explainDir it writes the Grad-CAM overlay of the top
// genre there.
func predictOne(ctx context.Context, m *train.Model, path, explainDir string, p *prediction) error {
	data, err := readInput(ctx, path)
	if err != nil {
		return err
	}
	img, _, err := poster.Decode(data, poster.DefaultMaxPixels)
	if err != nil {
		return err
	}
	a, err := m.Analyze(img, nil)
	if err != nil {
		return err
	}
	p.Probs = a.Probs
	if a.Poster != nil {
		p.PosterScore, p.LooksLikePoster = &a.Poster.Score, &a.Poster.LooksLikePoster
	}
	if explainDir == "" {
		return nil
	}
	best := 0
	for i, v := range a.Probs {
		if v > a.Probs[best] {
			best = i
		}
	}
	maps, err := m.Explain(a.Input, []int{best})
	if err != nil {
		return err
	}
	hm := maps[0]
	png, err := heatmap.PNG(hm.Overlay(a.Input, heatmap.Scale(hm.InputWidth, hm.InputHeight)))
	if err != nil {
		return err
	}
	p.Explained = filepath.Join(explainDir, explainName(path)+"."+hm.Genre+".png")
	return atomicfile.WriteFile(p.Explained, png, 0o644)
}

// explainName is the overlay's file stem: the input's base name without its
// extension (for a URL, the whole URL made safe for a file name).
func explainName(path string) string {
	base := filepath.Base(path)
	if isURL(path) {
		base = unsafeName.ReplaceAllString(strings.TrimPrefix(strings.TrimPrefix(path, "https://"), "http://"), "_")
	}
	return strings.TrimSuffix(base, filepath.Ext(base))
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

func readInput(ctx context.Context, path string) ([]byte, error) {
	if !isURL(path) {
		f, err := regular.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		return readCapped(f)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP %s", resp.Status)
	}
	return readCapped(resp.Body)
}

func readCapped(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxPredictBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxPredictBytes {
		return nil, fmt.Errorf("larger than %d MiB", maxPredictBytes>>20)
	}
	return b, nil
}

func topK(genres []string, probs []float32, k int) []genreProb {
	idx := make([]int, len(probs))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return probs[idx[a]] > probs[idx[b]] })
	out := make([]genreProb, 0, k)
	for _, i := range idx[:k] {
		out = append(out, genreProb{Genre: genres[i], Probability: probs[i]})
	}
	return out
}
