#!/usr/bin/env bash
# make encode-real SHARED=../shared: scrape (through a local mirror of the
# real posters), clean and encode the real CSV with the paper's settings,
# then print kept rows, drops by reason, rows per split and genre, beside
# the counts in shared/notes/metrics.md.
source "$(dirname "$0")/real-common.sh"
need_shared "$1"
WORK="${2:-$ROOT/work/real}"
mkdir -p "$WORK"
start_mirror $MIRROR_PORT
cfg="$(overlay paper-real paper.yaml $MIRROR_PORT)"
"$BIN" run "$cfg" --workdir "$WORK" --only scrape --log-format json 2>>"$WORK/encode-real.log" >/dev/null
"$BIN" run "$cfg" --workdir "$WORK" --only clean --log-format json 2>>"$WORK/encode-real.log" >/dev/null
"$BIN" run "$cfg" --workdir "$WORK" --only encode --log-format json 2>>"$WORK/encode-real.log" >/dev/null
"$ROOT/.venv/bin/python" "$ROOT/scripts/real_counts.py" "$WORK" paper-real
