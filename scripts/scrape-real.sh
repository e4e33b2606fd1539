#!/usr/bin/env bash
# make scrape-real SHARED=../shared: the real CSV's 40,108 rows through the
# scrape stage against a local mirror of the real posters that injects
# faults (10% transient 503s, 2% stalls); then checks that every poster
# ended downloaded and every row has exactly one outcome.
source "$(dirname "$0")/real-common.sh"
need_shared "$1"
WORK="${2:-$ROOT/work/real}/scrape-real"
rm -rf "$WORK"; mkdir -p "$WORK"
start_mirror $MIRROR_PORT --fail-rate 0.10 --stall-rate 0.02 --seed 1
cfg="$(overlay scrape-real paper.yaml $MIRROR_PORT)"
"$BIN" run "$cfg" --workdir "$WORK" --only scrape --log-format json 2>"$WORK/run.log" | tail -5
led="$(ls -d "$WORK"/stages/scrape/*/ | head -1)ledger.parquet"
"$ROOT/.venv/bin/python" "$ROOT/scripts/check_ledger.py" "$led" "$SHARED/data/posters.csv"
