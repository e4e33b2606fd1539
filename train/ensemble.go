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
//
// The members of an ensemble on a frozen backbone differ only in their
// heads: they compute the same features from the same pixels. Predict
// then runs the backbone once, in member 1's graph, and feeds its
// features to the other members' heads, each loaded alone as training's
// cached-feature graph is (openHeads): the backbone, nearly all of the
// cost, runs once instead of N times, and each member's probabilities are
// those its own whole graph computes (TestEnsemble compares them with the
// members loaded alone); so does Analyze when it explains nothing (predict
// and serve's probabilities). Analyze with heatmaps and Explain still run
// each member's whole graph: Grad-CAM needs the gradient of each member's
// logits with respect to its own graph's maps.

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
	metas := make([]Meta, 0, len(m.meta.Members))
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
		metas = append(metas, mm)
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
	if len(m.net.feats) > 0 {
		return m.openHeads(dir, metas)
	}
	return nil
}

// sharesBackbone reports whether member mm runs the frozen backbone of
// member 1 (first) on the same input, so that its head can read member 1's
// features.
func sharesBackbone(first, mm Meta) bool {
	return first.FineTune == 0 && mm.FineTune == 0 && mm.Backbone == first.Backbone &&
		mm.WeightsSHA256 == first.WeightsSHA256 && mm.ConcatBackbone == first.ConcatBackbone &&
		mm.ConcatWeightsSHA256 == first.ConcatWeightsSHA256 && mm.TTAFlip == first.TTAFlip
}

// openHeads loads the heads of members 2..N (metas are all members'
// model.json) alone into m.heads when every member shares member 1's
// frozen backbone; otherwise Predict runs each member's whole graph.
func (m *Model) openHeads(dir string, metas []Meta) error {
	for _, mm := range metas[1:] {
		if !sharesBackbone(metas[0], mm) {
			return nil
		}
	}
	for i, mm := range metas[1:] {
		spec := netSpec{Height: 1, Width: 1, Channels: m.net.flatDim, Genres: len(mm.Genres),
			Dense: mm.Dense, Dropout: mm.Dropout, Loss: mm.Loss, FeatureInput: true}
		net, err := buildGraph(spec)
		if err != nil {
			return fmt.Errorf("load model %s: member %d's head: %w", dir, i+2, err)
		}
		sess, err := restoreSession(filepath.Join(dir, m.meta.Members[i+1].Dir), mm, net, m.precision)
		if err != nil {
			return err
		}
		m.heads = append(m.heads, memberNet{net: net, sess: sess})
	}
	return nil
}

// predictShared is one batch of Predict for an ensemble on a frozen
// backbone: member 1's probabilities and features from its whole graph,
// averaged with the other members' heads' (headsMean).
func (m *Model) predictShared(xt *tf.Tensor) ([][]float32, error) {
	res, err := m.sess.Run(map[tf.Output]*tf.Tensor{m.net.images: xt}, append([]tf.Output{m.net.probs}, m.net.feats...), nil)
	if err != nil {
		return nil, err
	}
	return m.headsMean(res[0].Value().([][]float32), res[1:])
}

// headsMean is the ensemble's probabilities from member 1's (first) and
// its features feats (m.net.feats: the images' and, with tta_flip, the
// mirrors'): each other member's head runs on them, its mirrors'
// probabilities averaged with the images' as the whole graph averages
// them, and the members' probabilities are averaged by meanRows.
func (m *Model) headsMean(first [][]float32, feats []*tf.Tensor) ([][]float32, error) {
	for _, f := range feats {
		if err := f.Reshape([]int64{f.Shape()[0] * f.Shape()[1]}); err != nil {
			return nil, err
		}
	}
	all := [][][]float32{first}
	for _, h := range m.heads {
		var probs [][]float32
		for k, f := range feats {
			out, err := h.sess.Run(map[tf.Output]*tf.Tensor{h.net.images: f}, []tf.Output{h.net.probs}, nil)
			if err != nil {
				return nil, err
			}
			p := out[0].Value().([][]float32)
			if k == 0 {
				probs = p
				continue
			}
			for r := range probs {
				meanMirror(probs[r], p[r])
			}
		}
		all = append(all, probs)
	}
	return meanRows(all), nil
}

// meanMirror averages probabilities p with their mirrors' mp in place,
// (p + mp) × 0.5 in float32 as the whole graph's tta_flip computes it: the
// one mirror averaging outside the graph (cached-feature validation, a
// frozen ensemble's heads).
func meanMirror(p, mp []float32) {
	for i := range p {
		p[i] = (p[i] + mp[i]) * 0.5
	}
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
