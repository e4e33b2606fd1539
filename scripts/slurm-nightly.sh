#!/usr/bin/env bash
# The nightly rebuild as a chain of Slurm batch jobs, for clusters without
# scrontab (Debian's Slurm 22.05 packages ship none; sites may disable it).
# Each night's job first queues the next night's copy of itself
# (`sbatch --begin`, and `--dependency=afterany` on itself: a night that
# runs past the next one's start delays it rather than meeting the run
# lock), then runs the pipeline: a failed night does not break the chain,
# and the job ends with the pipeline's exit code, so `sacct` shows which
# nights failed. Submit it once, from the project folder:
#
#   sbatch --begin=02:30 scripts/slurm-nightly.sh configs/paper-grid.yaml /shared/pg/work --executor slurm
#
# Arguments: CONFIG WORKDIR [more `pipeline run` arguments].
# Environment (exported to every later night, as sbatch does by default):
#   NIGHTLY_AT=02:30       when the next night starts (sbatch --begin: a time
#                          of day already past means tomorrow; also
#                          "now+1hour", "tomorrow", ...)
#   NIGHTLY_SBATCH_FLAGS   extra sbatch flags for the next nights, e.g.
#                          "--partition=cpu --account=genre"
#   NIGHTLY_COUNT=N        run N nights, then stop (default: until cancelled)
#   PIPELINE_BIN           the binary (default: bin/pipeline in the folder
#                          the chain was submitted from)
# Stopping the chain: `scancel --name=postergenre-nightly` (the queued night).
#
#SBATCH --job-name=postergenre-nightly
#SBATCH --cpus-per-task=1
#SBATCH --time=12:00:00
set -uo pipefail

if [ $# -lt 2 ]; then
	echo "usage: sbatch [--begin=TIME] $0 CONFIG WORKDIR [pipeline run args...]" >&2
	exit 2
fi
cfg=$1
work=$2
shift 2
bin="${PIPELINE_BIN:-bin/pipeline}"

# Slurm runs a spooled copy of this script ($0) in the submitting folder.
if [ -z "${NIGHTLY_COUNT:-}" ] || [ "$NIGHTLY_COUNT" -gt 1 ]; then
	next_count=""
	[ -n "${NIGHTLY_COUNT:-}" ] && next_count=$((NIGHTLY_COUNT - 1))
	# shellcheck disable=SC2086 # NIGHTLY_SBATCH_FLAGS is a list of flags
	if ! next=$(NIGHTLY_COUNT=$next_count sbatch --parsable --begin="${NIGHTLY_AT:-02:30}" --dependency="afterany:${SLURM_JOB_ID:?not in a Slurm job}" \
		${NIGHTLY_SBATCH_FLAGS:-} "$0" "$cfg" "$work" "$@"); then
		echo "slurm-nightly: could not queue the next night; this night still runs" >&2
	else
		echo "slurm-nightly: next night queued as job $next (begins ${NIGHTLY_AT:-02:30})" >&2
	fi
fi

"$bin" run "$cfg" --workdir "$work" "$@"
