#!/usr/bin/env bash
# make bench SHARED=../shared: every benchmark in one run on this machine,
# side by side (ratios, since the machine is noisy), written to
# bench/results.md and printed. Needs the real data (posters are served from
# SHARED by a local mirror; nothing is copied into the project).
source "$(dirname "$0")/real-common.sh"
need_shared "$1"
WORK="${2:-$ROOT/work/bench}"
REAL="$(dirname "$WORK")/real"
mkdir -p "$WORK" "$ROOT/bench"
out="$ROOT/bench/results.md"
tmp="$WORK/results.md"

{
	echo "# Benchmarks"
	echo
	echo "Measured $(date -u +%Y-%m-%dT%H:%MZ), commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown),"
	echo "on $(nproc) cores of $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(free -g | awk '/Mem:/{print $2}') GiB;"
	echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg). Each measurement runs in its own process (peak RSS = VmHWM)."
	echo
	echo "## Scrape: posters/s against a local mirror with 50 ms latency"
	echo
	go run "$ROOT/bench/scrape" -shared "$SHARED" -work "$WORK/scrape"
	echo
	echo "## Encode: decode, resize to 73×107 and write Parquet, all real posters"
	echo
	go run "$ROOT/bench/encode" -shared "$SHARED" -work "$WORK/encode" -workers 1,2
	echo
	echo "## Backbone: EfficientNet-Lite0 feature extraction, 224×224, frozen weights"
	echo
	(cd "$ROOT" && go run ./bench/backbone)
	echo
	echo "## Train: the paper's network, 73×107, batch 32 — ours (Go, TensorFlow C API) against Keras"
	echo
	"$ROOT/scripts/encode-real.sh" "$SHARED" "$REAL" >/dev/null
	enc="$(python3 -c "import json,sys; print(json.load(open('$REAL/state/paper-real.json'))['stages']['encode']['fingerprint'])")"
	"$ROOT/scripts/py-deps.sh" --keras >/dev/null
	KERAS_PYTHON="$ROOT/.venv-keras/bin/python" go run "$ROOT/bench/train" -shards "$REAL/stages/encode/$enc"
	echo
	echo "## Precision: float32 against bfloat16 (oneDNN on AMX), ours and Keras, with the CPU's measured peak"
	echo
	echo "The paper input uses the real 73×107 training split; 150×200 (full.yaml's input) uses random posters, which train at the same speed."
	echo
	go run "$ROOT/bench/precision" -shards "$REAL/stages/encode/$enc" -work "$WORK/precision" \
		-python "$ROOT/.venv-keras/bin/python" -script "$ROOT/bench/train/keras_bench.py"
	echo
	echo "## Nightly rerun with nothing new (paper config, everything up to date)"
	echo
	start_mirror $MIRROR_PORT
	cfg="$(overlay paper-real paper.yaml $MIRROR_PORT)"
	if [ "$("$BIN" status "$cfg" --workdir "$REAL" 2>/dev/null | grep -c 'up to date')" != 5 ]; then
		echo "Skipped: the paper config has not completed in $REAL yet (run \`make repro\` first)."
	else
		echo "| run | seconds | exit | stages up to date |"
		echo "|---|---:|---:|---:|"
		for i in 1 2 3; do
			s=$(date +%s.%N)
			code=0
			"$BIN" run "$cfg" --workdir "$REAL" >"$WORK/nightly.out" 2>"$WORK/nightly.log" || code=$?
			e=$(date +%s.%N)
			echo "| \`pipeline run\` #$i | $(python3 -c "print(f'{$e-$s:.2f}')") | $code | $(grep -c 'up to date' "$WORK/nightly.out") |"
		done
	fi
	echo
	echo "## Serve: single posters over loopback HTTP (\`pipeline serve\`, model loaded once)"
	echo
	# The real paper model when `make repro` has trained one, else the demo's (same 73×107 input).
	model="$REAL/runs/latest/model"
	if [ ! -e "$model/model.json" ]; then
		"$BIN" run "$ROOT/configs/demo.yaml" --workdir "$WORK/demo" >"$WORK/demo.out" 2>"$WORK/demo.log"
		model="$WORK/demo/runs/latest/model"
	fi
	go run "$ROOT/bench/serve" -model "$model" -posters "$SHARED/data/posters" -clients 1,2,4,8
} | tee "$tmp"
mv "$tmp" "$out"
echo
echo "written to $out"
