package train

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	tf "github.com/wamuir/graft/tensorflow"
	"github.com/wamuir/graft/tensorflow/op"

	"github.com/postergenre/postergenre/encode"
	"github.com/postergenre/postergenre/internal/atomicfile"
	"github.com/postergenre/postergenre/internal/regular"
	"github.com/postergenre/postergenre/train/efficientnet"
)

// A frozen backbone with no augmentation maps every poster to the same
// features in every epoch, so the trainer computes them once per split
// (featureBatch posters per session run), keeps them in memory and trains
// the head alone on them: an epoch costs a few matrix products per batch.
//
// The features are cached in <workdir>/cache/features/<key>/, key = sha256
// of the encode manifest (which holds every shard's sha256: the exact
// inputs), the weights' sha256, the backbone, the input size and scaling
// and the cache format. A cache entry is used only when its recorded key
// fields equal this run's and its files have the size the manifest's row
// counts give; anything else is recomputed.

// featureBatch is how many posters one feature-extraction run feeds.
const featureBatch = 32

// featureFormat is bumped when the cache's layout or contents change.
const featureFormat = 1

// featureSplits are the splits training reads (test is the evaluate stage's).
var featureSplits = []string{encode.SplitTrain, encode.SplitValidation}

// featureKey is what a cache entry's features depend on.
type featureKey struct {
	Format         int    `json:"format"`
	ManifestSHA256 string `json:"manifest_sha256"`
	Backbone       string `json:"backbone"`
	WeightsSHA256  string `json:"weights_sha256"`
	Input          string `json:"input"`
	Height         int    `json:"height"`
	Width          int    `json:"width"`
	Dim            int    `json:"dim"`
	Genres         int    `json:"genres"`
}

func (k featureKey) hash() string {
	raw, _ := json.Marshal(k)
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:])
}

// featureCacheMeta is key.json in a cache entry.
type featureCacheMeta struct {
	featureKey
	Rows map[string]int `json:"rows"`
}

// splitFeatures is one split's features [n*dim] and labels [n*genres].
type splitFeatures struct {
	n    int
	x, y []float32
}

// featureSet is the cached features of the training splits.
type featureSet struct {
	dim, genres int
	splits      map[string]*splitFeatures
}

// loadFeatures returns the backbone features of the training and
// validation splits, from the cache or computed (and then cached).
func (t *trainer) loadFeatures(ctx context.Context) (*featureSet, error) {
	m := t.ds.man
	key := featureKey{Format: featureFormat, ManifestSHA256: t.ds.manifestSHA, Backbone: t.cfg.Backbone,
		WeightsSHA256: t.weights.SHA256, Input: InputRaw, Height: m.Height, Width: m.Width,
		Dim: efficientnet.Features, Genres: len(m.Genres)}
	dir := filepath.Join(t.env.OutDir, "features")
	if t.env.Workdir != "" {
		dir = filepath.Join(t.env.Workdir, "cache", "features", key.hash())
	}
	if fs, err := readFeatureCache(dir, key, m); err == nil {
		t.log.Info("backbone features from the cache", "dir", dir, "train", fs.splits[encode.SplitTrain].n,
			"validation", fs.splits[encode.SplitValidation].n)
		return fs, nil
	} else if !os.IsNotExist(err) {
		t.log.Warn("backbone feature cache unusable, recomputing", "dir", dir, "err", err)
	}
	fs, err := t.computeFeatures(ctx, key)
	if err != nil {
		return nil, err
	}
	if err := writeFeatureCache(dir, key, fs); err != nil {
		return nil, fmt.Errorf("train: feature cache %s: %w", dir, err)
	}
	return fs, nil
}

// computeFeatures runs the frozen backbone over the training splits.
func (t *trainer) computeFeatures(ctx context.Context, key featureKey) (*featureSet, error) {
	m := t.ds.man
	s := op.NewScope()
	in := op.Placeholder(s.SubScope("images"), tf.Float, op.PlaceholderShape(tf.MakeShape(-1)))
	x := op.Reshape(s, in, op.Const(s.SubScope("shape"), []int64{-1, int64(m.Height), int64(m.Width), 3}))
	net, err := t.weights.Build(s, x, efficientnet.Options{})
	if err != nil {
		return nil, fmt.Errorf("train: backbone: %w", err)
	}
	g, err := s.Finalize()
	if err != nil {
		return nil, fmt.Errorf("train: backbone graph: %w", err)
	}
	sess, _, _, err := openSession(g, t.cfg)
	if err != nil {
		return nil, err
	}
	defer sess.Close()
	sc := newScaler(Preprocessing{Input: InputRaw})
	fs := &featureSet{dim: key.Dim, genres: key.Genres, splits: map[string]*splitFeatures{}}
	for _, split := range featureSplits {
		start := time.Now()
		sf := &splitFeatures{}
		total := t.ds.count(split)
		var pix []float32
		var rows int
		flush := func() error {
			if rows == 0 {
				return nil
			}
			xt, err := tf.NewTensor(pix)
			if err != nil {
				return err
			}
			out, err := sess.Run(map[tf.Output]*tf.Tensor{in: xt}, []tf.Output{net.Features}, nil)
			if err != nil {
				return fmt.Errorf("backbone features: %w", err)
			}
			sf.x = append(sf.x, flat2(out[0].Value().([][]float32))...)
			sf.n += rows
			pix, rows = pix[:0], 0
			if sf.n%(featureBatch*20) == 0 {
				t.log.Info("backbone features", "split", split, "done", sf.n, "of", total,
					"posters_per_second", math.Round(float64(sf.n)/time.Since(start).Seconds()))
			}
			return ctx.Err()
		}
		err := t.ds.scan(ctx, split, nil, func(r encode.ShardRow) error {
			pix = sc.convert(pix, r.Pixels)
			sf.y = append(sf.y, r.Label...)
			if rows++; rows == featureBatch {
				return flush()
			}
			return nil
		})
		if err == nil {
			err = flush()
		}
		if err != nil {
			return nil, fmt.Errorf("train: %s features: %w", split, err)
		}
		t.log.Info("backbone features", "split", split, "posters", sf.n, "seconds", math.Round(time.Since(start).Seconds()),
			"posters_per_second", math.Round(float64(sf.n)/time.Since(start).Seconds()))
		fs.splits[split] = sf
	}
	return fs, nil
}

// writeFeatureCache writes one <split>.f32 per split (features then
// labels, little-endian float32) and key.json last, each atomically.
func writeFeatureCache(dir string, key featureKey, fs *featureSet) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	meta := featureCacheMeta{featureKey: key, Rows: map[string]int{}}
	for split, sf := range fs.splits {
		buf := make([]byte, 4*(len(sf.x)+len(sf.y)))
		for i, v := range append(append([]float32(nil), sf.x...), sf.y...) {
			binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(v))
		}
		if err := atomicfile.WriteFile(filepath.Join(dir, split+".f32"), buf, 0o644); err != nil {
			return err
		}
		meta.Rows[split] = sf.n
	}
	raw, err := json.MarshalIndent(meta, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(dir, "key.json"), append(raw, '\n'), 0o644)
}

// readFeatureCache reads a cache entry written for key, checking it
// against key and the manifest's row counts.
func readFeatureCache(dir string, key featureKey, m encode.Manifest) (*featureSet, error) {
	var meta featureCacheMeta
	if err := readJSON(filepath.Join(dir, "key.json"), &meta); err != nil {
		return nil, err
	}
	if meta.featureKey != key {
		return nil, fmt.Errorf("key.json is for %+v, not %+v", meta.featureKey, key)
	}
	fs := &featureSet{dim: key.Dim, genres: key.Genres, splits: map[string]*splitFeatures{}}
	for _, split := range featureSplits {
		n, want := meta.Rows[split], m.Splits[split]
		if n != want {
			return nil, fmt.Errorf("%s: %d rows cached, manifest has %d", split, n, want)
		}
		path := filepath.Join(dir, split+".f32")
		f, err := regular.Open(path)
		if err != nil {
			return nil, err
		}
		raw, err := io.ReadAll(f)
		f.Close()
		if err != nil {
			return nil, err
		}
		if len(raw) != 4*n*(key.Dim+key.Genres) {
			return nil, fmt.Errorf("%s: %d bytes, want %d", path, len(raw), 4*n*(key.Dim+key.Genres))
		}
		all := make([]float32, len(raw)/4)
		for i := range all {
			all[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		}
		fs.splits[split] = &splitFeatures{n: n, x: all[:n*key.Dim], y: all[n*key.Dim:]}
	}
	return fs, nil
}

// featureSource serves batches of cached features the way batcher serves
// batches of pixels. A training pass visits the rows in an order drawn from
// (seed, epoch), so a resumed run repeats it.
type featureSource struct {
	fs   *featureSet
	size int
	seed int64
}

func (f *featureSource) run(ctx context.Context, split string, train bool, epoch, maxBatches int, out chan<- *batch) error {
	defer close(out)
	sf, ok := f.fs.splits[split]
	if !ok {
		return fmt.Errorf("no cached features for split %q", split)
	}
	order := make([]int, sf.n)
	for i := range order {
		order[i] = i
	}
	if train {
		rng := rand.New(rand.NewPCG(uint64(f.seed), uint64(epoch)))
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	}
	d, g := f.fs.dim, f.fs.genres
	sent := 0
	for start := 0; start < sf.n; start += f.size {
		rows := order[start:min(start+f.size, sf.n)]
		x := make([]float32, 0, len(rows)*d)
		y := make([]float32, 0, len(rows)*g)
		for _, r := range rows {
			x = append(x, sf.x[r*d:(r+1)*d]...)
			y = append(y, sf.y[r*g:(r+1)*g]...)
		}
		xt, err := tf.NewTensor(x)
		if err != nil {
			return err
		}
		yt, err := tf.NewTensor(y)
		if err != nil {
			return err
		}
		select {
		case out <- &batch{n: len(rows), x: xt, y: yt, labels: y}:
		case <-ctx.Done():
			return ctx.Err()
		}
		if sent++; maxBatches > 0 && sent >= maxBatches {
			return nil
		}
	}
	return nil
}
