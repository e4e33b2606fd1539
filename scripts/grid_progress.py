"""Prints a grid run's cells as they stand, as REPRODUCTION.md's Table 2:
one row per resize ratio, one column per learning rate, each cell's test
paper accuracy with its 95% interval and macro ROC-AUC, then each cell's
train and evaluate seconds. It reads the cell records (cell.json) that the
cells' own processes write into the run folder, so it works while a Slurm
array is still running (grid.md is written only once every cell ended).
Usage: grid_progress.py WORKDIR/runs/RUN_ID [LATER_RUN_ID ...]
With several runs of one grid (an array continued in a later session), each
cell is shown from the run in which it was trained; a cell a later run
reused from the cache ("up to date") keeps the earlier run's seconds."""
import json
import os
import re
import sys

runs = sys.argv[1:]
run = runs[-1]
cells = {}
for folder in runs:
    for name in sorted(os.listdir(folder)):
        path = os.path.join(folder, name, "cell.json")
        m = re.search(r"-s(\d+)-lr([0-9.e-]+)$", name)
        if not m or not os.path.exists(path):
            continue
        rec = json.load(open(path))
        steps = {s["stage"]: s for s in rec.get("steps", [])}
        ev = steps.get("evaluate", {})
        head = {h["key"]: h for h in ev.get("headline", [])}
        key = (int(m.group(1)), float(m.group(2)))
        reused = steps.get("train", {}).get("status") == "up to date"
        if key not in cells or not reused:
            cells[key] = (rec.get("status"), head, steps)



def grid_axis(name):
    """The values of grid.NAME in the run's config.yaml (block list form)."""
    out, inside, axis = [], False, False
    for line in open(os.path.join(run, "config.yaml")):
        if re.match(r"^grid:", line):
            inside = True
        elif inside and re.match(r"^\S", line):
            break
        elif inside and re.match(r"^\s{4}\w", line):
            axis = line.strip() == name + ":"
        elif inside and axis and line.strip().startswith("- "):
            out.append(float(line.strip()[2:]))
    return out


sizes = sorted({s for s, _ in cells} | {int(v) for v in grid_axis("shrink_percent")})
lrs = sorted({lr for _, lr in cells} | set(grid_axis("learning_rate")), reverse=True)


def fmt(cell):
    status, head, _ = cell
    acc, auc = head.get("paper_accuracy"), head.get("macro_auc")
    if status != "ok" or not acc:
        return status or "—"
    return f"{100*acc['value']:.1f}% ({100*acc['ci_low']:.1f}–{100*acc['ci_high']:.1f}) [{auc['value']:.3f}]"


def seconds(cell):
    steps = cell[2]
    return "/".join(f"{steps[s].get('seconds', 0):.0f}" if s in steps else "—" for s in ("train", "evaluate"))


for title, show in (("test paper accuracy (95% interval) [macro ROC-AUC]", fmt), ("seconds: train/evaluate", seconds)):
    print(f"| resize \\ lr ({title}) | " + " | ".join(f"{lr:g}" for lr in lrs) + " |")
    print("|---|" + "---|" * len(lrs))
    for s in sizes:
        print(f"| {s}% | " + " | ".join(show(cells[(s, lr)]) if (s, lr) in cells else "not yet run" for lr in lrs) + " |")
    print()
base = next((h["paper_accuracy"]["baseline"] for _, h, _ in cells.values() if "paper_accuracy" in h), None)
if base is not None:
    print(f"Baseline (always the most frequent genre): {100*base:.1f}%.")
