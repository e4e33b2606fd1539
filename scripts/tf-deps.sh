#!/usr/bin/env bash
# Installs TensorFlow 2.18.0's C library from a PyPI wheel into a
# project-local folder (.deps/, git-ignored). Nothing outside the project is
# touched and no Python import is needed: pip only downloads, unzip extracts.
#
#   TF_VARIANT=cpu (default)  tensorflow-cpu==2.18.0, hash-pinned below
#   TF_VARIANT=gpu            tensorflow[and-cuda]==2.18.0 with its nvidia-*
#                             wheels (pip checks each against PyPI's hashes)
#
# Layout afterwards:
#   .deps/tf-<variant>/tensorflow/libtensorflow_cc.so.2   the C API
#   .deps/tf-<variant>/tensorflow/include/                 headers
#   .deps/lib/libtensorflow.so -> ../tf-cpu/...            what graft's -ltensorflow links
#   .deps/tf-<variant>/.installed                          stamp: variant + wheel sha256
#
# Idempotent: with the stamp present and matching, it prints "up to date" and
# exits 0 without touching the network.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
deps="$root/.deps"
variant="${TF_VARIANT:-cpu}"
version="2.18.0"
# sha256 of tensorflow_cpu-2.18.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl
cpu_sha256="089e71746960ea581dca53401f84b3b99c8537313e337a9e5dbf97036a936f7e"

pip="${PIP:-python3 -m pip}"
dest="$deps/tf-$variant"
stamp="$dest/.installed"

case "$variant" in
cpu) want="tensorflow-cpu==$version sha256=$cpu_sha256" ;;
gpu) want="tensorflow[and-cuda]==$version" ;;
*) echo "tf-deps: TF_VARIANT must be cpu or gpu, got '$variant'" >&2; exit 2 ;;
esac

link_lib() {
	# graft says `#cgo LDFLAGS: -ltensorflow`; the linker needs that name.
	mkdir -p "$deps/lib"
	ln -sfn "$dest/tensorflow/libtensorflow_cc.so.2" "$deps/lib/libtensorflow.so"
	ln -sfn "tf-$variant" "$deps/tf"
}

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -f "$dest/tensorflow/libtensorflow_cc.so.2" ]; then
	link_lib
	echo "tf-deps: TensorFlow $version ($variant) up to date in ${dest#$root/}"
	exit 0
fi

echo "tf-deps: installing TensorFlow $version ($variant) into ${dest#$root/}"
mkdir -p "$deps"
tmp="$(mktemp -d "$deps/tmp.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

if [ "$variant" = cpu ]; then
	printf 'tensorflow-cpu==%s --hash=sha256:%s\n' "$version" "$cpu_sha256" >"$tmp/req.txt"
	$pip download --quiet --no-deps --only-binary=:all: --require-hashes \
		-r "$tmp/req.txt" -d "$tmp/wheels"
	whl="$(ls "$tmp"/wheels/tensorflow_cpu-*.whl)"
	got="$(sha256sum "$whl" | cut -d' ' -f1)"
	if [ "$got" != "$cpu_sha256" ]; then
		echo "tf-deps: $whl: sha256 $got, want $cpu_sha256" >&2
		exit 1
	fi
	mkdir -p "$tmp/out"
	# Only the C library, the framework it needs and the headers.
	(cd "$tmp/out" && unzip -q "$whl" 'tensorflow/libtensorflow_cc.so.2' \
		'tensorflow/libtensorflow_framework.so.2' 'tensorflow/include/*')
else
	# The GPU libraries locate CUDA through $ORIGIN/../nvidia/*/lib, so the
	# site-packages layout must be kept: install with --target.
	$pip install --quiet --no-compile --target "$tmp/out" "tensorflow[and-cuda]==$version"
fi
echo "$want" >"$tmp/out/.installed"

rm -rf "$dest.old"
[ -d "$dest" ] && mv "$dest" "$dest.old"
mv "$tmp/out" "$dest"
rm -rf "$dest.old"
link_lib
echo "tf-deps: installed $(du -sh "$dest" | cut -f1) in ${dest#$root/}"
