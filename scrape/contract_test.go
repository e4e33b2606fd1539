package scrape_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
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

// TestOutputIdentityFollowsStore: scrape's output identity is the poster
// bytes in the store, not what the ledger says. Deleting or overwriting a
// poster changes it and makes the output due again; a rerun that restores
// the same bytes gives the original identity back, and a rerun that
// changed nothing keeps it.
func TestOutputIdentityFollowsStore(t *testing.T) {
	cdn := newFakeCDN(t)
	dir := t.TempDir()
	cfg := testConfig(writeCSV(t, dir, []string{csvRow(1, "/p/1/ok.jpg"), csvRow(2, "/p/2/ok.jpg"), csvRow(3, "")}), cdn.URL)
	st := &scrape.Stage{Cfg: cfg}
	store := filepath.Join(t.TempDir(), "posters")
	scrapeOnce := func() (out, id string) {
		t.Helper()
		d := newDirs(t, store)
		if _, _, err := runStage(context.Background(), t, cfg, d); err != nil {
			t.Fatal(err)
		}
		id, err := st.OutputIdentity(d.out)
		if err != nil {
			t.Fatal(err)
		}
		return d.out, id
	}
	identity := func(out string) (string, bool) {
		t.Helper()
		id, err := st.OutputIdentity(out)
		if err != nil {
			t.Fatal(err)
		}
		due, err := st.RetriesDue(out, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return id, due
	}
	out0, id0 := scrapeOnce()
	if id, due := identity(out0); id != id0 || due {
		t.Fatalf("nothing changed: identity %s (was %s), due %v", id, id0, due)
	}
	_, id1 := scrapeOnce()
	if id1 != id0 {
		t.Errorf("a rerun that fetched nothing changed the identity: %s → %s", id0, id1)
	}

	poster2 := filepath.Join(store, scrape.PosterFile(2))
	for _, tc := range []struct {
		name   string
		tamper func() error
	}{
		{"overwritten with another poster", func() error {
			return os.WriteFile(poster2, mustRead(t, filepath.Join(store, scrape.PosterFile(1))), 0o644)
		}},
		{"deleted", func() error { return os.Remove(poster2) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.tamper(); err != nil {
				t.Fatal(err)
			}
			id, due := identity(out0)
			if id == id0 || !due {
				t.Errorf("identity %s (was %s), due %v: want a new identity and due", id, id0, due)
			}
			// The rerun fetches the poster again: the same bytes, the same identity.
			if _, id := scrapeOnce(); id != id0 {
				t.Errorf("after re-scraping: identity %s, want %s", id, id0)
			}
			if id, due := identity(out0); id != id0 || due {
				t.Errorf("the old output once the store is repaired: %s, due %v", id, due)
			}
		})
	}
}

// TestStaleTempsRemoved: temporary poster files left by a kill -9 are gone
// after the next scrape; posters and the state file stay.
func TestStaleTempsRemoved(t *testing.T) {
	cdn := newFakeCDN(t)
	cfg := testConfig(writeCSV(t, t.TempDir(), []string{csvRow(1, "/p/1/ok.jpg")}), cdn.URL)
	d := newDirs(t, "")
	os.MkdirAll(d.store, 0o755)
	stale := []string{".7.jpg.tmp-123456", ".1.jpg.tmp-99", "." + scrape.StateFile + ".tmp-42"}
	for _, name := range stale {
		os.WriteFile(filepath.Join(d.store, name), []byte("partial"), 0o644)
	}
	if _, _, err := runStage(context.Background(), t, cfg, d); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(d.store)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if want := []string{scrape.StateFile, scrape.PosterFile(1)}; !slices.Equal(names, want) {
		t.Errorf("store holds %v, want %v", names, want)
	}
}

// TestOutputIdentityDefinition recomputes the output identity from the
// files by its definition — sha256 over the CSV copy's bytes, then one line
// "line imdb_id sha256 path" per ledger row in order, first 16 hex digits —
// so that a faster way of computing it (column projection, parallel stats,
// the digest cache) cannot change it: every cached stage downstream, on
// every node of a cluster, is keyed by this value.
func TestOutputIdentityDefinition(t *testing.T) {
	cdn := newFakeCDN(t)
	cfg := testConfig(writeCSV(t, t.TempDir(), []string{
		csvRow(1, "/p/1/ok.jpg"), csvRow(2, "/p/2/missing.jpg"), csvRow(3, ""), csvRow(4, "/p/4/ok.jpg"),
	}), cdn.URL)
	d := newDirs(t, "")
	_, rows, err := runStage(context.Background(), t, cfg, d)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	h.Write(mustRead(t, filepath.Join(d.out, scrape.CSVFile)))
	for _, r := range rows {
		fmt.Fprintf(h, "%d %d %s %s\n", r.Line, r.ImdbID, r.SHA256, r.Path)
	}
	want := hex.EncodeToString(h.Sum(nil))[:16]
	st := &scrape.Stage{Cfg: cfg}
	for _, verify := range []bool{false, true, false} { // the last one from the digest cache
		st.Verify = verify
		if got, err := st.OutputIdentity(d.out); err != nil || got != want {
			t.Errorf("verify=%v: OutputIdentity = %s, %v; want %s", verify, got, err, want)
		}
	}
}
