# Shared by the real-data scripts: serve ../shared's posters on loopback with
# `pipeline mirror` and write overlay configs that point a shipped config at
# the real CSV and the mirror. Sourced, not run.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="$ROOT/bin/pipeline"
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"
# Every real-data script serves the mirror on this one port: the scrape
# stage remembers each poster's link after url_rewrite, so a mirror on
# another port would look like changed links and refetch everything.
MIRROR_PORT="${MIRROR_PORT:-18090}"

need_shared() {
	SHARED="$(cd "$1" && pwd)"
	CSV="$SHARED/data/MovieGenre.csv"
	POSTERS="$SHARED/data/posters"
	[ -f "$CSV" ] && [ -d "$POSTERS" ] || { echo "no $CSV or $POSTERS: pass SHARED=<folder holding data/>" >&2; exit 2; }
}

# start_mirror PORT [extra mirror flags]: serves until the script exits.
start_mirror() {
	local port="$1"; shift
	"$BIN" mirror --csv "$CSV" --posters "$POSTERS" --addr "127.0.0.1:$port" "$@" >"$WORK/mirror-$port.log" 2>&1 &
	MIRROR_PID=$!
	trap 'kill $MIRROR_PID 2>/dev/null || true' EXIT
	for _ in $(seq 50); do
		grep -q serving "$WORK/mirror-$port.log" 2>/dev/null && return 0
		sleep 0.2
	done
	echo "mirror did not start:" >&2; cat "$WORK/mirror-$port.log" >&2; exit 1
}

# overlay NAME BASE PORT [yaml lines...]: a config extending BASE that reads
# the real CSV and fetches through the mirror on PORT.
overlay() {
	local name="$1" base="$2" port="$3"; shift 3
	local f="$WORK/$name.yaml"
	{
		echo "version: 1"
		echo "name: $name"
		echo "extends: $ROOT/configs/$base"
		echo "scrape:"
		echo "  csv: $CSV"
		echo "  parallelism: 32"
		echo "  timeout: 3s"
		echo "  backoff_base: 100ms"
		echo "  backoff_max: 2s"
		echo "  url_rewrite:"
		echo "    - {pattern: '^https?://images-na\\.ssl-images-amazon\\.com/', replace: 'http://127.0.0.1:$port/'}"
		echo "    - {pattern: '^https?://www\\.imdb\\.com/', replace: 'http://127.0.0.1:$port/'}"
		for l in "$@"; do echo "$l"; done
	} >"$f"
	echo "$f"
}
