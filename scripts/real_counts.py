"""Prints what the scrape, clean and encode stages of a config kept and
dropped on the real data, beside the paper-split counts in
shared/notes/metrics.md (8,761 rows: train 6,307, validation 1,251,
test 1,203)."""
import collections
import json
import os
import sys

import pyarrow.parquet as pq

work, config = sys.argv[1], sys.argv[2]
state = json.load(open(os.path.join(work, "state", config + ".json")))["stages"]


def out(stage):
    return os.path.join(work, "stages", stage, state[stage]["fingerprint"])


led = pq.read_table(os.path.join(out("scrape"), "ledger.parquet")).to_pydict()
print(f"scrape: {len(led['line'])} rows; outcomes {dict(collections.Counter(led['outcome']))}")
rows = pq.read_table(os.path.join(out("clean"), "rows.parquet"), columns=["imdb_id"]).num_rows
rej = pq.read_table(os.path.join(out("clean"), "rejects.parquet")).to_pydict()
print(f"clean: kept {rows}, dropped {len(rej['line'])}")
for reason, n in collections.Counter(rej["reason"]).most_common():
    print(f"  {reason:32s} {n:6d}")
man = json.load(open(os.path.join(out("encode"), "manifest.json")))
print(f"encode: {man['rows']} rows at {man['width']}x{man['height']}, genres {man['genres']}")
erej = os.path.join(out("encode"), "rejects.parquet")
if os.path.exists(erej):
    er = pq.read_table(erej).to_pydict()
    for reason, n in collections.Counter(er["reason"]).most_common():
        print(f"  dropped {reason:28s} {n:6d}")
want = {"train": 6307, "validation": 1251, "test": 1203}
print(f"{'split':12s} {'rows':>6s} {'metrics.md':>10s}  " + "  ".join(f"{g:>11s}" for g in man["genres"]))
for split in ("train", "validation", "test"):
    counts = man["genre_counts"].get(split, {})
    print(f"{split:12s} {man['splits'].get(split, 0):6d} {want[split]:10d}  " + "  ".join(f"{counts.get(g, 0):11d}" for g in man["genres"]))
print(f"{'total':12s} {man['rows']:6d} {sum(want.values()):10d}")
