// Package clean is the second stage: it turns the scraped CSV and poster
// store into a list of usable rows (rows.parquet), with every dropped row and
// its reason in rejects.parquet.
package clean

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/parquet-go/parquet-go"
	"golang.org/x/sync/errgroup"

	"github.com/postergenre/postergenre/internal/atomicfile"
	"github.com/postergenre/postergenre/internal/moviegenre"
	"github.com/postergenre/postergenre/internal/parquetio"
	"github.com/postergenre/postergenre/internal/poster"
	"github.com/postergenre/postergenre/internal/regular"
	"github.com/postergenre/postergenre/scrape"
	"github.com/postergenre/postergenre/stages"
)

// Reasons a row is dropped (Reject.Reason). Empty fields are "empty_<column>".
const (
	ReasonMalformedRow        = "malformed_row"
	ReasonBadID               = "bad_id"
	ReasonBadScore            = "bad_score"
	ReasonNoYear              = "no_year"
	ReasonYearOutOfRange      = "year_out_of_range"
	ReasonNoGenre             = "no_genre"
	ReasonPaperNotHTTPS       = "paper_filter_not_https"
	ReasonPaperYear           = "paper_filter_year"
	ReasonPaperTitle          = "paper_filter_title"
	ReasonPaperSingleGenre    = "paper_filter_single_genre"
	ReasonDuplicateID         = "duplicate_id"
	ReasonDuplicateIDConflict = "duplicate_id_conflict"
	ReasonNoPoster            = "no_poster"
	ReasonTooManyPixels       = poster.ReasonTooManyPixels
	ReasonCorruptImage        = poster.ReasonCorruptImage
	// ReasonPosterChanged: the store's file is not the bytes the scrape
	// ledger recorded (overwritten or replaced since): not what was scraped
	// for this row.
	ReasonPosterChanged = "poster_changed"
)

// Version of the stage's output; bump when the output changes for the same inputs.
const Version = "1"

// Stage is the clean stage.
type Stage struct{ Cfg Config }

var _ stages.Stage = (*Stage)(nil)

// Name implements stages.Stage.
func (*Stage) Name() string { return stages.Clean }

// Version implements stages.Stage.
func (*Stage) Version() string { return Version }

// SharedPoster is one entry of shared_posters.json: poster bytes that serve
// several ids (kept, only reported).
type SharedPoster struct {
	SHA256 string  `json:"sha256"`
	IDs    []int64 `json:"imdb_ids"`
}

// candidate is a row that passed the field checks, before its poster is checked.
type candidate struct {
	row    Row
	sha256 string  // the poster's sha256 in the scrape ledger
	reject *Reject // set by the poster check
}

// Run implements stages.Stage.
func (s *Stage) Run(ctx context.Context, env stages.Env) (stages.Result, error) {
	in := env.Inputs[stages.Scrape]
	if in == "" {
		return stages.Result{}, errors.New("clean: no scrape input")
	}
	lim, err := scrape.ReadLimits(in)
	if err != nil {
		return stages.Result{}, fmt.Errorf("clean: scrape input: %w", err)
	}
	ledger, err := parquetio.ReadFile[scrape.LedgerRow](filepath.Join(in, scrape.LedgerFile))
	if err != nil {
		return stages.Result{}, fmt.Errorf("clean: reading ledger: %w", err)
	}
	csvPath, err := scrape.CSVPath(in, env.Workdir)
	if err != nil {
		return stages.Result{}, fmt.Errorf("clean: scrape input: %w", err)
	}
	t, err := s.triage(csvPath, lim, ledger)
	if err != nil {
		return stages.Result{}, err
	}
	if t.csvRows != len(ledger) && env.Logger != nil {
		env.Logger.Warn("ledger and CSV disagree on the number of rows", "csv_rows", t.csvRows, "ledger_rows", len(ledger))
	}
	if err := s.checkPosters(ctx, env, t.cands, lim); err != nil {
		return stages.Result{}, err
	}
	kept, rejected := make([]Row, 0, len(t.cands)), t.rejects
	for _, c := range t.cands {
		if c.reject != nil {
			rejected = append(rejected, *c.reject)
		} else {
			kept = append(kept, c.row)
		}
	}
	sort.SliceStable(rejected, func(i, j int) bool { return rejected[i].Line < rejected[j].Line })
	if err := checkOneOutcome(kept, rejected, t.csvRows); err != nil {
		return stages.Result{}, err
	}
	summary, err := writeOutputs(env.OutDir, kept, rejected, lim, t.csvRows, len(ledger))
	if err != nil {
		return stages.Result{}, err
	}
	if env.Logger != nil {
		env.Logger.Info("clean done", "csv_rows", t.csvRows, "kept", len(kept), "rejected", len(rejected))
	}
	return stages.Result{Summary: summary}, nil
}

// triaged is every CSV row after the field checks: rejected already, or a
// candidate whose poster is still to be checked.
type triaged struct {
	rejects []Reject
	cands   []*candidate
	csvRows int
}

// triage reads every CSV row as scrape read it (same reader, same limits)
// and gives each exactly one fate: rejected here (fields, duplicate id, no
// poster in the ledger), or a candidate for the poster check.
func (s *Stage) triage(csvPath string, lim scrape.Limits, ledger []scrape.LedgerRow) (triaged, error) {
	byLine := make(map[int64]scrape.LedgerRow, len(ledger))
	for _, l := range ledger {
		byLine[l.Line] = l
	}
	var t triaged
	seen := map[int64][]string{} // kept id → its fields, for dedupe
	err := readCSV(csvPath, lim, func(rec moviegenre.Row) {
		t.csvRows++
		row, rej := s.checkFields(rec)
		if rej != nil {
			t.rejects = append(t.rejects, *rej)
			return
		}
		if s.Cfg.Dedupe {
			if first, dup := seen[row.ImdbID]; dup {
				reason, detail := ReasonDuplicateID, "exact copy of an earlier row"
				if !slices.Equal(first, rec.Fields) {
					reason, detail = ReasonDuplicateIDConflict, "fields differ from the kept row"
				}
				t.rejects = append(t.rejects, Reject{Line: rec.Line, ImdbID: row.ImdbID, Reason: reason, Detail: detail})
				return
			}
			seen[row.ImdbID] = rec.Fields
		}
		l, ok := byLine[rec.Line]
		switch {
		case !ok:
			t.rejects = append(t.rejects, Reject{Line: rec.Line, ImdbID: row.ImdbID, Reason: ReasonNoPoster, Detail: "line not in the scrape ledger"})
			return
		case l.Outcome != scrape.OutcomeDownloaded && l.Outcome != scrape.OutcomePresent || l.Path == "":
			t.rejects = append(t.rejects, Reject{Line: rec.Line, ImdbID: row.ImdbID, Reason: ReasonNoPoster, Detail: strings.Trim(l.Outcome+" "+l.Reason, " ")})
			return
		}
		row.PosterPath = l.Path
		t.cands = append(t.cands, &candidate{row: row, sha256: l.SHA256})
	})
	if err != nil {
		return t, fmt.Errorf("clean: %w", err)
	}
	if t.csvRows == 0 {
		return t, fmt.Errorf("clean: %s: no data rows (only a header)", csvPath)
	}
	return t, nil
}

// checkPosters checks every candidate's poster file in parallel (bytes as
// the ledger recorded them, decodable under the pixel limit) and records
// each verdict in place.
func (s *Stage) checkPosters(ctx context.Context, env stages.Env, cands []*candidate, lim scrape.Limits) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(runtime.NumCPU())
	task := stages.StartTask(env.Progress, "clean", int64(len(cands)))
	for _, c := range cands {
		g.Go(func() error {
			if err := gctx.Err(); err != nil {
				return err
			}
			c.reject = checkPoster(env.PosterStore, &c.row, c.sha256, s.Cfg.VerifyImages, lim.MaxPixels)
			task.Add(1)
			return nil
		})
	}
	err := g.Wait()
	task.Done()
	if err != nil {
		return fmt.Errorf("clean: %w", err)
	}
	return nil
}

// checkOneOutcome is the stage's invariant: every CSV data row is kept or
// rejected, exactly once.
func checkOneOutcome(rows []Row, rejects []Reject, csvRows int) error {
	if len(rows)+len(rejects) != csvRows {
		return fmt.Errorf("clean: invariant broken: %d kept + %d rejected != %d CSV rows", len(rows), len(rejects), csvRows)
	}
	lines := map[int64]bool{}
	for _, r := range rows {
		lines[r.Line] = true
	}
	for _, r := range rejects {
		if lines[r.Line] {
			return fmt.Errorf("clean: invariant broken: line %d both kept and rejected", r.Line)
		}
		lines[r.Line] = true
	}
	return nil
}

// writeOutputs writes the kept rows, the rejects, the limits (forwarded for
// encode, which decodes the posters under the same limit), the shared
// posters and the summary, and returns the summary.
func writeOutputs(out string, rows []Row, rejects []Reject, lim scrape.Limits, csvRows, ledgerRows int) (map[string]any, error) {
	shared := sharedPosters(rows)
	byReason := map[string]int{}
	for _, r := range rejects {
		byReason[r.Reason]++
	}
	summary := map[string]any{
		"csv_rows":       csvRows,
		"ledger_rows":    ledgerRows,
		"kept":           len(rows),
		"rejected":       len(rejects),
		"rejects":        byReason,
		"shared_posters": len(shared),
	}
	if err := writeParquet(filepath.Join(out, RowsFile), rows); err != nil {
		return nil, err
	}
	if err := writeParquet(filepath.Join(out, RejectsFile), rejects); err != nil {
		return nil, err
	}
	if err := scrape.WriteLimits(out, lim); err != nil {
		return nil, fmt.Errorf("clean: %w", err)
	}
	if err := writeJSON(filepath.Join(out, SharedPostersFile), shared); err != nil {
		return nil, err
	}
	if err := writeJSON(filepath.Join(out, SummaryFile), summary); err != nil {
		return nil, err
	}
	return summary, nil
}

// readCSV calls fn with every data row of the MovieGenre CSV at path.
func readCSV(path string, lim scrape.Limits, fn func(moviegenre.Row)) error {
	f, err := regular.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return moviegenre.ForEach(f, moviegenre.Options{Name: path, Limits: lim.CSV}, func(r moviegenre.Row) error {
		fn(r)
		return nil
	})
}

// checkFields parses one record into a Row, or says why it is dropped.
func (s *Stage) checkFields(rec moviegenre.Row) (Row, *Reject) {
	cfg := s.Cfg
	rej := func(id int64, reason, detail string) (Row, *Reject) {
		return Row{}, &Reject{Line: rec.Line, ImdbID: id, Reason: reason, Detail: detail}
	}
	if rec.Err != nil {
		var id int64
		if len(rec.Fields) > 0 { // a row with the wrong number of fields keeps its first ones
			id, _ = strconv.ParseInt(strings.TrimSpace(rec.Fields[moviegenre.ColID]), 10, 64)
		}
		return rej(id, ReasonMalformedRow, rec.Err.Error())
	}
	f := map[string]string{}
	for i, c := range moviegenre.Columns {
		f[c] = strings.TrimSpace(rec.Fields[i])
	}
	id, idErr := strconv.ParseInt(f[moviegenre.ColumnID], 10, 64)
	for _, c := range cfg.RequiredFields {
		if f[c] == "" {
			return rej(id, "empty_"+c, "")
		}
	}
	if idErr != nil || id <= 0 {
		return rej(0, ReasonBadID, moviegenre.ColumnID+" "+moviegenre.Excerpt(f[moviegenre.ColumnID]))
	}
	var score float64
	if f[moviegenre.ColumnScore] != "" {
		v, err := strconv.ParseFloat(f[moviegenre.ColumnScore], 64)
		if err != nil || v < 0 || v > 10 {
			return rej(id, ReasonBadScore, "score "+moviegenre.Excerpt(f[moviegenre.ColumnScore]))
		}
		score = v
	}
	_, year, hasYear := ParseYear(f[moviegenre.ColumnTitle])
	genres := SplitGenres(f[moviegenre.ColumnGenre])
	if cfg.PaperFilter {
		if reason := PaperFilterReason(f[moviegenre.ColumnPoster], f[moviegenre.ColumnTitle], year, hasYear, genres); reason != "" {
			return rej(id, reason, "")
		}
	}
	if cfg.YearMin > 0 || cfg.YearMax > 0 {
		if !hasYear {
			return rej(id, ReasonNoYear, "title "+moviegenre.Excerpt(f[moviegenre.ColumnTitle]))
		}
		if (cfg.YearMin > 0 && year < cfg.YearMin) || (cfg.YearMax > 0 && year > cfg.YearMax) {
			return rej(id, ReasonYearOutOfRange, strconv.Itoa(year))
		}
	}
	if len(genres) == 0 && slices.Contains(cfg.RequiredFields, moviegenre.ColumnGenre) {
		return rej(id, ReasonNoGenre, "genre "+moviegenre.Excerpt(f[moviegenre.ColumnGenre]))
	}
	return Row{
		Line:      rec.Line,
		ImdbID:    id,
		ImdbLink:  f[moviegenre.ColumnLink],
		Title:     f[moviegenre.ColumnTitle],
		Year:      int32(year),
		Score:     score,
		Genres:    genres,
		PosterURL: f[moviegenre.ColumnPoster],
	}, nil
}

// checkPoster reads the poster of row, fills its checksum, size and format,
// and says why it is unusable, if it is: bytes other than the ledger's
// (ledgerSHA) are not the poster scraped for this row. With verify it
// decodes every pixel.
func checkPoster(store string, row *Row, ledgerSHA string, verify bool, maxPixels int64) *Reject {
	rej := func(reason string, err error) *Reject {
		return &Reject{Line: row.Line, ImdbID: row.ImdbID, Reason: reason, Detail: err.Error()}
	}
	b, err := regular.ReadFile(filepath.Join(store, filepath.FromSlash(row.PosterPath)))
	if err != nil {
		return rej(ReasonNoPoster, err)
	}
	sum := sha256.Sum256(b)
	row.PosterSHA256 = hex.EncodeToString(sum[:])
	row.PosterBytes = int64(len(b))
	if ledgerSHA != "" && row.PosterSHA256 != ledgerSHA {
		return &Reject{Line: row.Line, ImdbID: row.ImdbID, Reason: ReasonPosterChanged,
			Detail: fmt.Sprintf("%s has sha256 %.12s…, the scrape ledger %.12s…", row.PosterPath, row.PosterSHA256, ledgerSHA)}
	}
	h, err := poster.DecodeHeader(b, maxPixels)
	if err != nil {
		return rej(poster.Reason(err), err)
	}
	row.PosterWidth, row.PosterHeight, row.PosterFormat = int32(h.Width), int32(h.Height), h.Format
	if verify {
		if _, _, err := poster.Decode(b, maxPixels); err != nil {
			return rej(poster.Reason(err), err)
		}
	}
	return nil
}

func sharedPosters(rows []Row) []SharedPoster {
	ids := map[string][]int64{}
	for _, r := range rows {
		if !slices.Contains(ids[r.PosterSHA256], r.ImdbID) {
			ids[r.PosterSHA256] = append(ids[r.PosterSHA256], r.ImdbID)
		}
	}
	out := []SharedPoster{}
	for sum, l := range ids {
		if len(l) > 1 {
			slices.Sort(l)
			out = append(out, SharedPoster{SHA256: sum, IDs: l})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].IDs[0] < out[j].IDs[0] })
	return out
}

func writeParquet[T any](path string, rows []T) error {
	if err := parquetio.WriteFile(path, rows, parquet.MaxRowsPerRowGroup(16384)); err != nil {
		return fmt.Errorf("clean: %w", err)
	}
	return nil
}

func writeJSON(path string, v any) error {
	if err := atomicfile.WriteJSON(path, v); err != nil {
		return fmt.Errorf("clean: %w", err)
	}
	return nil
}
