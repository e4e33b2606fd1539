#!/usr/bin/env bash
# The longest Go functions (gofmt'd source: `func` at column 0 to the next
# `}` at column 0), test files and bench/ left out.
# Usage: scripts/longest-funcs.sh [n] [dir]   (default 10, .)
set -euo pipefail
n="${1:-10}"
cd "${2:-.}"
{ git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.deps/*' | sed 's#^\./##'; } | grep -v -e '_test\.go$' -e '^bench/' |
  xargs awk '
    FNR == 1 { infn = 0 }
    /^func / { infn = 1; start = FNR; sig = $0; next }
    infn && /^}/ {
      name = sig; sub(/^func (\([^)]*\) )?/, "", name); sub(/\(.*/, "", name)
      recv = ""; if (sig ~ /^func \(/) { recv = sig; sub(/^func \([a-z]* ?\*?/, "", recv); sub(/\).*/, "", recv); recv = recv "." }
      printf "%d %s:%d %s%s\n", FNR - start + 1, FILENAME, start, recv, name
      infn = 0
    }' | sort -k1,1nr | head -n "$n"
