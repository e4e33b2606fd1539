// Package encode is the third stage: it selects the rows and genres a model
// learns, assigns train/validation/test splits, and writes every poster as
// resized RGB pixels with its label into Parquet shards.
package encode

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"strconv"

	"github.com/parquet-go/parquet-go"

	"github.com/postergenre/postergenre/clean"
	"github.com/postergenre/postergenre/encode/encodeconfig"
	"github.com/postergenre/postergenre/internal/atomicfile"
	"github.com/postergenre/postergenre/internal/ordered"
	"github.com/postergenre/postergenre/internal/parquetio"
	"github.com/postergenre/postergenre/internal/poster"
	"github.com/postergenre/postergenre/internal/regular"
	"github.com/postergenre/postergenre/scrape"
	"github.com/postergenre/postergenre/stages"
)

// Version of the stage's output; bump when the output changes for the same inputs.
// Version 2: the hash split uses sha256 (FNV-1a clustered similar ids).
const Version = "2"

// Reasons a row is dropped here (Reject.Reason).
const (
	ReasonNoYear          = "no_year"
	ReasonYearOutOfRange  = "year_out_of_range"
	ReasonNoSelectedGenre = "no_selected_genre"
	ReasonUnreadable      = "unreadable_poster"
	ReasonPosterChanged   = "poster_changed" // bytes differ from what clean checked
	ReasonCorruptImage    = poster.ReasonCorruptImage
	ReasonTooManyPixels   = poster.ReasonTooManyPixels
	ReasonPanic           = "panic"
)

// Reject is one row of encode's rejects.parquet.
type Reject struct {
	Line   int64  `parquet:"line"`
	ImdbID int64  `parquet:"imdb_id"`
	Reason string `parquet:"reason"`
	Detail string `parquet:"detail"`
}

// Parquet key-value metadata keys of every shard.
const (
	MetaGenres     = "genres"     // JSON array: label columns
	MetaVocabulary = "vocabulary" // JSON array: every genre found
	MetaHeight     = "height"
	MetaWidth      = "width"
)

// Stage is the encode stage.
type Stage struct{ Cfg Config }

var _ stages.Stage = (*Stage)(nil)

// Name implements stages.Stage.
func (*Stage) Name() string { return stages.Encode }

// Version implements stages.Stage.
func (*Stage) Version() string { return Version }

// ShardFile names shard i.
func ShardFile(i int) string { return fmt.Sprintf("shard-%05d.parquet", i) }

// job is one selected row to encode; result is what comes back.
type job struct {
	row   clean.Row
	split string
	label []float32
}

type result struct {
	row    ShardRow
	reject *Reject
}

// Run implements stages.Stage.
func (s *Stage) Run(ctx context.Context, env stages.Env) (stages.Result, error) {
	cfg := s.Cfg
	in := env.Inputs[stages.Clean]
	if in == "" {
		return stages.Result{}, errors.New("encode: no clean input")
	}
	// parquetio checks the file's schema: a rows.parquet of another kind
	// would otherwise read as rows of zero values and commit nothing.
	rows, err := parquetio.ReadFile[clean.Row](filepath.Join(in, clean.RowsFile))
	if err != nil {
		return stages.Result{}, fmt.Errorf("encode: reading clean rows: %w", err)
	}
	lim, err := scrape.ReadLimits(in) // scrape's max_pixels, forwarded by clean
	if err != nil {
		return stages.Result{}, fmt.Errorf("encode: clean input: %w", err)
	}
	all := make([][]string, len(rows))
	for i, r := range rows {
		all[i] = r.Genres
	}
	vocab, vcounts := Vocabulary(all)
	genres := cfg.Genres
	if len(genres) == 0 {
		genres = vocab
	}
	labelMode := cfg.LabelMode
	if labelMode == "" { // a Config not built from Default
		labelMode = encodeconfig.Default().LabelMode
	}
	width, height := TargetSize(cfg.Image)

	jobs, rejects := s.selectRows(rows, genres, labelMode)
	assignSplits(jobs, cfg.Split)

	m := Manifest{
		Genres: genres, Vocabulary: vocab, LabelMode: labelMode,
		Height: height, Width: width, Channels: 3,
		Splits: map[string]int{}, GenreCounts: map[string]map[string]int{},
		Shards: []ShardInfo{}, SplitMethod: cfg.Split.Method,
		Fit: PreprocessOf(cfg.Image).Fit, Filter: PreprocessOf(cfg.Image).Filter,
	}
	encRejects, err := s.encodeAll(ctx, env, jobs, &m, lim.MaxPixels)
	if err != nil {
		return stages.Result{}, err
	}
	rejects = append(rejects, encRejects...)
	if m.Rows+len(rejects) != len(rows) {
		return stages.Result{}, fmt.Errorf("encode: invariant broken: %d written + %d rejected != %d clean rows", m.Rows, len(rejects), len(rows))
	}
	m.Rejected = len(rejects)
	summary, err := writeOutputs(env.OutDir, &m, rejects, vocab, vcounts)
	if err != nil {
		return stages.Result{}, err
	}
	summary["clean_rows"], summary["selected"] = len(rows), len(jobs)
	if env.Logger != nil {
		env.Logger.Info("encode done", "rows", m.Rows, "rejected", len(rejects), "shards", len(m.Shards))
	}
	return stages.Result{Summary: summary}, nil
}

// selectRows keeps the clean rows in the year range with at least one
// selected genre, each as a job with its label; the others are rejects.
func (s *Stage) selectRows(rows []clean.Row, genres []string, labelMode string) (jobs []job, rejects []Reject) {
	cfg := s.Cfg
	for _, r := range rows {
		rej := func(reason, detail string) {
			rejects = append(rejects, Reject{Line: r.Line, ImdbID: r.ImdbID, Reason: reason, Detail: detail})
		}
		if cfg.YearMin > 0 || cfg.YearMax > 0 {
			if r.Year == 0 {
				rej(ReasonNoYear, "")
				continue
			}
			if (cfg.YearMin > 0 && int(r.Year) < cfg.YearMin) || (cfg.YearMax > 0 && int(r.Year) > cfg.YearMax) {
				rej(ReasonYearOutOfRange, strconv.Itoa(int(r.Year)))
				continue
			}
		}
		label, ok := Label(r.Genres, genres, labelMode)
		if !ok {
			rej(ReasonNoSelectedGenre, "")
			continue
		}
		jobs = append(jobs, job{row: r, label: label})
	}
	return jobs, rejects
}

// assignSplits gives every selected job its split, over the selected subset
// (the paper's rule, a stable hash of the id, or the year and a hash).
func assignSplits(jobs []job, cfg Split) {
	if cfg.Method == "era" {
		for i := range jobs {
			jobs[i].split = EraSplit(SplitKey{ImdbID: jobs[i].row.ImdbID, Year: jobs[i].row.Year}, cfg)
		}
		return
	}
	if cfg.Method == "paper" {
		keys := make([]SplitKey, len(jobs))
		for i, j := range jobs {
			keys[i] = SplitKey{ImdbID: j.row.ImdbID, Year: j.row.Year}
		}
		for i, sp := range PaperSplits(keys) {
			jobs[i].split = sp
		}
		return
	}
	for i := range jobs {
		jobs[i].split = HashSplit(jobs[i].row.ImdbID, cfg)
	}
}

// writeOutputs writes the rejects, the vocabulary and the manifest (last:
// its presence means the output is complete) and returns the summary.
func writeOutputs(out string, m *Manifest, rejects []Reject, vocab []string, vcounts map[string]int) (map[string]any, error) {
	byReason := map[string]int{}
	for _, r := range rejects {
		byReason[r.Reason]++
	}
	if err := writeParquet(filepath.Join(out, RejectsFile), rejects); err != nil {
		return nil, err
	}
	vj := struct {
		Vocabulary []string       `json:"vocabulary"`
		Counts     map[string]int `json:"counts"`
		Genres     []string       `json:"genres"`
	}{vocab, vcounts, m.Genres}
	if err := writeJSON(filepath.Join(out, VocabFile), vj); err != nil {
		return nil, err
	}
	if err := writeJSON(filepath.Join(out, ManifestFile), m); err != nil { // last
		return nil, err
	}
	return map[string]any{
		"rows": m.Rows, "rejected": len(rejects),
		"rejects": byReason, "splits": m.Splits, "genre_counts": m.GenreCounts,
		"shards": len(m.Shards), "height": m.Height, "width": m.Width,
	}, nil
}

// process decodes and resizes one poster; a failure becomes a reject.
func (s *Stage) process(store string, j job, width, height int, maxPixels int64) (res result) {
	rej := func(reason, detail string) result {
		res.reject = &Reject{Line: j.row.Line, ImdbID: j.row.ImdbID, Reason: reason, Detail: detail}
		return res
	}
	defer func() {
		if r := recover(); r != nil {
			res = rej(ReasonPanic, fmt.Sprint(r))
		}
	}()
	b, err := regular.ReadFile(filepath.Join(store, filepath.FromSlash(j.row.PosterPath)))
	if err != nil {
		return rej(ReasonUnreadable, err.Error())
	}
	sum := sha256.Sum256(b)
	hexsum := hex.EncodeToString(sum[:])
	if j.row.PosterSHA256 != "" && hexsum != j.row.PosterSHA256 {
		return rej(ReasonPosterChanged, "sha256 "+hexsum)
	}
	img, _, err := poster.Decode(b, maxPixels)
	if err != nil {
		return rej(poster.Reason(err), err.Error())
	}
	res.row = ShardRow{
		ImdbID: j.row.ImdbID, Title: j.row.Title, Year: j.row.Year, Genres: j.row.Genres,
		Label: j.label, Split: j.split, Height: int32(height), Width: int32(width),
		Pixels:       PreprocessOf(s.Cfg.Image).Image(img),
		PosterSHA256: hexsum,
	}
	return res
}

// encodeAll decodes and resizes the jobs' posters on cfg.Workers
// goroutines and writes them, in row order, into shards; it fills m and
// returns the per-image rejects in row order. ordered.Map keeps the order
// (go-streams' parallel Map finishes in any order) and bounds how far the
// workers run ahead of the writer.
func (s *Stage) encodeAll(ctx context.Context, env stages.Env, jobs []job, m *Manifest, maxPixels int64) ([]Reject, error) {
	workers := s.Cfg.Workers
	if workers <= 0 {
		workers = runtime.NumCPU()
	}
	sw := &shardWriter{dir: env.OutDir, m: m, shardRows: max(1, s.Cfg.ShardRows), groupRows: max(1, s.Cfg.RowGroupRows)}
	defer sw.abort()
	task := stages.StartTask(env.Progress, "encode", int64(len(jobs)))
	defer task.Done()

	var rejects []Reject
	process := func(j job) result { return s.process(env.PosterStore, j, m.Width, m.Height, maxPixels) }
	write := func(_ int, r result) error {
		task.Add(1)
		if r.reject != nil {
			rejects = append(rejects, *r.reject)
			return nil
		}
		return sw.writeRecovered(r.row)
	}
	if err := ordered.Map(ctx, jobs, workers, 4*workers+8, process, write); err != nil {
		return nil, fmt.Errorf("encode: %w", err)
	}
	if err := sw.close(); err != nil {
		return nil, fmt.Errorf("encode: %w", err)
	}
	return rejects, nil
}

// shardWriter writes rows into consecutive shards, each an atomic file.
type shardWriter struct {
	dir                  string
	m                    *Manifest
	shardRows, groupRows int

	w      *parquetio.Writer[ShardRow]
	info   ShardInfo
	buffer []ShardRow
}

// current names the shard being written, for errors.
func (sw *shardWriter) current() string {
	return filepath.Join(sw.dir, ShardFile(len(sw.m.Shards)))
}

func (sw *shardWriter) open() error {
	name := ShardFile(len(sw.m.Shards))
	gj, _ := json.Marshal(sw.m.Genres)
	vj, _ := json.Marshal(sw.m.Vocabulary)
	w, err := parquetio.Create[ShardRow](filepath.Join(sw.dir, name),
		// zstd on every column (parquetio's default): pixels are raw uint8
		// (not JPEG), so they do compress (neighbouring pixels are alike),
		// and zstd decodes fast.
		parquet.MaxRowsPerRowGroup(int64(sw.groupRows)),
		parquet.CreatedBy("postergenre-encode", Version, ""),
		parquet.KeyValueMetadata(MetaGenres, string(gj)),
		parquet.KeyValueMetadata(MetaVocabulary, string(vj)),
		parquet.KeyValueMetadata(MetaHeight, strconv.Itoa(sw.m.Height)),
		parquet.KeyValueMetadata(MetaWidth, strconv.Itoa(sw.m.Width)),
	)
	if err != nil {
		return err
	}
	sw.w = w
	sw.info = ShardInfo{File: name, Splits: map[string]int{}}
	return nil
}

// writeRecovered is write with a panic (a Parquet writer bug, a full disk
// seen as one) turned into an error naming the shard: it happens on
// ordered.Map's goroutine, beyond the pipeline's recover.
func (sw *shardWriter) writeRecovered(r ShardRow) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("encode: writing %s: panic: %v", sw.current(), p)
		}
	}()
	return sw.write(r)
}

func (sw *shardWriter) write(r ShardRow) error {
	if sw.w == nil {
		if err := sw.open(); err != nil {
			return err
		}
	}
	sw.buffer = append(sw.buffer, r)
	sw.info.Rows++
	sw.info.Splits[r.Split]++
	sw.m.Rows++
	sw.m.Splits[r.Split]++
	gc := sw.m.GenreCounts[r.Split]
	if gc == nil {
		gc = map[string]int{}
		sw.m.GenreCounts[r.Split] = gc
	}
	for i, v := range r.Label {
		if v != 0 {
			gc[sw.m.Genres[i]]++
		}
	}
	if len(sw.buffer) == sw.groupRows || sw.info.Rows == sw.shardRows {
		if err := sw.flushGroup(); err != nil {
			return err
		}
	}
	if sw.info.Rows == sw.shardRows {
		return sw.finish()
	}
	return nil
}

func (sw *shardWriter) flushGroup() error {
	if len(sw.buffer) == 0 {
		return nil
	}
	if err := sw.w.Write(sw.buffer); err != nil {
		return err
	}
	clear(sw.buffer)
	sw.buffer = sw.buffer[:0]
	return sw.w.Flush()
}

func (sw *shardWriter) finish() error {
	if err := sw.flushGroup(); err != nil {
		return err
	}
	sum, err := sw.w.Commit()
	if err != nil {
		return err
	}
	sw.info.SHA256 = sum
	sw.m.Shards = append(sw.m.Shards, sw.info)
	sw.w = nil
	return nil
}

func (sw *shardWriter) close() error {
	if sw.w == nil {
		return nil
	}
	return sw.finish()
}

func (sw *shardWriter) abort() {
	if sw.w != nil {
		sw.w.Abort()
	}
}

func writeParquet[T any](path string, rows []T) error {
	if err := parquetio.WriteFile(path, rows); err != nil {
		return fmt.Errorf("encode: %w", err)
	}
	return nil
}

func writeJSON(path string, v any) error {
	if err := atomicfile.WriteJSON(path, v); err != nil {
		return fmt.Errorf("encode: %w", err)
	}
	return nil
}
