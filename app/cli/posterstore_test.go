package cli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/postergenre/postergenre/app/cli"
	"github.com/postergenre/postergenre/clean"
	"github.com/postergenre/postergenre/pipeline"
)

// TestPosterStoreChangesReachLaterStages is issue 12's repro on the demo:
// posters deleted or overwritten after the scrape must never leave clean,
// encode, train and evaluate "up to date" on what the store no longer
// holds, and a store back to what was scraped must reuse the outputs made
// from it, rerunning nothing.
func TestPosterStoreChangesReachLaterStages(t *testing.T) {
	if testing.Short() {
		t.Skip("trains three times")
	}
	work := t.TempDir()
	args := []string{"run", demoConfig, "--workdir", work, "--set", "demo.posters=200", "--set", "train.epochs=1",
		"--set", "evaluate.bootstrap=20", "--log-format", "json", "--quiet"}
	runWith := func(extra ...string) (status map[string]string, cleanDir string) {
		t.Helper()
		code, out, errs := run(t, append(args, extra...)...)
		if code != cli.ExitOK {
			t.Fatalf("run %v: exit %d\n%s\n%s", extra, code, out, lastLines(errs, 20))
		}
		// The newest run, not runs/latest: a run that ran nothing records
		// itself without moving runs/latest.
		runs, err := pipeline.History(work)
		if err != nil || len(runs) == 0 {
			t.Fatalf("history: %d runs, %v", len(runs), err)
		}
		rec := runs[0]
		status = map[string]string{}
		for _, s := range rec.Steps {
			status[s.Stage] = s.Status
			if s.Stage == "clean" {
				cleanDir = pipeline.Layout{Root: work}.Resolve(s.Output)
			}
		}
		return status, cleanDir
	}
	kept := func(dir string) (int, map[string]any) {
		t.Helper()
		s := readStageSummary(t, dir)
		return int(s["kept"].(float64)), s["rejects"].(map[string]any)
	}

	_, firstClean := runWith()
	firstKept, _ := kept(firstClean)
	posters, _ := filepath.Glob(filepath.Join(work, "posters", "*.jpg"))
	sort.Strings(posters)
	if len(posters) < 150 {
		t.Fatalf("%d posters in the store", len(posters))
	}

	// 100 posters deleted, then clean rerun: it must see the reduced store.
	for _, p := range posters[:100] {
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
	}
	st, reducedClean := runWith("--from", "clean")
	if reducedClean == firstClean {
		t.Errorf("--from clean with 100 posters gone reused the clean output of the full store (%s)", firstClean)
	}
	if n, rej := kept(reducedClean); n >= firstKept-50 {
		t.Errorf("clean kept %d rows with 100 posters gone (full store: %d); rejects %v", n, firstKept, rej)
	}
	for _, s := range []string{"clean", "encode", "train", "evaluate"} {
		if st[s] != "ran" {
			t.Errorf("--from clean: %s %q, want ran", s, st[s])
		}
	}

	// Scrape fetches them again: the store is what the first run used, so
	// its outputs are used again, and nothing after scrape reruns.
	st, backClean := runWith("--from", "scrape")
	if st["scrape"] != "ran" || backClean != firstClean {
		t.Errorf("--from scrape: scrape %q, clean output %s; want ran and the first run's %s", st["scrape"], backClean, firstClean)
	}
	for _, s := range []string{"clean", "encode", "train", "evaluate"} {
		if st[s] != "up to date" {
			t.Errorf("posters back: %s %q, want up to date (the first run's)", s, st[s])
		}
	}

	// 40 posters overwritten with other movies' posters: clean refuses them.
	for i, p := range posters[:40] {
		b, err := os.ReadFile(posters[100+i])
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_, changedClean := runWith("--from", "clean")
	if _, rej := kept(changedClean); rej[clean.ReasonPosterChanged] == nil || rej[clean.ReasonPosterChanged].(float64) < 30 {
		t.Errorf("40 overwritten posters: rejects %v, want ~40 %s", rej, clean.ReasonPosterChanged)
	}

	// A nightly run: scrape sees the store differs from its ledger and
	// fetches the originals again; everything else is the first run's.
	st, _ = runWith()
	if st["scrape"] != "ran" {
		t.Errorf("overwritten posters: scrape %q, want ran (retries due)", st["scrape"])
	}
	for _, s := range []string{"clean", "encode", "train", "evaluate"} {
		if st[s] != "up to date" {
			t.Errorf("posters restored: %s %q, want up to date", s, st[s])
		}
	}
	// An unchanged store: everything up to date.
	st, _ = runWith()
	if got := strings.Count(strings.Join(values(st), ","), "up to date"); got != 5 {
		t.Errorf("unchanged store: %v, want 5 up to date", st)
	}
}

func readRunRecord(t *testing.T, runDir string) pipeline.RunRecord {
	t.Helper()
	var rec pipeline.RunRecord
	b, err := os.ReadFile(filepath.Join(runDir, "run.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &rec); err != nil {
		t.Fatalf("%s: %v", runDir, err)
	}
	return rec
}

func values(m map[string]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v)
	}
	return out
}
