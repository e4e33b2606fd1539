// Package encodetest writes encode outputs for the tests of the stages that
// read them (train, evaluate, scoring): shards of given rows and the
// manifest that counts them, laid out as the encode stage lays them out.
package encodetest

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/postergenre/postergenre/encode"
	"github.com/postergenre/postergenre/encode/encodeconfig"
)

// Output describes the encode output a test writes: the manifest's genres
// (label columns, also its vocabulary) and poster size.
type Output struct {
	Genres        []string
	Height, Width int
}

// Write is WriteFiles for a test: any failure ends it.
func (o Output) Write(t testing.TB, dir string, shards ...[]encode.ShardRow) encode.Manifest {
	t.Helper()
	man, err := o.WriteFiles(dir, shards...)
	if err != nil {
		t.Fatal(err)
	}
	return man
}

// WriteFiles writes each row set as one shard (encode.ShardFile(i)) into
// dir and then the manifest: label mode multi, 3 channels, rows, shard
// checksums and the counts by split and by split and genre. Rows are
// written as given, so a test may write rows its manifest disagrees with.
// It returns the manifest as encode.ReadManifest reads it back.
func (o Output) WriteFiles(dir string, shards ...[]encode.ShardRow) (encode.Manifest, error) {
	man := encode.Manifest{
		Genres: o.Genres, Vocabulary: o.Genres, LabelMode: encodeconfig.LabelMulti,
		Height: o.Height, Width: o.Width, Channels: 3,
		Splits: map[string]int{}, GenreCounts: map[string]map[string]int{}, Shards: []encode.ShardInfo{},
	}
	for i, rows := range shards {
		name := encode.ShardFile(i)
		sum, err := writeShard(filepath.Join(dir, name), rows)
		if err != nil {
			return man, err
		}
		info := encode.ShardInfo{File: name, Rows: len(rows), SHA256: sum, Splits: map[string]int{}}
		for _, r := range rows {
			info.Splits[r.Split]++
			man.Splits[r.Split]++
			if man.GenreCounts[r.Split] == nil {
				man.GenreCounts[r.Split] = map[string]int{}
			}
			for _, g := range r.Genres {
				man.GenreCounts[r.Split][g]++
			}
		}
		man.Rows += len(rows)
		man.Shards = append(man.Shards, info)
	}
	raw, err := json.MarshalIndent(man, "", "  ")
	if err != nil {
		return man, err
	}
	if err := os.WriteFile(filepath.Join(dir, encode.ManifestFile), raw, 0o644); err != nil {
		return man, err
	}
	return encode.ReadManifest(dir)
}

// writeShard writes rows into path as one Parquet file and returns its
// sha256.
func writeShard(path string, rows []encode.ShardRow) (string, error) {
	f, err := os.Create(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	w := parquet.NewGenericWriter[encode.ShardRow](f)
	if _, err := w.Write(rows); err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	if err := w.Close(); err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:]), nil
}
