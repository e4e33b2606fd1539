// Package train is the train stage: it streams the encode stage's Parquet
// shards and trains the paper's CNN (or a configured variant) through
// TensorFlow's C API (graft), graph built in Go.
//
// Graph: 3×3 'valid' convolutions with bias (optionally batch norm), ReLU and
// 2×2 max-pooling; dense layers with ReLU and dropout; an output layer over
// the manifest's genres. Loss "softmax_ce" is -Σ y·log softmax(x) on the
// multi-hot label as is (Keras' categorical cross-entropy, whose gradient is
// Σy·softmax - y; TensorFlow's SoftmaxCrossEntropyWithLogits assumes labels
// summing to 1 and is not used), "sigmoid_bce" is softplus(x) - x·z. Adam is
// ResourceApplyAdam with an in-graph step; the learning rate is fed each step.
// Dropout masks come from a stateless generator seeded by (seed, layer, step)
// and batches from a shuffle seeded by (seed, epoch), so a resumed run repeats
// an uninterrupted one exactly in deterministic mode.
//
// Output folder:
//
//	model/model.json, model/ckpt-epoch-NNNN.*   best epoch's weights (LoadModel)
//	checkpoints/latest.json, epoch-NNNN.*       last epoch, Adam slots and step (resume)
//	history.jsonl, history.csv                  one row per epoch (NaN written as -1)
//
// A seed ensemble (ensemble: N > 1) trains each member in
// members/member-K/ laid out as above, copies its model folder to
// model/member-K/ and writes model/model.json (format 2) listing the
// members; history.* are member 1's (members.go, ensemble.go).
//
// Resume (env.Resume): training continues from
// filepath.Join(env.Prev, "checkpoints") — env.Prev being the interrupted
// attempt's output folder — and that attempt's model/ and history come along.
// Without a checkpoint there, training starts over (with a warning).
package train
