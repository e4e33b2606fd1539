package train

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	tf "github.com/wamuir/graft/tensorflow"

	"github.com/postergenre/postergenre/encode"
)

// dataset is an encode output folder: manifest plus Parquet shards, read as
// a stream (never the whole split in memory).
type dataset struct {
	dir         string
	man         encode.Manifest
	manifestSHA string
	pixels      int // Height*Width*Channels
}

func openDataset(dir string) (*dataset, error) {
	m, sha, err := encode.ReadManifestSHA256(dir)
	if err != nil {
		return nil, err
	}
	return &dataset{dir: dir, man: m, manifestSHA: sha, pixels: m.Height * m.Width * m.Channels}, nil
}

// count returns the rows of a split according to the manifest (-1 if unknown).
func (d *dataset) count(split string) int {
	if n, ok := d.man.Splits[split]; ok {
		return n
	}
	return -1
}

// scan calls fn for every row of split, shard by shard in the given order
// (nil = manifest order), through encode's one reader. Rows are freshly
// allocated: fn may keep them.
func (d *dataset) scan(ctx context.Context, split string, order []int, fn func(encode.ShardRow) error) error {
	return encode.ForEachRowOfShards(ctx, d.dir, d.man, split, order, fn)
}

// channelStats computes per-channel mean and std of x/255 over a split.
func (d *dataset) channelStats(ctx context.Context, split string) (mean, std [3]float32, err error) {
	var sum, sq [3]float64
	var n float64
	err = d.scan(ctx, split, nil, func(r encode.ShardRow) error {
		var s, q [3]uint64
		for i, p := range r.Pixels {
			c := i % 3
			s[c] += uint64(p)
			q[c] += uint64(p) * uint64(p)
		}
		for c := range 3 {
			sum[c] += float64(s[c])
			sq[c] += float64(q[c])
		}
		n += float64(len(r.Pixels) / 3)
		return nil
	})
	if err != nil {
		return mean, std, err
	}
	if n == 0 {
		return mean, std, fmt.Errorf("split %q is empty", split)
	}
	for c := range 3 {
		m := sum[c] / n
		v := sq[c]/n - m*m
		mean[c] = float32(m / 255)
		std[c] = float32(math.Max(math.Sqrt(math.Max(v, 0))/255, 1e-3))
	}
	return mean, std, nil
}

// scaler maps a uint8 channel value to the network's input.
type scaler [3][256]float32

func newScaler(p Preprocessing) *scaler {
	var s scaler
	for c := range 3 {
		for v := range 256 {
			x := float32(v) / 255
			if p.Input == InputRaw {
				x = float32(v)
			} else if p.Standardize {
				x = (x - p.Mean[c]) / p.Std[c]
			}
			s[c][v] = x
		}
	}
	return &s
}

// convert appends the scaled pixels of HWC images to dst.
func (s *scaler) convert(dst []float32, pixels []byte) []float32 {
	for i := 0; i+2 < len(pixels); i += 3 {
		dst = append(dst, s[0][pixels[i]], s[1][pixels[i+1]], s[2][pixels[i+2]])
	}
	return dst
}

// batch is one prepared minibatch: tensors ready to feed plus the labels.
type batch struct {
	n      int
	x, y   *tf.Tensor
	labels []float32 // n*G
}

// batcher prepares batches of one split in a goroutine.
type batcher struct {
	ds      *dataset
	sc      *scaler
	size    int
	augment Augment
	buffer  int
	seed    int64
}

func (b *batcher) makeBatch(imgs [][]byte, labels []float32) (*batch, error) {
	x := make([]float32, 0, len(imgs)*b.ds.pixels)
	for _, p := range imgs {
		x = b.sc.convert(x, p)
	}
	xt, err := tf.NewTensor(x)
	if err != nil {
		return nil, err
	}
	yt, err := tf.NewTensor(labels)
	if err != nil {
		return nil, err
	}
	return &batch{n: len(imgs), x: xt, y: yt, labels: labels}, nil
}

// run streams a split into out and closes it. Training batches come through
// a seeded shuffle buffer (shard order shuffled too) and are augmented; the
// randomness depends only on (seed, epoch) so a resumed run repeats it.
// maxBatches > 0 stops early.
func (b *batcher) run(ctx context.Context, split string, train bool, epoch, maxBatches int, out chan<- *batch) error {
	defer close(out)
	e := &emitter{b: b, ctx: ctx, out: out, maxBatches: maxBatches}
	if !train {
		err := b.ds.scan(ctx, split, nil, func(r encode.ShardRow) error { return e.add(r.Pixels, r.Label) })
		return e.finish(err)
	}
	rng := rand.New(rand.NewPCG(uint64(b.seed), uint64(epoch)))
	order := rng.Perm(len(b.ds.man.Shards))
	e.augment = func(pix []byte) { augmentImage(pix, b.ds.man.Height, b.ds.man.Width, b.augment, rng) }
	sh := shuffler{size: b.buffer, rng: rng}
	err := b.ds.scan(ctx, split, order, func(r encode.ShardRow) error {
		if it, ok := sh.push(item{r.Pixels, r.Label}); ok {
			return e.add(it.pix, it.label)
		}
		return nil
	})
	if err == nil {
		for _, it := range sh.drain() {
			if err = e.add(it.pix, it.label); err != nil {
				break
			}
		}
	}
	return e.finish(err)
}

// item is one row waiting in the shuffle buffer.
type item struct {
	pix   []byte
	label []float32
}

// shuffler is a seeded shuffle buffer of size rows.
type shuffler struct {
	buf  []item
	size int
	rng  *rand.Rand
}

// push adds it and, once the buffer is full, returns a random row it replaces.
func (s *shuffler) push(it item) (item, bool) {
	if len(s.buf) < s.size {
		s.buf = append(s.buf, it)
		return item{}, false
	}
	j := s.rng.IntN(len(s.buf))
	out := s.buf[j]
	s.buf[j] = it
	return out, true
}

// drain returns the rows left, shuffled.
func (s *shuffler) drain() []item {
	s.rng.Shuffle(len(s.buf), func(i, j int) { s.buf[i], s.buf[j] = s.buf[j], s.buf[i] })
	return s.buf
}

// errStop ends a split early once maxBatches are sent.
var errStop = errors.New("stop")

// emitter gathers rows into batches of b.size and sends them on out.
type emitter struct {
	b          *batcher
	ctx        context.Context
	out        chan<- *batch
	augment    func(pix []byte) // nil = none (not training)
	maxBatches int
	imgs       [][]byte
	labels     []float32
	sent       int
}

func (e *emitter) add(pix []byte, label []float32) error {
	if e.augment != nil {
		e.augment(pix)
	}
	e.imgs = append(e.imgs, pix)
	e.labels = append(e.labels, label...)
	if len(e.imgs) < e.b.size {
		return nil
	}
	return e.flush()
}

func (e *emitter) flush() error {
	if len(e.imgs) == 0 {
		return nil
	}
	bt, err := e.b.makeBatch(e.imgs, e.labels)
	if err != nil {
		return err
	}
	e.imgs, e.labels = nil, make([]float32, 0, e.b.size*len(e.b.ds.man.Genres))
	select {
	case e.out <- bt:
	case <-e.ctx.Done():
		return e.ctx.Err()
	}
	e.sent++
	if e.maxBatches > 0 && e.sent >= e.maxBatches {
		return errStop
	}
	return nil
}

// finish sends the last partial batch after a walk that ended with err.
func (e *emitter) finish(err error) error {
	if err == nil {
		err = e.flush()
	}
	if errors.Is(err, errStop) {
		return nil
	}
	return err
}

// augmentImage applies the configured random flip, shift (edge-padded) and
// brightness change to one HWC image in place.
func augmentImage(pix []byte, h, w int, a Augment, rng *rand.Rand) {
	if !a.Flip && a.ShiftPx == 0 && a.Brightness == 0 {
		return
	}
	if a.Flip && rng.IntN(2) == 1 {
		for y := range h {
			row := pix[y*w*3 : (y+1)*w*3]
			for x := range w / 2 {
				l, r := x*3, (w-1-x)*3
				row[l], row[r] = row[r], row[l]
				row[l+1], row[r+1] = row[r+1], row[l+1]
				row[l+2], row[r+2] = row[r+2], row[l+2]
			}
		}
	}
	if s := a.ShiftPx; s > 0 {
		dx, dy := rng.IntN(2*s+1)-s, rng.IntN(2*s+1)-s
		if dx != 0 || dy != 0 {
			src := append([]byte(nil), pix...)
			for y := range h {
				sy := min(max(y-dy, 0), h-1)
				for x := range w {
					sx := min(max(x-dx, 0), w-1)
					copy(pix[(y*w+x)*3:(y*w+x)*3+3], src[(sy*w+sx)*3:(sy*w+sx)*3+3])
				}
			}
		}
	}
	if a.Brightness > 0 {
		d := (rng.Float64()*2 - 1) * a.Brightness * 255
		for i, p := range pix {
			pix[i] = uint8(math.Round(min(max(float64(p)+d, 0), 255)))
		}
	}
}
