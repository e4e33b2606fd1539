package encode

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/parquet-go/parquet-go"
)

// ReadManifest reads dir/manifest.json. Its absence means the encode output
// is incomplete.
func ReadManifest(dir string) (Manifest, error) {
	var m Manifest
	b, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if err != nil {
		return m, fmt.Errorf("encode: %w", err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("encode: %s: %w", ManifestFile, err)
	}
	return m, nil
}

// readBatch is how many rows ForEachRow reads at a time (about 6 MB of
// pixels at 73×107).
const readBatch = 256

// ForEachRow calls fn for every row of the shards listed in m, in shard
// order, keeping only those of split ("" = every split). It reads one shard
// and one batch at a time, never the whole set. fn may keep the row it is
// given. An error from fn stops the walk and is returned as is.
func ForEachRow(ctx context.Context, dir string, m Manifest, split string, fn func(ShardRow) error) error {
	batch := make([]ShardRow, readBatch)
	for _, sh := range m.Shards {
		if err := forEachInShard(ctx, filepath.Join(dir, sh.File), split, batch, fn); err != nil {
			return err
		}
	}
	return nil
}

func forEachInShard(ctx context.Context, path, split string, batch []ShardRow, fn func(ShardRow) error) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("encode: %w", err)
	}
	defer f.Close()
	r := parquet.NewGenericReader[ShardRow](f)
	defer r.Close()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		clear(batch) // fresh slices every batch: fn may keep rows
		n, err := r.Read(batch)
		for _, row := range batch[:n] {
			if split != "" && row.Split != split {
				continue
			}
			if ferr := fn(row); ferr != nil {
				return ferr
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("encode: reading %s: %w", filepath.Base(path), err)
		}
		if n == 0 {
			return nil
		}
	}
}
