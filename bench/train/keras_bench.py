"""Keras reference for bench/train: the paper's network trained with
model.fit on a tf.data pipeline from numpy uint8 arrays, same shards, same
scaling (x/255), batch size and thread count as the Go trainer. Prints one
JSON line: images/s of the timed epochs (the first epoch is warm-up; mean and
best epoch) and the
process's peak RSS (VmHWM)."""
import argparse, glob, json, os, sys, time

ap = argparse.ArgumentParser()
ap.add_argument("--shards", required=True)
ap.add_argument("--batch", type=int, default=32)
ap.add_argument("--epochs", type=int, default=2)
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--lr", type=float, default=1e-4)
ap.add_argument("--max-rows", type=int, default=0, help="train on the first N training rows only (0: all)")
ap.add_argument("--mark", action="store_true",
                help="print ONEDNN-MARK start/end lines on stdout around the timed epochs (bench/opprofile reads oneDNN's verbose log between them)")
ap.add_argument("--profile-ops", default="",
                help="folder: trace the timed epochs with tf.profiler there and add the time per op type (as executed) to the JSON")
ap.add_argument("--precision", choices=["float32", "bfloat16"], default="float32",
                help="bfloat16: Keras' mixed_bfloat16 policy (variables and the output layer stay float32)")
args = ap.parse_args()

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
import numpy as np
import pyarrow.parquet as pq
import tensorflow as tf

tf.config.threading.set_intra_op_parallelism_threads(args.threads)
tf.config.threading.set_inter_op_parallelism_threads(args.threads)
tf.keras.utils.set_random_seed(1)
if args.precision == "bfloat16":
    tf.keras.mixed_precision.set_global_policy("mixed_bfloat16")

man = json.load(open(os.path.join(args.shards, "manifest.json")))
H, W, G = man["height"], man["width"], len(man["genres"])
xs, ys = [], []
for sh in man["shards"]:
    t = pq.read_table(os.path.join(args.shards, sh["file"]), columns=["split", "label", "pixels"])
    split = t.column("split").to_pylist()
    pix = t.column("pixels").to_pylist()
    lab = t.column("label").to_pylist()
    for s, p, l in zip(split, pix, lab):
        if s == "train":
            xs.append(np.frombuffer(p, dtype=np.uint8))
            ys.append(l)
if args.max_rows > 0:
    xs, ys = xs[:args.max_rows], ys[:args.max_rows]
x = np.stack(xs).reshape(-1, H, W, 3)
y = np.asarray(ys, dtype=np.float32)
del xs, ys
n = len(x)

ds = (tf.data.Dataset.from_tensor_slices((x, y))
      .shuffle(4096, seed=1)
      .batch(args.batch)
      .map(lambda a, b: (tf.cast(a, tf.float32) / 255.0, b), num_parallel_calls=tf.data.AUTOTUNE)
      .prefetch(2))

L = tf.keras.layers
model = tf.keras.Sequential([
    L.Input((H, W, 3)),
    L.Conv2D(32, 3, activation="relu"), L.MaxPooling2D(2),
    L.Conv2D(32, 3, activation="relu"), L.MaxPooling2D(2),
    L.Conv2D(32, 3, activation="relu"), L.MaxPooling2D(2),
    L.Conv2D(64, 3, activation="relu"), L.MaxPooling2D(2),
    L.Flatten(),
    L.Dense(64, activation="relu"), L.Dropout(0.5),
    L.Dense(32, activation="relu"), L.Dropout(0.5),
    # The softmax in float32, as Keras' mixed-precision guide says.
    L.Dense(G), L.Activation("softmax", dtype="float32"),
])
model.compile(optimizer=tf.keras.optimizers.Adam(args.lr), loss="categorical_crossentropy",
              metrics=["categorical_accuracy"])


class Timer(tf.keras.callbacks.Callback):
    def __init__(self):
        self.times = []

    def on_epoch_begin(self, epoch, logs=None):
        if args.mark and epoch == 1:
            print("ONEDNN-MARK start", flush=True)
        if args.profile_ops and epoch == 1:
            tf.profiler.experimental.start(args.profile_ops)
        self.t0 = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.times.append(time.perf_counter() - self.t0)
        if epoch == args.epochs - 1 and epoch >= 1:
            if args.mark:
                print("ONEDNN-MARK end", flush=True)
            if args.profile_ops:
                tf.profiler.experimental.stop()


def op_types(folder):
    """Sums the host trace's op executions ("node:OpType" events) per op
    type, in ms, as TensorFlow's step statistics name them for ours."""
    import collections, glob, re
    from tensorflow.tsl.profiler.protobuf import xplane_pb2
    out = collections.defaultdict(lambda: {"calls": 0, "ms": 0.0})
    for f in glob.glob(os.path.join(folder, "**", "*.xplane.pb"), recursive=True):
        xs = xplane_pb2.XSpace()
        xs.ParseFromString(open(f, "rb").read())
        for plane in xs.planes:
            for line in plane.lines:
                for ev in line.events:
                    m = re.fullmatch(r"[^:]+:([A-Za-z0-9_]+)", plane.event_metadata[ev.metadata_id].name)
                    if m:
                        out[m.group(1)]["calls"] += 1
                        out[m.group(1)]["ms"] += ev.duration_ps / 1e9
    return dict(out)


timer = Timer()
model.fit(ds, epochs=args.epochs, verbose=0, callbacks=[timer])
timed = timer.times[1:] or timer.times
ops = op_types(args.profile_ops) if args.profile_ops else {}
hwm = 0
for line in open("/proc/self/status"):
    if line.startswith("VmHWM:"):
        hwm = int(line.split()[1]) * 1024
print(json.dumps({
    "impl": "keras", "precision": args.precision, "images": n, "epochs_timed": len(timed),
    "images_per_second": n * len(timed) / sum(timed),
    "best_epoch_images_per_second": max(n / t for t in timed),
    "epoch_seconds": timer.times, "peak_rss_bytes": hwm, "op_types": ops,
    "steps_timed": -(-n // args.batch) * len(timed),
    "tf_version": tf.__version__, "keras_version": tf.keras.__version__ if hasattr(tf.keras, "__version__") else "",
}))
