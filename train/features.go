package train

import (
	"bufio"
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
// The same holds for the frozen part of a fine-tuned backbone: with
// fine_tune N the layers below the cut (Layers−N) never change, so the
// activation entering the first trained layer (7×7×320 per poster for
// Lite0's head at 224 px) is computed once and cached, and each step runs
// only the trained layers, the pooling and the head on it. Horizontal
// mirrors are served the same way: with augment.flip or tta_flip the entry
// holds the features of every poster's mirror too (computed through the
// prefix from the mirrored pixels, not mirrored features: "SAME" padding
// is not symmetric); each training epoch picks one of the two per poster
// (augment.flip), validation averages both (tta_flip).
//
// The features are cached in <workdir>/cache/features/<key>/, key = sha256
// of the encode manifest (which holds the resize — size, fit, filter —
// and every shard's sha256: the exact inputs), the weights' sha256, the
// backbone, the cut, whether mirrors are included, the input size and
// scaling and the cache format. A cache entry is used only when its
// recorded key fields equal this run's and its files have the size the
// manifest's row counts give; anything else is recomputed.

// featureBatch is how many posters one feature-extraction run feeds.
const featureBatch = 32

// featureFormat is bumped when the cache's layout or contents change.
const featureFormat = 1

// maxFeatureCacheBytes bounds a cache entry held in memory: a cut low in
// the network (large activations) trains through the whole graph instead.
const maxFeatureCacheBytes = 6 << 30

// featureSplits are the splits training reads (test is the evaluate stage's).
var featureSplits = []string{encode.SplitTrain, encode.SplitValidation}

// featureKey is what a cache entry's features depend on. Cut and Flip
// are left out of the JSON when zero, so entries of a frozen backbone
// written before they existed keep their keys.
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
	// Cut > 0: the features are the activation entering the backbone's
	// layer Cut (Dim = its height×width×channels); 0: the 1280 pooled
	// features of the whole frozen backbone.
	Cut int `json:"cut,omitempty"`
	// Flip: the entry also holds each poster's mirror's (augment.flip
	// reads the training split's, tta_flip the validation split's; one
	// entry serves both, the validation split costing a tenth more).
	Flip bool `json:"flip,omitempty"`
}

func (k featureKey) hash() string {
	raw, _ := json.Marshal(k)
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:])
}

// bytes is the entry's size in memory for the given row counts.
func (k featureKey) bytes(rows map[string]int) int64 {
	var n int64
	for _, split := range featureSplits {
		per := int64(k.Dim + k.Genres)
		if k.Flip {
			per += int64(k.Dim)
		}
		n += 4 * per * int64(max(rows[split], 0))
	}
	return n
}

// featureCacheMeta is key.json in a cache entry.
type featureCacheMeta struct {
	featureKey
	Rows map[string]int `json:"rows"`
}

// splitFeatures is one split's features [n*dim], its mirrors' [n*dim]
// (nil without) and labels [n*genres].
type splitFeatures struct {
	n        int
	x, xf, y []float32
}

// featureSet is the cached features of the training splits: pooled
// features (cut 0) or the activation entering layer cut, of shape
// shape (h, w, c).
type featureSet struct {
	dim, genres int
	cut         int
	shape       [3]int
	splits      map[string]*splitFeatures
}

// featureKeyFor is the cache key of this run's features: the frozen
// backbone's pooled features (fineTune 0) or the activation below its
// fineTune trained layers, with the posters' mirrors when flip.
func (t *trainer) featureKeyFor(fineTune int, flip bool) (featureKey, [3]int) {
	m := t.ds.man
	key := featureKey{Format: featureFormat, ManifestSHA256: t.ds.manifestSHA, Backbone: t.cfg.Backbone,
		WeightsSHA256: t.weights.SHA256, Input: InputRaw, Height: m.Height, Width: m.Width,
		Dim: efficientnet.Features, Genres: len(m.Genres), Flip: flip}
	if t.concat != nil {
		// Both backbones' pooled features, side by side (fine_tune is 0).
		key.Backbone += "+" + t.cfg.ConcatBackbone
		key.WeightsSHA256 += "+" + t.concat.SHA256
		key.Dim = 2 * efficientnet.Features
	}
	var shape [3]int
	if fineTune > 0 {
		key.Cut = t.weights.Variant.Layers() - fineTune
		h, w, c := t.weights.Variant.LayerInput(key.Cut, m.Height, m.Width)
		shape, key.Dim = [3]int{h, w, c}, h*w*c
	}
	return key, shape
}

// loadFeatures returns the features key names of the training and
// validation splits, from the cache or computed (and then cached).
func (t *trainer) loadFeatures(ctx context.Context, key featureKey, shape [3]int) (*featureSet, error) {
	m := t.ds.man
	dir := t.featureDir(key)
	if !key.Flip {
		// An entry with the mirrors holds these features too.
		wide := key
		wide.Flip = true
		if fs, err := readFeatureCache(t.featureDir(wide), wide, m); err == nil {
			for _, sf := range fs.splits {
				sf.xf = nil
			}
			t.log.Info("backbone features from the cache (an entry with the mirrors)", "dir", t.featureDir(wide), "cut", key.Cut,
				"train", fs.splits[encode.SplitTrain].n, "validation", fs.splits[encode.SplitValidation].n)
			fs.shape = shape
			return fs, nil
		}
	}
	if fs, err := readFeatureCache(dir, key, m); err == nil {
		t.log.Info("backbone features from the cache", "dir", dir, "cut", key.Cut, "flip", key.Flip,
			"train", fs.splits[encode.SplitTrain].n, "validation", fs.splits[encode.SplitValidation].n)
		fs.shape = shape
		return fs, nil
	} else if !os.IsNotExist(err) {
		t.log.Warn("backbone feature cache unusable, recomputing", "dir", dir, "err", err)
	}
	fs, err := t.computeFeatures(ctx, key)
	if err != nil {
		return nil, err
	}
	fs.shape = shape
	if err := writeFeatureCache(dir, key, fs); err != nil {
		return nil, fmt.Errorf("train: feature cache %s: %w", dir, err)
	}
	return fs, nil
}

// featureDir is the cache entry of key: in the working folder's cache, or
// (no working folder) in the output folder.
func (t *trainer) featureDir(key featureKey) string {
	if t.env.Workdir == "" {
		return filepath.Join(t.env.OutDir, "features")
	}
	return filepath.Join(t.env.Workdir, "cache", "features", key.hash())
}

// featureGraph is the frozen backbone (or its prefix below key.Cut) on
// the fed pixels: outputs [N,Dim] for the images and, with key.Flip, for
// their mirrors.
func (t *trainer) featureGraph(key featureKey) (*tf.Graph, tf.Output, []tf.Output, error) {
	s := op.NewScope()
	in := op.Placeholder(s.SubScope("images"), tf.Float, op.PlaceholderShape(tf.MakeShape(-1)))
	x := op.Reshape(s, in, op.Const(s.SubScope("shape"), []int64{-1, int64(key.Height), int64(key.Width), 3}))
	out := func(x tf.Output) (tf.Output, error) {
		if key.Cut == 0 {
			net, err := t.weights.Build(s, x, efficientnet.Options{})
			if err != nil || t.concat == nil {
				return net.Features, err
			}
			cnet, err := t.concat.Build(s.SubScope("concat"), x, efficientnet.Options{})
			if err != nil {
				return tf.Output{}, err
			}
			return concatFeatures(s, net.Features, cnet.Features), nil
		}
		a, err := t.weights.BuildPrefix(s, x, key.Cut)
		if err != nil {
			return tf.Output{}, err
		}
		fs := s.SubScope("flat")
		return op.Reshape(fs, a, op.Const(fs, []int64{-1, int64(key.Dim)})), nil
	}
	o, err := out(x)
	if err != nil {
		return nil, in, nil, fmt.Errorf("train: backbone: %w", err)
	}
	outs := []tf.Output{o}
	if key.Flip {
		// Width is axis 2 of NHWC.
		ms := s.SubScope("mirror")
		if o, err = out(op.ReverseV2(ms, x, op.Const(ms, []int32{2}))); err != nil {
			return nil, in, nil, fmt.Errorf("train: backbone: %w", err)
		}
		outs = append(outs, o)
	}
	g, err := s.Finalize()
	if err != nil {
		return nil, in, nil, fmt.Errorf("train: backbone graph: %w", err)
	}
	return g, in, outs, nil
}

// computeFeatures runs the frozen backbone (or its prefix) over the
// training splits.
func (t *trainer) computeFeatures(ctx context.Context, key featureKey) (*featureSet, error) {
	g, in, outs, err := t.featureGraph(key)
	if err != nil {
		return nil, err
	}
	sess, _, _, err := openSession(g, t.cfg)
	if err != nil {
		return nil, err
	}
	defer sess.Close()
	sc := newScaler(Preprocessing{Input: InputRaw})
	fs := &featureSet{dim: key.Dim, genres: key.Genres, cut: key.Cut, splits: map[string]*splitFeatures{}}
	for _, split := range featureSplits {
		start := time.Now()
		total := t.ds.count(split)
		fetch := outs[:1]
		sf := &splitFeatures{x: make([]float32, 0, max(total, 0)*key.Dim)}
		if key.Flip {
			fetch = outs
			sf.xf = make([]float32, 0, max(total, 0)*key.Dim)
		}
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
			out, err := sess.Run(map[tf.Output]*tf.Tensor{in: xt}, fetch, nil)
			if err != nil {
				return fmt.Errorf("backbone features: %w", err)
			}
			sf.x = append(sf.x, flat2(out[0].Value().([][]float32))...)
			if len(out) > 1 {
				sf.xf = append(sf.xf, flat2(out[1].Value().([][]float32))...)
			}
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
		t.log.Info("backbone features", "split", split, "posters", sf.n, "cut", key.Cut, "mirrors", sf.xf != nil,
			"seconds", math.Round(time.Since(start).Seconds()),
			"posters_per_second", math.Round(float64(sf.n)/time.Since(start).Seconds()))
		fs.splits[split] = sf
	}
	return fs, nil
}

// writeFeatureCache writes one <split>.f32 per split (features, the
// mirrors' features when there are any, then labels, little-endian
// float32) and key.json last, each atomically.
func writeFeatureCache(dir string, key featureKey, fs *featureSet) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	meta := featureCacheMeta{featureKey: key, Rows: map[string]int{}}
	for split, sf := range fs.splits {
		if err := writeF32File(filepath.Join(dir, split+".f32"), sf.x, sf.xf, sf.y); err != nil {
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

// writeF32File writes the parts one after another as little-endian
// float32, atomically.
func writeF32File(path string, parts ...[]float32) error {
	f, err := atomicfile.Create(path)
	if err != nil {
		return err
	}
	defer f.Abort()
	w := bufio.NewWriterSize(f, 1<<20)
	buf := make([]byte, 4<<10)
	for _, p := range parts {
		for len(p) > 0 {
			n := min(len(p), len(buf)/4)
			for i, v := range p[:n] {
				binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(v))
			}
			if _, err := w.Write(buf[:4*n]); err != nil {
				return err
			}
			p = p[n:]
		}
	}
	if err := w.Flush(); err != nil {
		return err
	}
	return f.Commit()
}

// readF32 fills dst from r's little-endian float32 values.
func readF32(r io.Reader, dst []float32) error {
	buf := make([]byte, 4<<10)
	for len(dst) > 0 {
		n := min(len(dst), len(buf)/4)
		if _, err := io.ReadFull(r, buf[:4*n]); err != nil {
			return err
		}
		for i := range n {
			dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(buf[4*i:]))
		}
		dst = dst[n:]
	}
	return nil
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
	fs := &featureSet{dim: key.Dim, genres: key.Genres, cut: key.Cut, splits: map[string]*splitFeatures{}}
	for _, split := range featureSplits {
		n, want := meta.Rows[split], m.Splits[split]
		if n != want {
			return nil, fmt.Errorf("%s: %d rows cached, manifest has %d", split, n, want)
		}
		sf, err := readSplitFeatures(filepath.Join(dir, split+".f32"), n, key)
		if err != nil {
			return nil, err
		}
		fs.splits[split] = sf
	}
	return fs, nil
}

// readSplitFeatures reads one split's file of n rows, checking its size.
func readSplitFeatures(path string, n int, key featureKey) (*splitFeatures, error) {
	f, err := regular.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	parts := 1
	if key.Flip {
		parts = 2
	}
	if want := 4 * int64(n) * int64(parts*key.Dim+key.Genres); st.Size() != want {
		return nil, fmt.Errorf("%s: %d bytes, want %d", path, st.Size(), want)
	}
	sf := &splitFeatures{n: n, x: make([]float32, n*key.Dim), y: make([]float32, n*key.Genres)}
	if key.Flip {
		sf.xf = make([]float32, n*key.Dim)
	}
	r := bufio.NewReaderSize(f, 1<<20)
	for _, p := range [][]float32{sf.x, sf.xf, sf.y} {
		if err := readF32(r, p); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	return sf, nil
}

// featureSource serves batches of cached features the way batcher serves
// batches of pixels. A training pass visits the rows in an order drawn from
// (seed, epoch), and picks each row's mirror or not from the same draw, so
// a resumed run repeats it.
type featureSource struct {
	fs   *featureSet
	size int
	seed int64
	// flip: a training pass serves each row or its mirror, even odds
	// (augment.flip); mirror: every row's mirror (tta_flip's second
	// validation pass).
	flip, mirror bool
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
	var rng *rand.Rand
	if train {
		rng = rand.New(rand.NewPCG(uint64(f.seed), uint64(epoch)))
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	}
	d, g := f.fs.dim, f.fs.genres
	sent := 0
	for start := 0; start < sf.n; start += f.size {
		rows := order[start:min(start+f.size, sf.n)]
		x := make([]float32, 0, len(rows)*d)
		y := make([]float32, 0, len(rows)*g)
		if f.mirror && sf.xf == nil {
			return fmt.Errorf("no cached mirrors for split %q", split)
		}
		for _, r := range rows {
			src := sf.x
			if f.mirror {
				src = sf.xf
			}
			if train && f.flip && rng.IntN(2) == 1 {
				src = sf.xf
			}
			x = append(x, src[r*d:(r+1)*d]...)
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
