#!/usr/bin/env bash
# make repro SHARED=../shared: the numbers in REPRODUCTION.md. Every run goes
# through the real scrape stage (a local mirror answers the CSV's poster
# links from SHARED/data/posters) and the normal pipeline; outputs shared by
# several runs are computed once (see README: caching). Steps can be chosen:
#   scripts/repro.sh SHARED WORK [paper] [bf16] [grid] [plus] [full] [transfer] [grid-slurm]
# To fit a small machine's time budget (REPRODUCTION.md says what was used):
#   GRID_EPOCHS=12        epochs per grid cell (default 50, the paper's)
#   GRID_PRECISION=bfloat16  train (and evaluate) grid-slurm's cells in bfloat16
#                         (pays only on a CPU with AVX512_BF16 or AMX; elsewhere
#                         TensorFlow emulates it, slower than float32)
#   GRID_THREADS=1        TensorFlow threads per grid-slurm cell, and the CPUs
#                         Slurm gives it (default 2: one cell per 2-CPU node)
#   GRID_SHRINK="[40]" GRID_LR="[0.001, 0.0001]"  grid-slurm on a subset of
#                         Table 2's cells (a quick check; default all 25)
# grid-slurm runs configs/paper-grid.yaml (all of Table 2) through the Slurm
# executor on the local two-node cluster (scripts/slurm-local.sh, started
# here; root), one cell per node at a time (2 CPUs each). Interrupted, it
# continues when run again: the cells already trained are reused, and a cell
# stopped mid-training resumes from its last checkpoint (--resume; a cell
# with nothing to resume starts from scratch).
#   FULL_SIZE=73x107      input size of the 28-genre run (default: full.yaml's 150x200)
source "$(dirname "$0")/real-common.sh"
need_shared "$1"
WORK="${2:-$ROOT/work/real}"
shift 2 || true
steps="${*:-paper grid plus full transfer}"
mkdir -p "$WORK"
start_mirror $MIRROR_PORT
log="$WORK/repro.log"

run() { # run NAME BASE [yaml lines...]
	local name="$1"
	local cfg
	cfg="$(overlay "$@")"
	echo "== $name: $BIN run $cfg --workdir $WORK" | tee -a "$log"
	"$BIN" run "$cfg" --workdir "$WORK" --log-format json 2>>"$WORK/$name.log" | tee -a "$log"
}

for step in $steps; do
	case "$step" in
	paper) # 1. the paper's setup, end to end
		run paper-real paper.yaml $MIRROR_PORT ;;
	grid) # 2. Table 2 at resize 40% × all five learning rates
		run paper-grid-real paper-grid.yaml $MIRROR_PORT "grid:" "  shrink_percent: [40]" "train:" "  epochs: ${GRID_EPOCHS:-50}" ;;
	bf16) # 1b. the paper's setup trained (and evaluated) in bfloat16
		run paper-bf16-real paper.yaml $MIRROR_PORT "train:" "  precision: bfloat16" ;;
	plus) # 3. the paper's network family, tuned on validation
		run paper-plus-real paper-plus.yaml $MIRROR_PORT ;;
	full) # 4. all 28 genres on the same posters
		if [ -n "${FULL_SIZE:-}" ]; then
			run full-real full.yaml $MIRROR_PORT "encode:" "  image:" "    width: ${FULL_SIZE%x*}" "    height: ${FULL_SIZE#*x}"
		else
			run full-real full.yaml $MIRROR_PORT
		fi ;;
	grid-slurm) # 7. Table 2 in full (5 sizes × 5 learning rates) as a Slurm job array
		"$ROOT/scripts/slurm-local.sh" start >>"$log"
		export SLURM_CONF="${SLURM_LOCAL_DIR:-/tmp/postergenre-slurm}/slurm.conf"
		extra=("train:" "  epochs: ${GRID_EPOCHS:-50}" "  threads: ${GRID_THREADS:-2}")
		[ -n "${GRID_PRECISION:-}" ] && extra+=("  precision: $GRID_PRECISION")
		[ -n "${GRID_SHRINK:-}${GRID_LR:-}" ] && extra+=("grid:")
		[ -n "${GRID_SHRINK:-}" ] && extra+=("  shrink_percent: $GRID_SHRINK")
		[ -n "${GRID_LR:-}" ] && extra+=("  learning_rate: $GRID_LR")
		cfg="$(overlay paper-grid-slurm paper-grid.yaml $MIRROR_PORT "${extra[@]}" \
			"executor:" "  kind: slurm" "  slurm:" "    cpus_per_cell: ${GRID_THREADS:-2}" "    max_parallel: 2" "    poll: 5s")"
		echo "== grid-slurm: $BIN run $cfg --workdir $WORK --executor slurm --resume" | tee -a "$log"
		"$BIN" run "$cfg" --workdir "$WORK" --executor slurm --resume --log-format json 2>>"$WORK/grid-slurm.log" | tee -a "$log" ;;
	transfer) # 6. a frozen pretrained EfficientNet-Lite0 (make deps installs it), both setups
		run paper-transfer-real paper-transfer.yaml $MIRROR_PORT
		run full-transfer-real full-transfer.yaml $MIRROR_PORT ;;
	*) echo "unknown step $step" >&2; exit 2 ;;
	esac
done
"$BIN" history --workdir "$WORK" | tee -a "$log"
