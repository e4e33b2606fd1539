package encode

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"

	"github.com/postergenre/postergenre/internal/parquetio"
	"github.com/postergenre/postergenre/internal/regular"
)

// This file is the one reader of an encode output folder: train and evaluate
// read shards only through ReadManifest and ForEachRow, so a malformed row
// is treated alike everywhere.

// ReadManifest reads and checks dir/manifest.json. Its absence means the
// encode output is incomplete.
func ReadManifest(dir string) (Manifest, error) {
	m, _, err := ReadManifestSHA256(dir)
	return m, err
}

// ReadManifestSHA256 is ReadManifest that also returns the SHA-256 of the
// manifest file, which identifies the data a model was trained on.
func ReadManifestSHA256(dir string) (Manifest, string, error) {
	var m Manifest
	path := filepath.Join(dir, ManifestFile)
	raw, err := regular.ReadFile(path)
	if err != nil {
		return m, "", fmt.Errorf("encode output: %w", err)
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return m, "", fmt.Errorf("encode manifest %s: %w", path, err)
	}
	if m.Channels == 0 {
		m.Channels = 3
	}
	if len(m.Genres) == 0 || m.Height < 1 || m.Width < 1 || m.Channels != 3 {
		return m, "", fmt.Errorf("encode manifest %s: need genres, height, width and 3 channels (got %d genres, %d×%d×%d)",
			path, len(m.Genres), m.Height, m.Width, m.Channels)
	}
	sum := sha256.Sum256(raw)
	return m, hex.EncodeToString(sum[:]), nil
}

// readBatch is how many rows ForEachRow reads at a time (about 6 MB of
// pixels at 73×107).
const readBatch = 256

// ForEachRow calls fn for every row of the shards listed in m, in shard
// order, keeping only those of split ("" = every split). See
// ForEachRowOfShards.
func ForEachRow(ctx context.Context, dir string, m Manifest, split string, fn func(ShardRow) error) error {
	return ForEachRowOfShards(ctx, dir, m, split, nil, fn)
}

// ForEachRowOfShards calls fn for every row of split ("" = every split) in
// the shards m.Shards[i] for i in order (nil = every shard, in manifest
// order). It reads one shard and one batch at a time, never the whole set,
// and skips a shard whose manifest entry counts no row of split. fn may keep
// the row it is given. An error from fn stops the walk and is returned as is.
//
// A row whose label does not have one value per manifest genre, or whose
// image is not the manifest's Width×Height×3, is an error naming the shard
// file and the row: the shards and the manifest disagree, and no reader
// guesses which is right. A truncated or corrupt shard (on which parquet-go
// may panic) is an error naming the file too.
func ForEachRowOfShards(ctx context.Context, dir string, m Manifest, split string, order []int, fn func(ShardRow) error) error {
	if order == nil {
		order = make([]int, len(m.Shards))
		for i := range order {
			order[i] = i
		}
	}
	batch := make([]ShardRow, readBatch)
	for _, i := range order {
		sh := m.Shards[i]
		if split != "" && sh.Splits != nil && sh.Splits[split] == 0 {
			continue
		}
		sr := shardReader{path: filepath.Join(dir, sh.File), man: &m}
		if err := sr.forEach(ctx, split, batch, fn); err != nil {
			return err
		}
	}
	return nil
}

// shardReader reads one shard file.
type shardReader struct {
	path string
	man  *Manifest
	row  int // rows read so far (0-based index of the next row in the file)
}

func (s *shardReader) forEach(ctx context.Context, split string, batch []ShardRow, fn func(ShardRow) error) error {
	// parquetio checks the shard's schema and turns a parquet-go panic on a
	// truncated or corrupt file into an error naming it.
	r, err := parquetio.Open[ShardRow](s.path)
	if err != nil {
		return fmt.Errorf("encode shard: %w", err)
	}
	defer r.Close()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		clear(batch) // fresh slices every batch: fn may keep rows
		n, rerr := r.Read(batch)
		for _, row := range batch[:n] {
			if err := s.check(&row); err != nil {
				return err
			}
			s.row++
			if split != "" && row.Split != split {
				continue
			}
			if err := fn(row); err != nil {
				return err
			}
		}
		if errors.Is(rerr, io.EOF) || (rerr == nil && n == 0) {
			return nil
		}
		if rerr != nil {
			return fmt.Errorf("encode shard: %w", rerr)
		}
	}
}

// check is the one policy for a row that does not match the manifest.
func (s *shardReader) check(row *ShardRow) error {
	m := s.man
	want := m.Height * m.Width * m.Channels
	if len(row.Label) != len(m.Genres) {
		return fmt.Errorf("encode shard %s: row %d (imdb %d): %d label values, manifest has %d genres",
			s.path, s.row, row.ImdbID, len(row.Label), len(m.Genres))
	}
	if len(row.Pixels) != want || int(row.Height) != m.Height || int(row.Width) != m.Width {
		return fmt.Errorf("encode shard %s: row %d (imdb %d): image %d×%d with %d bytes, manifest says %d×%d (%d bytes)",
			s.path, s.row, row.ImdbID, row.Width, row.Height, len(row.Pixels), m.Width, m.Height, want)
	}
	return nil
}
