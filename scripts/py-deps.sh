#!/usr/bin/env bash
# Python is used only for cross-checks, never by the pipeline itself:
#   .venv/        pyarrow + numpy: the interoperability test reads our Parquet
#   .venv-keras/  tensorflow-cpu 2.18.0 (the same wheel as the C library):
#                 the Keras reference in `make bench` (only with --keras)
# Both are git-ignored and idempotent: a stamp file records what is installed.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
py="${PYTHON3:-python3}"

ensure() { # ensure DIR STAMP PACKAGES...
	local dir="$1" want="$2"; shift 2
	if [ -f "$dir/.installed" ] && [ "$(cat "$dir/.installed")" = "$want" ]; then
		echo "py-deps: ${dir#$root/} up to date"
		return
	fi
	echo "py-deps: installing $* into ${dir#$root/}"
	rm -rf "$dir"
	"$py" -m venv "$dir"
	"$dir/bin/python" -m pip install --quiet --disable-pip-version-check "$@"
	echo "$want" >"$dir/.installed"
}

# tensorboard: its event reader checks internal/tensorboard's event files.
ensure "$root/.venv" "pyarrow==18.1.0 numpy==2.1.3 tensorboard==2.18.0" pyarrow==18.1.0 numpy==2.1.3 tensorboard==2.18.0
if [ "${1:-}" = "--keras" ]; then
	ensure "$root/.venv-keras" "tensorflow-cpu==2.18.0 pyarrow==18.1.0" tensorflow-cpu==2.18.0 pyarrow==18.1.0
fi
