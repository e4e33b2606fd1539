#!/usr/bin/env bash
# Import arrows between top-level folders, and which of them point upward.
#
# Usage: scripts/import-layers.sh [--tests] [dir]   (dir: a checkout, default .)
#
# The layer order, top first. A folder may import any folder below it; an
# import of a folder above it is an upward arrow (exit 1 when there is one).
#
#   cmd bench   the binaries: main, and the benchmark programs
#   app         the application: CLI wiring, `pipeline serve`, demo data, progress bars
#   pipeline    orchestration: plan, caching, lock, run folders; needs configs
#   executor    where cells run (local, Slurm): needs configs
#   configs     the aggregate config: imports only each stage's <stage>config
#               package (import-free specs), never a stage's implementation
#   evaluate    scores a trained model: needs train (inference) and encode (rows)
#   train       needs encode (shards)
#   encode      needs clean (rows) and scrape (poster store)
#   clean       needs scrape (ledger, poster store)
#   scrape
#   stages      the stage contract, imported by every stage
#   internal    the ground: file, Parquet, poster, CSV, TensorFlow and metric
#               libraries that know no stage
#   scripts     (tests of the set-up scripts only)
#
# A stage's config package (encode/encodeconfig) lives in its stage's folder
# and imports only `stages` and `internal`, so `configs` → `encode` is a
# downward arrow to an import-free spec: configs sits above every stage and
# loading a config links no stage (no TensorFlow). No stage's code imports
# another stage's config package; tests do, to build the output of an
# earlier stage (encode's tests run clean with cleanconfig), which points
# down as well.
#
# --tests adds the test imports. One upward test arrow is left, with its
# reason: train's TestValidationMetricsMatchEvaluate scores a trained model
# with evaluate/scoring to check that training's validation numbers are the
# ones evaluate computes; it needs train's internal test fixtures.
set -euo pipefail

layers=(cmd bench app pipeline executor configs evaluate train encode clean scrape stages internal scripts)

tests=0
if [[ "${1:-}" == "--tests" ]]; then tests=1; shift; fi
dir="${1:-.}"
cd "$dir"

module=$(go list -m)
if [[ $tests == 1 ]]; then
  fmt='{{.ImportPath}}{{range .Imports}} {{.}}{{end}}{{range .TestImports}} {{.}}{{end}}{{range .XTestImports}} {{.}}{{end}}'
else
  fmt='{{.ImportPath}}{{range .Imports}} {{.}}{{end}}'
fi

rank=""
for i in "${!layers[@]}"; do rank+="${layers[$i]}=$i "; done
# cmd and bench share the top layer.
rank="${rank/bench=1/bench=0}"

go list -f "$fmt" ./... | awk -v mod="$module/" -v rank="$rank" '
  BEGIN { n = split(rank, kv, " "); for (i = 1; i <= n; i++) { split(kv[i], p, "="); r[p[1]] = p[2] } }
  function top(path) { sub("^" mod, "", path); split(path, parts, "/"); return parts[1] }
  {
    from = top($1)
    for (i = 2; i <= NF; i++) {
      if (index($i, mod) != 1) continue
      to = top($i)
      if (to == from) continue
      key = from " -> " to
      if (!(key in count)) order[++k] = key
      count[key]++
      pair = substr($1, length(mod) + 1) ">" substr($i, length(mod) + 1)
      if (!(pair in seen)) { seen[pair] = 1; pkgs[key] = pkgs[key] " " pair }
    }
  }
  END {
    up = 0
    for (j = 1; j <= k; j++) {
      key = order[j]; split(key, ft, " -> ")
      if (!(ft[1] in r) || !(ft[2] in r)) { printf "unknown folder in %s: add it to layers\n", key; unknown++; continue }
      if (r[ft[2]] < r[ft[1]]) { up++; printf "UP   %s:%s\n", key, pkgs[key] }
    }
    printf "arrows %d, upward %d\n", k, up
    exit (up > 0 || unknown > 0) ? 1 : 0
  }'
