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
	Error  string      `json:"error,omitempty"`
}

type genreProb struct {
	Genre       string  `json:"genre"`
	Probability float32 `json:"probability"`
}

// predictFlags are predict's flags.
type predictFlags struct {
	model, format, prec string
	top                 int
}

func newPredictCmd(st *State, g *globals) *cobra.Command {
	var f predictFlags
	cmd := &cobra.Command{
		Use:   "predict --model MODEL [--top 3] [--format text|json|csv] INPUT...",
		Short: "genres of poster images (files, folders, URLs) from a trained model",
		Long: `Genres of poster images from a trained model.

INPUT is an image file, a folder of images, or an http(s) URL. A folder's
images are written one CSV row each (path, imdb id, one probability per
genre). MODEL is a model folder, or a run, grid cell or tag of the working
folder (e.g. latest, champion, RUN/CELL): its model.`,
		Example:     "  pipeline predict --model latest poster.jpg\n  pipeline predict --model champion --format csv posters/",
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

	var preds []prediction
	for _, in := range expandInputs(inputs) {
		p := prediction{Input: in.path, ImdbID: imdbIDOf(in.path)}
		if in.err != nil {
			p.Error = in.err.Error()
		} else if probs, err := predictOne(st.Ctx, model, in.path); err != nil {
			p.Error = err.Error()
		} else {
			p.Probs = probs
			p.Top = topK(meta.Genres, probs, top)
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
			fmt.Fprintf(w, "%s: %s\n", p.Input, strings.Join(parts, ", "))
		}
	case "json":
		enc := json.NewEncoder(w)
		for _, p := range preds {
			enc.Encode(p)
		}
	case "csv":
		cw := csv.NewWriter(w)
		cw.Write(append([]string{"path", "imdb_id"}, genres...))
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
// Model.PredictImage: the preprocessing recorded in model.json (size, fit,
// filter, scaling), exactly as the training posters were prepared.
func predictOne(ctx context.Context, m *train.Model, path string) ([]float32, error) {
	data, err := readInput(ctx, path)
	if err != nil {
		return nil, err
	}
	img, _, err := poster.Decode(data, poster.DefaultMaxPixels)
	if err != nil {
		return nil, err
	}
	return m.PredictImage(img)
}

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
