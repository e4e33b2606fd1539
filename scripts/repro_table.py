"""Prints the headline test metrics of one or more evaluate reports as a
Markdown table (model [95% CI] and baseline), for REPRODUCTION.md.
Usage: repro_table.py LABEL=path/to/report.json ..."""
import json
import sys

KEYS = ["paper_accuracy", "top1_hit", "top3_hit", "macro_auc", "macro_ap", "micro_f1", "hamming_loss", "subset_accuracy"]


def cell(m):
    return f"{m['value']:.3f} [{m['ci_low']:.3f}, {m['ci_high']:.3f}]"


rows = []
for arg in sys.argv[1:]:
    label, path = arg.split("=", 1)
    r = json.load(open(path))
    head = {m["key"]: m for m in r["headline"]}
    rows.append((label, r, head))

keys = [k for k in KEYS if any(k in h for _, _, h in rows)]
print("| metric | " + " | ".join(f"{l} (model [95% CI])" for l, _, _ in rows) + " | baseline (prior) |")
print("|---|" + "---|" * len(rows) + "---|")
for k in keys:
    label = next(h[k]["label"] for _, _, h in rows if k in h)
    vals = [cell(h[k]) if k in h else "—" for _, _, h in rows]
    base = next(h[k] for _, _, h in rows if k in h)["baseline"]
    print(f"| {label} | " + " | ".join(vals) + f" | {base:.3f} |")
for label, r, _ in rows:
    sr = r.get("split_rows", {})
    print(f"\n{label}: test {sr.get('test')}, validation {sr.get('validation')}, train {sr.get('train')} rows; "
          f"best epoch {r['history_summary'].get('best_epoch')} of {r['history_summary'].get('epochs')}; baseline: {r['baseline'].get('name')}")
