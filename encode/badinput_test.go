package encode_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/postergenre/postergenre/clean"
	"github.com/postergenre/postergenre/encode"
	"github.com/postergenre/postergenre/internal/parquetio"
	"github.com/postergenre/postergenre/scrape"
	"github.com/postergenre/postergenre/stages"
)

// TestRunRejectsBadRowsParquet: a truncated rows.parquet, or one holding
// another table (here a scrape ledger), fails the stage with the file's
// path. Before, the ledger passed as rows of zero values and encode
// committed 0 rows.
func TestRunRejectsBadRowsParquet(t *testing.T) {
	env, _ := run(t, movies(12), paperConfig())
	good, err := os.ReadFile(filepath.Join(env.Inputs[stages.Clean], clean.RowsFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		write func(path string) error
		want  string
	}{
		{"truncated", func(p string) error { return os.WriteFile(p, good[:len(good)*2/3], 0o644) }, "magic footer"},
		{"ledger instead of rows", func(p string) error {
			return parquetio.WriteFile(p, []scrape.LedgerRow{{Line: 2, ImdbID: 1, Outcome: scrape.OutcomeDownloaded}})
		}, "schema does not match"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := filepath.Join(t.TempDir(), "clean")
			os.MkdirAll(in, 0o755)
			rows := filepath.Join(in, clean.RowsFile)
			if err := tc.write(rows); err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(t.TempDir(), "encode")
			os.MkdirAll(out, 0o755)
			_, err := (&encode.Stage{Cfg: paperConfig()}).Run(context.Background(),
				stages.Env{OutDir: out, Inputs: map[string]string{stages.Clean: in}, PosterStore: env.PosterStore})
			if err == nil || !strings.Contains(err.Error(), rows) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Run: %v, want an error naming %s and saying %q", err, rows, tc.want)
			}
			t.Log(err)
		})
	}
}

// TestForEachRowBadShard: train and evaluate read shards through
// ForEachRow; a truncated shard or a shard of another schema is an error
// naming it.
func TestForEachRowBadShard(t *testing.T) {
	env, _ := run(t, movies(40), paperConfig())
	m, err := encode.ReadManifest(env.OutDir)
	if err != nil {
		t.Fatal(err)
	}
	shard := filepath.Join(env.OutDir, m.Shards[1].File)
	good, err := os.ReadFile(shard)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		write func() error
		want  string
	}{
		{"truncated", func() error { return os.WriteFile(shard, good[:len(good)/2], 0o644) }, "magic footer"},
		{"truncated to the magic", func() error { return os.WriteFile(shard, good[:4], 0o644) }, shard},
		{"other schema", func() error {
			return parquetio.WriteFile(shard, []clean.Row{{ImdbID: 5}})
		}, "schema does not match"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.write(); err != nil {
				t.Fatal(err)
			}
			n := 0
			err := encode.ForEachRow(context.Background(), env.OutDir, m, "", func(encode.ShardRow) error { n++; return nil })
			if err == nil || !strings.Contains(err.Error(), shard) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("ForEachRow: %v (after %d rows), want an error naming %s and saying %q", err, n, shard, tc.want)
			}
			t.Log(err)
		})
	}
}
