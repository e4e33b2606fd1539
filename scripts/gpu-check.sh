#!/usr/bin/env bash
# make gpu-check: shows the devices TensorFlow sees, then trains one epoch
# of the demo with train.device=gpu. Exits 1 with what to do when no GPU is
# visible (before generating any data), or when that training fails.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
bin="${PIPELINE_BIN:-$root/bin/pipeline}"
work="${WORKDIR:-$root/work}/gpu-check"

out="$("$bin" version)"
echo "$out"
if ! grep -q '^device GPU ' <<<"$out"; then
	build="$(readlink "$root/.deps/tf" 2>/dev/null || echo unknown)"
	{
		echo
		echo "gpu-check: FAILED: TensorFlow sees no GPU."
		if [ "$build" = tf-gpu ]; then
			echo "  The GPU build is installed (.deps/tf -> tf-gpu) but no CUDA device is visible:"
			echo "  check that nvidia-smi lists a GPU and that the NVIDIA driver supports CUDA 12.5."
		else
			echo "  bin/pipeline loads the CPU build (.deps/tf -> $build). Install the GPU build:"
			echo "    TF_VARIANT=gpu make deps && make build && make gpu-check"
		fi
	} >&2
	exit 1
fi

# --force: train again even when an earlier check left outputs.
"$bin" run "$root/configs/demo.yaml" --workdir "$work" --force \
	--set train.device=gpu --set train.epochs=1 --set evaluate.bootstrap=10
# The run must have trained on the GPU, not fallen back.
if ! grep -q '"device": "GPU' "$work/runs/latest/model/model.json"; then
	echo "gpu-check: FAILED: training did not run on the GPU: $(grep '"device"' "$work/runs/latest/model/model.json")" >&2
	exit 1
fi
echo "gpu-check: ok, trained one epoch on the GPU"
