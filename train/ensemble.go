package train

import (
	"fmt"
	"path/filepath"
	"slices"

	tf "github.com/wamuir/graft/tensorflow"

	"github.com/postergenre/postergenre/train/efficientnet"
)

// A seed ensemble (train.ensemble > 1) is N models that differ only in
// their seed. Its model folder holds each member's own model folder
// (member-1 … member-N, loadable alone) and a model.json of format 2 that
// lists them. LoadModel opens one session per member and every path from
// pixels to probabilities (Predict, Analyze, Explain) returns the mean of
// the members' probabilities, so evaluate, predict and serve, which all
// load through it, score an ensemble exactly alike. Training's
// validation threshold is tuned on the same mean (meanRows and mean32 are
// the one averaging).

// memberNet is one ensemble member's inference graph and session.
type memberNet struct {
	net  *netGraph
	sess *tf.Session
}

// memberName is the folder of member i (0-based) in the ensemble's model
// folder and in MembersDir.
func memberName(i int) string { return fmt.Sprintf("member-%d", i+1) }

// memberSeed is member i's seed (0-based): member 1 is the single model the
// same config with ensemble 1 trains.
func memberSeed(seed int64, i int) int64 { return seed + int64(i) }

// openMembers opens the members m.meta lists, inside dir: member 1 as
// m.net and m.sess (with the detector's backbone weights dw, when set),
// the others in m.more. Each member's model.json must describe the same
// input and outputs as the ensemble's.
func (m *Model) openMembers(dir string, dw *efficientnet.Weights) error {
	if len(m.meta.Members) < 2 {
		return fmt.Errorf("load model %s: an ensemble of %d members", dir, len(m.meta.Members))
	}
	for i, mem := range m.meta.Members {
		if !filepath.IsLocal(mem.Dir) {
			return fmt.Errorf("load model %s: member %d: folder %q is not inside the model folder", dir, i+1, mem.Dir)
		}
		mdir := filepath.Join(dir, mem.Dir)
		mm, err := readMeta(mdir)
		if err != nil {
			return fmt.Errorf("load model %s: member %d: %w", dir, i+1, err)
		}
		if !slices.Equal(mm.Genres, m.meta.Genres) || mm.Height != m.meta.Height || mm.Width != m.meta.Width ||
			mm.Preprocessing != m.meta.Preprocessing || mm.Loss != m.meta.Loss {
			return fmt.Errorf("load model %s: member %d (%s) has other genres, input or loss than the ensemble", dir, i+1, mem.Dir)
		}
		if i > 0 {
			dw = nil // the detector reads member 1's features
		}
		net, sess, err := openNet(mdir, mm, m.precision, dw)
		if err != nil {
			return err
		}
		if i == 0 {
			m.net, m.sess = net, sess
		} else {
			m.more = append(m.more, memberNet{net: net, sess: sess})
		}
	}
	return nil
}

// mean32 is the element-wise mean of equally long vectors, summed in
// order in float32: the one averaging of an ensemble's probabilities.
func mean32(parts [][]float32) []float32 {
	out := slices.Clone(parts[0])
	for _, p := range parts[1:] {
		for j, v := range p {
			out[j] += v
		}
	}
	n := float32(len(parts))
	for j := range out {
		out[j] /= n
	}
	return out
}

// meanRows is mean32 row by row: all[k][r] is member k's row r.
func meanRows(all [][][]float32) [][]float32 {
	out := make([][]float32, len(all[0]))
	parts := make([][]float32, len(all))
	for r := range out {
		for k := range all {
			parts[k] = all[k][r]
		}
		out[r] = mean32(parts)
	}
	return out
}

// memberAnalysis runs the members beyond the first on the image feed xt
// (and, with sel set, the Grad-CAM genre selection) and returns each one's
// probabilities (first image) and raw maps.
func (m *Model) memberAnalysis(xt, sel *tf.Tensor) (probs [][]float32, maps [][][][]float32, err error) {
	for _, o := range m.more {
		feeds := map[tf.Output]*tf.Tensor{o.net.images: xt}
		fetches := []tf.Output{o.net.probs}
		if sel != nil {
			feeds[o.net.camSel] = sel
			fetches = append(fetches, o.net.cam)
		}
		res, err := o.sess.Run(feeds, fetches, nil)
		if err != nil {
			return nil, nil, fmt.Errorf("analyze: %w", err)
		}
		probs = append(probs, res[0].Value().([][]float32)[0])
		if sel != nil {
			maps = append(maps, res[1].Value().([][][]float32))
		}
	}
	return probs, maps, nil
}
