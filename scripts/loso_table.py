"""Prints the leave-one-source-out table of docs/quality.md from the
manifests that scripts/loso.sh wrote: per test set, macro-F1 of the model
trained with its source ("in") and of the one trained without it ("out").

    python3 scripts/loso_table.py out/loso/*/stance/manifest.json
"""

import json
import sys

runs = {}
for path in sys.argv[1:]:
    t = json.load(open(path))["training"]
    runs[path] = {x["set"]: (x["model"]["macro_f1"], x["source_trained_on"], x["lexicon_baseline"]["macro_f1"]) for x in t["test"]}

sets = sorted({s for r in runs.values() for s in r})
full = next((r for p, r in runs.items() if "/none/" in p), None)
print("| test set | trained on every source | trained without its source | VADER |")
print("|---|---|---|---|")
for s in sets:
    outs = [r[s][0] for r in runs.values() if s in r and not r[s][1]]
    vader = next(r[s][2] for r in runs.values() if s in r)
    with_all = f"{full[s][0]:.3f}" if full and s in full else "—"
    without = " / ".join(f"{x:.3f}" for x in outs) if outs else "—"
    print(f"| {s} | {with_all} | {without} | {vader:.3f} |")
