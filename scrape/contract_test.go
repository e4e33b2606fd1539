package scrape_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"path/filepath"
	"testing"
	"time"

	"github.com/postergenre/postergenre/scrape"
)

// TestRetriesDue: a download that failed makes the output due again once
// the failure is older than retry_failed_after, and only then.
func TestRetriesDue(t *testing.T) {
	cdn := newFakeCDN(t)
	dir := t.TempDir()
	tests := []struct {
		name  string
		lines []string
		after time.Duration // since the run
		want  bool
	}{
		{"no failure", []string{csvRow(1, "/p/1/ok.jpg")}, 48 * time.Hour, false},
		{"failure, recent", []string{csvRow(1, "/p/1/ok.jpg"), csvRow(2, "/p/2/missing.jpg")}, 30 * time.Minute, false},
		{"failure, past retry_failed_after", []string{csvRow(1, "/p/1/ok.jpg"), csvRow(2, "/p/2/missing.jpg")}, 61 * time.Minute, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(writeCSV(t, dir, tt.lines), cdn.URL)
			cfg.RetryFailedAfter = time.Hour
			d := newDirs(t, "")
			start := time.Now()
			if _, _, err := runStage(context.Background(), t, cfg, d); err != nil {
				t.Fatal(err)
			}
			st := &scrape.Stage{Cfg: cfg}
			due, err := st.RetriesDue(d.out, start.Add(tt.after))
			if err != nil || due != tt.want {
				t.Errorf("RetriesDue after %s = %v, %v; want %v", tt.after, due, err, tt.want)
			}
		})
	}
	if _, err := (&scrape.Stage{}).RetriesDue(t.TempDir(), time.Now()); err == nil {
		t.Error("an output without its summary is not an error")
	}
}

// TestIdentities: the input is named by the CSV's sha256; the output by
// what downstream reads, so a rerun that fetched nothing new keeps it and a
// row with another poster changes it.
func TestIdentities(t *testing.T) {
	cdn := newFakeCDN(t)
	dir := t.TempDir()
	lines := []string{csvRow(1, "/p/1/ok.jpg"), csvRow(2, "/p/2/ok.jpg")}
	cfg := testConfig(writeCSV(t, dir, lines), cdn.URL)
	st := &scrape.Stage{Cfg: cfg}

	in, err := st.InputIdentity(context.Background())
	sum := sha256.Sum256(mustRead(t, cfg.CSV))
	if err != nil || in != "csv="+hex.EncodeToString(sum[:]) {
		t.Errorf("InputIdentity = %q, %v", in, err)
	}
	missing := &scrape.Stage{Cfg: st.Cfg}
	missing.Cfg.CSV = filepath.Join(dir, "nowhere.csv")
	if _, err := missing.InputIdentity(context.Background()); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("InputIdentity of a missing CSV: %v", err)
	}

	store := filepath.Join(t.TempDir(), "posters")
	ids := make([]string, 3)
	for i := range ids {
		if i == 2 {
			lines[1] = csvRow(2, "/p/22/ok.jpg") // another poster for row 2
			st.Cfg.CSV = writeCSV(t, dir, lines)
		}
		d := newDirs(t, store)
		if _, _, err := runStage(context.Background(), t, st.Cfg, d); err != nil {
			t.Fatal(err)
		}
		if ids[i], err = st.OutputIdentity(d.out); err != nil {
			t.Fatal(err)
		}
	}
	if ids[0] != ids[1] {
		t.Errorf("a rerun that fetched nothing changed the identity: %s, %s", ids[0], ids[1])
	}
	if ids[1] == ids[2] {
		t.Errorf("another poster kept the identity %s", ids[1])
	}
}
