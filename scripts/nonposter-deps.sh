#!/usr/bin/env bash
# Installs real photographs and artwork that are not movie posters, for
# measuring the poster-or-not detector (bench/explain, issue 22): the sample
# images that ship inside three PyPI wheels, taken out with unzip (pip only
# downloads, hash-pinned; no Python import, nothing fetched at run time).
#
#   scikit-image==0.26.0  (BSD-3-Clause; skimage/data: astronaut, coffee,
#                          chelsea the cat, rocket, motorcycles, Hubble deep
#                          field, camera man, coins, moon, textures, a page of
#                          text, microscopy, the logo …)
#   scikit-learn==1.9.1   (BSD-3-Clause; sklearn/datasets/images: china, flower)
#   matplotlib==3.11.2    (PSF-style; mpl-data/sample_data: grace_hopper,
#                          logo2, Minduka_Present_Blue_Pack)
#
# The wheels are CPython 3.11 x86-64 Linux builds (the images are the same in
# every build; only this one is pinned). Layout afterwards:
#   .deps/nonposters/<package>-<name>.<ext>   one file per image
#   .deps/nonposters/.installed               stamp
# NONPOSTER_DIR=DIR installs elsewhere.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
deps="$root/.deps"
dest="${NONPOSTER_DIR:-$deps/nonposters}"
pip="${PIP:-python3 -m pip}"

skimage_req="scikit-image==0.26.0"
skimage_sha="74aa5518ccea28121f57a95374581d3b979839adc25bb03f289b1bc9b99c58af"
sklearn_req="scikit-learn==1.9.1"
sklearn_sha="52a0703bbc07ad27f560fa63fa68e4c54dd735bfbbf65b4dd3c225dc7547b6df"
mpl_req="matplotlib==3.11.2"
mpl_sha="07d9b9fa60cd4c393692f50d0bb03123242ddf61c99bb0e95e75feb354e7c1a8"

# Photographs and artwork (icons, chessboards and multi-page TIFFs left out).
skimage_files="astronaut.png brick.png camera.png cell.png chelsea.png clock_motion.png coffee.png coins.png color.png grass.png gravel.png horse.png hubble_deep_field.jpg ihc.png logo.png microaneurysms.png moon.png motorcycle_left.png motorcycle_right.png page.png phantom.png retina.jpg rocket.jpg text.png"
sklearn_files="china.jpg flower.jpg"
mpl_files="grace_hopper.jpg logo2.png Minduka_Present_Blue_Pack.png"

want="$skimage_req $sklearn_req $mpl_req"
stamp="$dest/.installed"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
	echo "nonposter-deps: $(ls "$dest" | wc -l) non-poster images up to date in ${dest#$root/}"
	exit 0
fi
echo "nonposter-deps: installing the sample images of $want into ${dest#$root/}"
mkdir -p "$(dirname "$dest")"
tmp="$(mktemp -d "$(dirname "$dest")/tmp.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
printf '%s --hash=sha256:%s\n' "$skimage_req" "$skimage_sha" "$sklearn_req" "$sklearn_sha" "$mpl_req" "$mpl_sha" >"$tmp/req.txt"
$pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
	--platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 --python-version 3.11 --implementation cp \
	--require-hashes -r "$tmp/req.txt" -d "$tmp/wheels"

mkdir -p "$tmp/out"
take() { # take WHEELGLOB DIR-IN-WHEEL PREFIX FILES...
	local whl=("$tmp"/wheels/$1) dir="$2" prefix="$3"
	shift 3
	for f in "$@"; do
		unzip -q -p "${whl[0]}" "$dir/$f" >"$tmp/out/$prefix-$f"
		[ -s "$tmp/out/$prefix-$f" ] || { echo "nonposter-deps: $dir/$f missing from ${whl[0]##*/}" >&2; exit 1; }
	done
}
take 'scikit_image-*.whl' skimage/data skimage $skimage_files
take 'scikit_learn-*.whl' sklearn/datasets/images sklearn $sklearn_files
take 'matplotlib-*.whl' matplotlib/mpl-data/sample_data matplotlib $mpl_files
rm -rf "$dest"
mv "$tmp/out" "$dest"
echo "$want" >"$stamp"
echo "nonposter-deps: $(ls "$dest" | wc -l) images in ${dest#$root/}"
