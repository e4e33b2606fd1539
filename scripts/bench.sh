#!/usr/bin/env bash
# make bench SHARED=../shared [PARTS="scrape train"]: the benchmarks on this
# machine, each part's rows side by side in one run (ratios, since the
# machine is noisy), spliced into bench/results.md and printed.
#
# Needs the real data (posters are served from SHARED by a local mirror;
# nothing is copied into the project). What the parts need is built here,
# in WORK, not taken from an earlier run: the paper config's encode output
# (scripts/encode-real.sh into WORK/real) for train and precision, and a
# completed paper run for the nightly rerun.
#
# bench/results.md mixes measured tables and hand-written notes. Each part
# owns only the block between its markers,
#
#	<!-- bench:NAME -->  ...  <!-- /bench:NAME -->
#
# which it replaces (or appends, the first time); everything outside the
# markers is kept as written. A part not run keeps its previous block, and
# every block says when, on what machine and at what load it was measured.
#
# Usage: bench.sh SHARED [WORK] [PARTS]. Parts: scrape encode backbone
# train precision opprofile runtimeopts finetune ensemble nightly serve slurm explain (default all, in that order). slurm
# starts the local two-node cluster (scripts/slurm-local.sh; root). Extra flags
# for a part's program: BENCH_ARGS_<PART>, e.g. BENCH_ARGS_PRECISION="-rounds 1".
# Every real-data helper serves its mirror on its own port; this one's is
# 18093 (18090–18092 belong to the others).
export MIRROR_PORT="${MIRROR_PORT:-18093}"
source "$(dirname "$0")/real-common.sh"
need_shared "$1"
WORK="${2:-$ROOT/work/bench}"
PARTS="${3:-scrape encode backbone train precision opprofile runtimeopts finetune ensemble nightly serve slurm explain}"
REAL="$WORK/real"
out="$ROOT/bench/results.md"
mkdir -p "$WORK/parts" "$ROOT/bench"
cd "$ROOT"

for p in $PARTS; do
	case "$p" in scrape | encode | backbone | train | precision | opprofile | runtimeopts | finetune | ensemble | serve | nightly | slurm | explain) ;;
	*) echo "bench.sh: unknown part $p" >&2; exit 2 ;;
	esac
done

# machine: the line every block starts with.
machine() {
	echo "Measured $(date -u +%Y-%m-%dT%H:%MZ), commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)," \
		"on $(nproc) cores of $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(free -g | awk '/Mem:/{print $2}') GiB;" \
		"load average at start: $(cut -d' ' -f1-3 /proc/loadavg)."
}

# splice NAME FILE: replace NAME's block in results.md with FILE (markers
# added here), or append it when results.md has no such block yet.
splice() {
	python3 - "$out" "$1" "$2" <<'EOF'
import os, re, sys
out, name, part = sys.argv[1:]
begin, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
block = begin + "\n" + open(part).read().strip("\n") + "\n" + end
text = open(out).read() if os.path.exists(out) else "# Benchmarks\n"
m = re.search(re.escape(begin) + r".*?" + re.escape(end), text, re.S)
text = text[:m.start()] + block + text[m.end():] if m else text.rstrip("\n") + "\n\n" + block + "\n"
tmp = out + ".tmp"
open(tmp, "w").write(text)
os.replace(tmp, out)
EOF
}

# part NAME TITLE: runs the function part_NAME, prints its block and
# splices it into results.md. A part that fails says so in its block.
part() {
	local name="$1" title="$2" f="$WORK/parts/$1.md"
	{
		local code=0
		echo "## $title"
		echo
		machine
		echo
		# set -e does not reach into a function called with ||: each part
		# returns its first failure itself.
		"part_$name" || code=$?
		[ "$code" = 0 ] || printf '\nFAILED (exit %s); see the output of make bench.\n' "$code"
		echo "$code" >"$WORK/parts/$name.rc"
	} 2> >(tee "$WORK/parts/$name.log" >&2) | tee "$f"
	echo
	splice "$name" "$f"
}

# args NAME: the extra flags for NAME's program (BENCH_ARGS_NAME).
args() { local v="BENCH_ARGS_${1^^}"; echo "${!v:-}"; }

# real_encode sets ENC to the paper config's encode output, brought up to
# date in REAL once per bench run (scrape through a mirror of SHARED, clean,
# encode: scripts/encode-real.sh; stages already up to date cost nothing).
# Parts run in subshells, so "once" is remembered in a file.
ENC_FILE="$WORK/parts/encode-real.path"
rm -f "$ENC_FILE"
real_encode() {
	if [ ! -f "$ENC_FILE" ]; then
		"$ROOT/scripts/encode-real.sh" "$SHARED" "$REAL" >"$WORK/encode-real.out" || return 1
		echo "$REAL/stages/encode/$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['stages']['encode']['fingerprint'])" "$REAL/state/paper-real.json")" >"$ENC_FILE" || return 1
	fi
	ENC="$(cat "$ENC_FILE")"
	[ -f "$ENC/manifest.json" ] || { echo "bench.sh: no encode output in $ENC" >&2; return 1; }
}

part_scrape() {
	# The mirror is `pipeline mirror` in its own process (on a free port).
	go run ./bench/scrape -shared "$SHARED" -work "$WORK/scrape" -pipeline "$BIN" $(args scrape)
}

part_encode() {
	echo "Decode, resize to 73×107 and write Parquet, all real posters."
	echo
	# Its own "##" headings become "###" inside this block.
	go run ./bench/encode -shared "$SHARED" -work "$WORK/encode" -workers 1,2 $(args encode) | sed 's/^## /### /'
}

part_backbone() {
	echo "EfficientNet-Lite0, -Lite1 and -Lite2 feature extraction, each at its native size, frozen weights, float32 and bfloat16."
	echo
	go run ./bench/backbone $(args backbone)
}

part_train() {
	real_encode || return 1
	"$ROOT/scripts/py-deps.sh" --keras >/dev/null || return 1
	KERAS_PYTHON="$ROOT/.venv-keras/bin/python" go run ./bench/train -shards "$ENC" \
		-python "$ROOT/.venv-keras/bin/python" -script "$ROOT/bench/train/keras_bench.py" $(args train)
}

part_precision() {
	real_encode || return 1
	"$ROOT/scripts/py-deps.sh" --keras >/dev/null || return 1
	echo "The paper input uses the real 73×107 training split; 150×200 (full.yaml's input) uses random posters, which train at the same speed."
	echo
	go run ./bench/precision -shards "$ENC" -work "$WORK/precision" \
		-python "$ROOT/.venv-keras/bin/python" -script "$ROOT/bench/train/keras_bench.py" $(args precision)
}

# Where a step goes, ours and Keras side by side (issue 24's first item):
# few steps per process, a profile rather than a throughput.
part_opprofile() {
	real_encode || return 1
	"$ROOT/scripts/py-deps.sh" --keras >/dev/null || return 1
	go run ./bench/opprofile -shards "$ENC" -work "$WORK/precision" \
		-python "$ROOT/.venv-keras/bin/python" -script "$ROOT/bench/train/keras_bench.py" $(args opprofile)
}

part_runtimeopts() {
	# Random posters: XLA trains at a few images/s here, and what is timed
	# does not depend on the posters' content.
	go run ./bench/runtimeopts -work "$WORK/runtimeopts" $(args runtimeopts)
}

part_finetune() {
	# Random posters too: a training step's cost does not depend on them.
	go run ./bench/finetune -work "$WORK/finetune" $(args finetune)
}

part_ensemble() {
	# Random posters: predicting's cost does not depend on them.
	go run ./bench/ensemble -work "$WORK/ensemble" $(args ensemble)
}

# paper_run sets CFG and SET to the paper config (encode-real.sh's own file,
# so scrape, clean and encode are the ones it left up to date in REAL) with
# train.epochs=1, and completes one run of it, once per bench run: nightly
# measures reruns of it and serve loads its model. One epoch, because what
# is measured does not depend on how long training took. The mirror serves
# until the part ends.
PAPER_DONE="$WORK/parts/paper-run.done"
rm -f "$PAPER_DONE"
paper_run() {
	real_encode || return 1
	start_mirror "$MIRROR_PORT"
	CFG="$(WORK="$REAL" overlay paper-real paper.yaml "$MIRROR_PORT")"
	SET=(--set train.epochs=1)
	[ -f "$PAPER_DONE" ] && return 0
	"$BIN" run "$CFG" "${SET[@]}" --workdir "$REAL" >"$WORK/paper-run.out" 2>"$WORK/paper-run.log" ||
		{ echo "bench.sh: the paper run failed; see $WORK/paper-run.log" >&2; return 1; }
	touch "$PAPER_DONE"
}

part_nightly() {
	paper_run || return 1
	echo "\`pipeline run\` of the paper config (real CSV through the mirror, train.epochs=1) in $REAL after a completed run; 3 runs in a row."
	echo
	echo "| run | seconds | exit | stages up to date |"
	echo "|---|---:|---:|---:|"
	local i s e code
	for i in 1 2 3; do
		s=$(date +%s.%N)
		code=0
		"$BIN" run "$CFG" "${SET[@]}" --workdir "$REAL" >"$WORK/nightly.out" 2>"$WORK/nightly.log" || code=$?
		e=$(date +%s.%N)
		echo "| \`pipeline run\` #$i | $(python3 -c "print(f'{$e-$s:.2f}')") | $code | $(grep -oE '"status": *"up to date"' "$WORK/nightly.out" | wc -l) |"
	done
}

part_serve() {
	# Single posters against `pipeline serve`'s handler: requests/s and
	# p50/p99 latency, on the paper run's model and the real posters.
	paper_run || return 1
	local model
	model="$REAL/stages/train/$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['stages']['train']['fingerprint'])" "$REAL/state/paper-real.json")/model"
	echo "The paper run's model (train.epochs=1; speed does not depend on the weights), real posters."
	echo
	go run ./bench/serve -model "$model" -posters "$POSTERS" $(args serve)
}

part_slurm() {
	# The demo grid local vs Slurm, then one paper-size cell (real data,
	# 1 epoch, a new seed so it trains) through Slurm in REAL, where
	# real_encode left the shared stages up to date.
	"$ROOT/scripts/slurm-local.sh" start >"$WORK/slurm-local.out" || return 1
	export SLURM_CONF="${SLURM_LOCAL_DIR:-/tmp/postergenre-slurm}/slurm.conf"
	real_encode || return 1
	start_mirror "$MIRROR_PORT"
	local cfg
	cfg="$(WORK="$REAL" overlay paper-grid-bench paper-grid.yaml "$MIRROR_PORT" "grid:" "  shrink_percent: [40]" "  learning_rate: [0.0001]" \
		"train:" "  epochs: 1" "  threads: 2" "executor:" "  slurm:" "    cpus_per_cell: 2")"
	go run ./bench/slurm -pipeline "$BIN" -work "$WORK/slurm" -root "$ROOT" -paper "$cfg" -paper-work "$REAL" $(args slurm)
}

part_explain() {
	# The paper run's model (its train stage calibrated the poster detector):
	# bench/explain on the test split, synthetic and real non-posters
	# (scripts/nonposter-deps.sh), then serve's latency with and without
	# ?explain=top for one client.
	paper_run || return 1
	local model enc
	model="$REAL/stages/train/$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['stages']['train']['fingerprint'])" "$REAL/state/paper-real.json")/model"
	enc="$REAL/stages/encode/$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['stages']['encode']['fingerprint'])" "$REAL/state/paper-real.json")"
	"$ROOT/scripts/nonposter-deps.sh" >&2
	echo "The paper run's model (train.epochs=1), its encode output's test split; real non-posters: the sample images of scikit-image, scikit-learn and matplotlib (scripts/nonposter-deps.sh)."
	echo
	go run ./bench/explain -model "$model" -encode "$enc" -photos "$ROOT/.deps/nonposters" $(args explain)
	echo
	echo "Serve, one client, without and with ?explain=top:"
	echo
	go run ./bench/serve -model "$model" -posters "$POSTERS" -clients 1 -duration 10s | grep '^|'
	go run ./bench/serve -model "$model" -posters "$POSTERS" -clients 1 -duration 10s -explain top | grep '^| 1 '
}

declare -A TITLE=(
	[scrape]="Scrape: posters/s against a local mirror with 50 ms latency"
	[encode]="Encode: decode, resize to 73×107 and write Parquet, all real posters"
	[backbone]="Backbone: EfficientNet-Lite0/1/2 feature extraction at 224/240/260 px, frozen weights, float32 and bfloat16"
	[train]="Train: the paper's network, 73×107, batch 32 — ours (Go, TensorFlow C API) against Keras"
	[precision]="Precision: float32 against bfloat16, ours and Keras, with the CPU's measured peak"
	[serve]="Serve: predictions over HTTP"
	[explain]="Explanations and the poster check: Grad-CAM cost, posters passed, non-posters flagged"
	[nightly]="Nightly rerun with nothing new (paper config, everything up to date)"
	[opprofile]="Where a training step goes: ours (TensorFlow step stats) and Keras (oneDNN verbose), per op type and layer"
	[runtimeopts]="Runtime switches: XLA auto-clustering, oneDNN off, thread pools — the paper network's float32 training against the default"
	[finetune]="Fine-tuning EfficientNet-Lite0's top layers on the cached frozen part, 224×320: float32 against bfloat16"
	[ensemble]="A seed ensemble on a frozen backbone: predicting with the backbone shared against each member's whole graph"
	[slurm]="Slurm executor: scheduling overhead per cell, local vs Slurm on the local two-node cluster, Table 2 projected on 4 GPUs"
)
failed=""
for p in $PARTS; do
	part "$p" "${TITLE[$p]}"
	[ "$(cat "$WORK/parts/$p.rc")" = 0 ] || failed="$failed $p"
done
echo "written to $out"
[ -z "$failed" ] || { echo "bench.sh: failed:$failed" >&2; exit 1; }
