package train

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/postergenre/postergenre/internal/atomicfile"
	"github.com/postergenre/postergenre/internal/metrics"
	"github.com/postergenre/postergenre/internal/regular"
)

// historyHeader is history.csv's header row.
const historyHeader = "epoch,learning_rate,train_loss,train_paper_accuracy,val_loss,val_paper_accuracy,val_top3_hit,val_macro_auc,images_per_second,seconds,best\n"

// writeHistory rewrites history.jsonl and history.csv atomically. An
// undefined metric is null in the JSON lines (metrics.Num) and an empty
// cell in the CSV.
func (t *trainer) writeHistory() error {
	var js, csv strings.Builder
	csv.WriteString(historyHeader)
	for _, h := range t.history {
		raw, err := json.Marshal(h)
		if err != nil {
			return err
		}
		js.Write(raw)
		js.WriteByte('\n')
		fmt.Fprintf(&csv, "%d,%g,%s,%s,%s,%s,%s,%s,%.1f,%.2f,%t\n", h.Epoch, h.LearningRate, csvNum(h.TrainLoss),
			csvNum(h.TrainPaperAcc), csvNum(h.ValLoss), csvNum(h.ValPaperAcc), csvNum(h.ValTop3Hit), csvNum(h.ValMacroAUC),
			h.ImagesPerSecond, h.Seconds, h.Best)
	}
	if err := atomicfile.WriteFile(filepath.Join(t.env.OutDir, HistoryFile), []byte(js.String()), 0o644); err != nil {
		return fmt.Errorf("train: history: %w", err)
	}
	if err := atomicfile.WriteFile(filepath.Join(t.env.OutDir, HistoryCSV), []byte(csv.String()), 0o644); err != nil {
		return fmt.Errorf("train: history: %w", err)
	}
	return nil
}

// csvNum formats a metric for history.csv: six decimals, empty when undefined.
func csvNum(v metrics.Num) string {
	f := float64(v)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return ""
	}
	return strconv.FormatFloat(f, 'f', 6, 64)
}

// ReadHistory reads history.jsonl from a train output folder.
func ReadHistory(dir string) ([]EpochStats, error) {
	f, err := regular.Open(filepath.Join(dir, HistoryFile))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []EpochStats
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		if len(sc.Bytes()) == 0 {
			continue
		}
		var h EpochStats
		if err := json.Unmarshal(sc.Bytes(), &h); err != nil {
			return nil, fmt.Errorf("%s line %d: %w", HistoryFile, len(out)+1, err)
		}
		out = append(out, h)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if out == nil {
		return nil, errors.New(HistoryFile + " is empty")
	}
	return out, nil
}
