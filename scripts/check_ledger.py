"""Checks a scrape ledger against the real data: one outcome per CSV row,
and every poster of posters.csv downloaded. Prints the counts."""
import collections
import csv
import sys

import pyarrow.parquet as pq

ledger_path, posters_csv = sys.argv[1], sys.argv[2]
t = pq.read_table(ledger_path).to_pydict()
rows = len(t["line"])
print(f"ledger rows: {rows} (CSV data rows: 40108)")
print(f"distinct lines: {len(set(t['line']))}")
print("outcomes:", dict(collections.Counter(t["outcome"])))
print("reasons:", dict(collections.Counter(r for r in t["reason"] if r)))
print("sources:", dict(collections.Counter(s for s in t["source"] if s)))
attempts = collections.Counter(t["attempts"])
print("attempts per row:", dict(sorted(attempts.items())))
got = {i for i, o in zip(t["imdb_id"], t["outcome"]) if o in ("downloaded", "already_present")}
with open(posters_csv, newline="", encoding="utf-8", errors="replace") as f:
    want = {int(r["imdbId"]) for r in csv.DictReader(f)}
missing = want - got
print(f"posters expected: {len(want)}, stored: {len(want & got)}, missing: {len(missing)}")
ok = rows == 40108 and len(set(t["line"])) == rows and not missing
print("CHECK", "PASS" if ok else "FAIL")
sys.exit(0 if ok else 1)
