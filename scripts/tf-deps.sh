#!/usr/bin/env bash
# Installs TensorFlow 2.18.0's C library from PyPI wheels into a
# project-local folder (.deps/, git-ignored). Nothing outside the project is
# touched and no Python import is needed: pip only downloads (for a fixed
# Python tag, cp311 manylinux2014_x86_64, whatever the host's Python is),
# every wheel checked against the hash in the lock file, and unzip extracts.
#
#   TF_VARIANT=cpu   scripts/tf-cpu.lock: tensorflow-cpu (~830 MB unpacked)
#   TF_VARIANT=gpu   scripts/tf-gpu.lock: tensorflow + the NVIDIA wheels its
#                    libraries load (CUDA 12.5, cuDNN 9.3; ~2.1 GB download)
#   unset            keep the variant .deps/tf points at (cpu on a fresh tree),
#                    so `make build` after `TF_VARIANT=gpu make deps` keeps GPU
#
# Layout afterwards:
#   .deps/tf-<variant>/tensorflow/libtensorflow_cc.so.2   the C API
#   .deps/tf-<variant>/tensorflow/include/                 headers
#   .deps/tf-gpu/nvidia/<lib>/lib/*.so*                    CUDA, cuDNN: found by
#       the TensorFlow libraries' own RUNPATH ($ORIGIN/../nvidia/<lib>/lib) and
#       by the NVIDIA libraries' ($ORIGIN/../../<lib>/lib), as in site-packages
#   .deps/tf -> tf-<variant>                               the selected build
#   .deps/lib/libtensorflow.so                             what graft's -ltensorflow links
#   .deps/tf-<variant>/.installed                          stamp: variant + lock sha256
#
# Idempotent: with the stamp present and matching, it prints "up to date" and
# exits 0 without touching the network.
#
# For tests and offline mirrors: TF_DEPS_DIR (default .deps), TF_WHEELS=DIR
# (take wheels from DIR only: pip --no-index --find-links DIR), TF_LOCK (a
# lock file instead of scripts/tf-<variant>.lock).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
deps="${TF_DEPS_DIR:-$root/.deps}"
if [ -n "${TF_VARIANT:-}" ]; then
	variant="$TF_VARIANT"
elif [ -L "$deps/tf" ]; then
	variant="$(readlink "$deps/tf")"
	variant="${variant#tf-}"
else
	variant=cpu
fi
case "$variant" in
cpu | gpu) ;;
*) echo "tf-deps: TF_VARIANT must be cpu or gpu, got '$variant'" >&2; exit 2 ;;
esac
lock="${TF_LOCK:-$root/scripts/tf-$variant.lock}"
pip="${PIP:-python3 -m pip}"
dest="$deps/tf-$variant"
stamp="$dest/.installed"
want="$variant $(sha256sum "$lock" | cut -d' ' -f1)"

link_lib() {
	# graft says `#cgo LDFLAGS: -ltensorflow`; the linker needs that name.
	mkdir -p "$deps/lib"
	ln -sfn "$dest/tensorflow/libtensorflow_cc.so.2" "$deps/lib/libtensorflow.so"
	ln -sfn "tf-$variant" "$deps/tf"
}

# The stamp the previous version of this script wrote for the same CPU wheel.
legacy="$(sed -n 's/^\(tensorflow-cpu==2.18.0\) --hash=sha256:\([0-9a-f]*\)$/\1 sha256=\2/p' "$lock")"
have="$(cat "$stamp" 2>/dev/null || true)"
if { [ "$have" = "$want" ] || { [ -n "$legacy" ] && [ "$have" = "$legacy" ]; }; } && [ -f "$dest/tensorflow/libtensorflow_cc.so.2" ]; then
	link_lib
	echo "tf-deps: TensorFlow 2.18.0 ($variant) up to date in $dest"
	exit 0
fi

echo "tf-deps: installing TensorFlow 2.18.0 ($variant) into $dest"
mkdir -p "$deps"
tmp="$(mktemp -d "$deps/tmp.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

src=()
if [ -n "${TF_WHEELS:-}" ]; then
	src=(--no-index --find-links "$TF_WHEELS")
fi
# --require-hashes: pip refuses any wheel whose sha256 is not the lock's.
$pip download --quiet --no-deps --only-binary=:all: --require-hashes \
	--python-version 3.11 --implementation cp --abi cp311 --platform manylinux2014_x86_64 \
	"${src[@]}" -r "$lock" -d "$tmp/wheels"

# Belt and braces (and the list of what to unpack): every locked wheel is
# here, with the locked hash.
mkdir -p "$tmp/out"
shopt -s nullglob
while read -r spec hash; do
	name="${spec%%==*}"
	version="${spec#*==}"
	files=("$tmp/wheels/${name//-/_}-$version-"*.whl)
	file="${files[0]:-}"
	if [ -z "$file" ]; then
		echo "tf-deps: $spec: no wheel downloaded" >&2
		exit 1
	fi
	got="$(sha256sum "$file" | cut -d' ' -f1)"
	if [ "sha256:$got" != "${hash#--hash=}" ]; then
		echo "tf-deps: $file: sha256 $got, lock says ${hash#--hash=sha256:}" >&2
		exit 1
	fi
	case "$name" in
	tensorflow | tensorflow-cpu)
		# Only the C library, the framework it needs and the headers.
		(cd "$tmp/out" && unzip -q "$file" 'tensorflow/libtensorflow_cc.so.2' \
			'tensorflow/libtensorflow_framework.so.2' 'tensorflow/include/*') ;;
	nvidia-*)
		# Only the shared libraries, in the wheel's own folders.
		(cd "$tmp/out" && unzip -q "$file" 'nvidia/*/lib/*.so*') ;;
	*)
		echo "tf-deps: $spec: do not know what to unpack" >&2
		exit 1 ;;
	esac
done < <(grep -E '^[A-Za-z0-9]' "$lock")

if [ -d "$tmp/out/nvidia/cuda_nvrtc/lib" ]; then
	# cuDNN 9's libraries look for NVRTC under $ORIGIN/../../nvrtc/lib and
	# dlopen the unversioned libnvrtc.so; the nvrtc wheel installs
	# nvidia/cuda_nvrtc/lib/libnvrtc.so.12. Bridge both.
	ln -sfn cuda_nvrtc "$tmp/out/nvidia/nvrtc"
	ln -sfn libnvrtc.so.12 "$tmp/out/nvidia/cuda_nvrtc/lib/libnvrtc.so"
fi
if [ -d "$tmp/out/nvidia" ] && readelf -d "$tmp/out/tensorflow/libtensorflow_framework.so.2" >/dev/null 2>&1; then
	# Every CUDA folder the library's RUNPATH names must exist (TensorRT is
	# optional and not installed).
	runpath="$(readelf -d "$tmp/out/tensorflow/libtensorflow_framework.so.2" | sed -n 's/.*R[UN]*PATH.*\[\(.*\)\]/\1/p')"
	IFS=: read -ra dirs <<<"$runpath"
	for d in "${dirs[@]}"; do
		case "$d" in
		'$ORIGIN/../nvidia/'*)
			if [ ! -d "$tmp/out/tensorflow/${d#\$ORIGIN/}" ]; then
				echo "tf-deps: libtensorflow_framework.so.2 looks in $d, which the wheels did not provide" >&2
				exit 1
			fi ;;
		esac
	done
fi
echo "$want" >"$tmp/out/.installed"

rm -rf "$dest.old"
[ -d "$dest" ] && mv "$dest" "$dest.old"
mv "$tmp/out" "$dest"
rm -rf "$dest.old"
link_lib
echo "tf-deps: installed $(du -sh "$dest" | cut -f1) in $dest"
