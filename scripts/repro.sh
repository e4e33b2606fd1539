#!/usr/bin/env bash
# make repro SHARED=../shared: the numbers in REPRODUCTION.md. Every run goes
# through the real scrape stage (a local mirror answers the CSV's poster
# links from SHARED/data/posters) and the normal pipeline; outputs shared by
# several runs are computed once (see README: caching). Steps can be chosen:
#   scripts/repro.sh SHARED WORK [paper] [grid] [plus] [full]
source "$(dirname "$0")/real-common.sh"
need_shared "$1"
WORK="${2:-$ROOT/work/real}"
shift 2 || true
steps="${*:-paper grid plus full}"
mkdir -p "$WORK"
start_mirror 18094
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
		run paper-real paper.yaml 18094 ;;
	grid) # 2. Table 2 at resize 40% × all five learning rates
		run paper-grid-real paper-grid.yaml 18094 "grid:" "  shrink_percent: [40]" ;;
	plus) # 3. the paper's network family, tuned on validation
		run paper-plus-real paper-plus.yaml 18094 ;;
	full) # 4. all 28 genres on the same posters
		run full-real full.yaml 18094 ;;
	*) echo "unknown step $step" >&2; exit 2 ;;
	esac
done
"$BIN" history --workdir "$WORK" | tee -a "$log"
