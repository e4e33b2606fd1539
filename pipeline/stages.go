package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/parquet-go/parquet-go"

	"github.com/postergenre/postergenre/clean"
	"github.com/postergenre/postergenre/configs"
	"github.com/postergenre/postergenre/encode"
	"github.com/postergenre/postergenre/evaluate"
	"github.com/postergenre/postergenre/scrape"
	"github.com/postergenre/postergenre/stages"
	"github.com/postergenre/postergenre/train"
)

// Stages builds the five stages of a config.
func Stages(cfg configs.Config) map[string]stages.Stage {
	return map[string]stages.Stage{
		stages.Scrape:   &scrape.Stage{Cfg: cfg.Scrape},
		stages.Clean:    &clean.Stage{Cfg: cfg.Clean},
		stages.Encode:   &encode.Stage{Cfg: cfg.Encode},
		stages.Train:    &train.Stage{Cfg: cfg.Train},
		stages.Evaluate: &evaluate.Stage{Cfg: cfg.Evaluate},
	}
}

func loadCSV(ctx context.Context, cfg *configs.Config) ([]byte, error) {
	return scrape.LoadCSV(ctx, cfg.Scrape)
}

// scrapeContentID identifies a scrape output by what downstream stages read:
// the CSV bytes and, per row, which poster (by sha256) the store holds.
func scrapeContentID(dir string) (string, error) {
	h := sha256.New()
	csv, err := os.Open(filepath.Join(dir, scrape.CSVFile))
	if err != nil {
		return "", err
	}
	defer csv.Close()
	if _, err := io.Copy(h, csv); err != nil {
		return "", err
	}
	f, err := os.Open(filepath.Join(dir, scrape.LedgerFile))
	if err != nil {
		return "", err
	}
	defer f.Close()
	r := parquet.NewGenericReader[scrape.LedgerRow](f)
	defer r.Close()
	buf := make([]scrape.LedgerRow, 1024)
	for {
		n, err := r.Read(buf)
		for _, row := range buf[:n] {
			fmt.Fprintf(h, "%d %d %s %s\n", row.Line, row.ImdbID, row.SHA256, row.Path)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", fmt.Errorf("%s: %w", scrape.LedgerFile, err)
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}
