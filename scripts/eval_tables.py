#!/usr/bin/env python3
"""Renders the headline figures of `stancepipe eval` reports as the Markdown tables of docs/quality.md.

    python3 scripts/eval_tables.py out/quality/*/report.json

One table per report: a row per pipeline, then the majority-class baseline; each headline figure with its
bootstrap 95% interval, then the per-class F1. It only formats what `stancepipe eval` measured (the command
is inside each report; `make quality` writes them).
"""
import json
import sys


def est(e):
    return f"{e['value']:.3f} [{e['ci_low']:.3f}, {e['ci_high']:.3f}]"


def describe(p):
    stages = [s for s in p["stages"] if s["kind"] != "tokenize"]
    return ", ".join(f"{s['kind']} `{s['backend']}`" for s in stages)


def table(r, task):
    g = r["gold"]
    if task == "summary":
        names = ["rouge1", "rouge2", "rougeL", "rougeLsum"]
        print("| pipeline | " + " | ".join(f"{n} F1" for n in names) + " | summaries made |")
        print("|---|" + "---|" * (len(names) + 1))
        for p in r["pipelines"]:
            s = p["summary"]
            made = ", ".join(f"{k} {v}" for k, v in s["methods"].items())
            print(f"| `{p['config']}` ({describe(p)}) | " + " | ".join(est(s["fmeasure"][n]) for n in names)
                  + f" | {made} |")
        print()
        return
    heads = ["macro_f1", "accuracy"] + (["f_avg"] if task == "stance" else [])
    first = r["pipelines"][0][task]
    labels = first["report"]["labels"]
    n = first["items"]
    print(f"n = {n} ({'gold entities' if task == 'stance' else 'gold sentences'} in {g['documents']} documents)\n")
    print("| system | " + " | ".join(h.replace("_", "-") for h in heads) + " | "
          + " | ".join(f"F1 {l}" for l in labels) + " |")
    print("|---|" + "---|" * (len(heads) + len(labels)))

    def row(name, s):
        f1 = {c["label"]: c["f1"] for c in s["report"]["classes"]}
        print(f"| {name} | " + " | ".join(est(s[h]) for h in heads) + " | "
              + " | ".join(f"{f1[l]:.3f}" for l in labels) + " |")

    for p in r["pipelines"]:
        row(f"`{p['config']}` ({describe(p)})", p[task])
    m = r["baselines"].get(task)
    if m:
        row(f"majority class (`{m['label']}`)", m)
    for p in r["pipelines"]:
        if p[task].get("not_found") is not None:
            print(f"\n`{p['config']}`: gold entities it found no mention of: {p[task]['not_found']} of {n}.")
        if p[task].get("split") is not None:
            print(f"\n`{p['config']}`: gold sentences its segmenter cut into several: {p[task]['split']} of {n}.")
    print()


for path in sys.argv[1:]:
    r = json.load(open(path))
    g = r["gold"]
    print(f"`{r['command']}`\n")
    tasks = [t for t, k in (("stance", "entities"), ("sentences", "sentences"), ("summary", "summaries")) if g[k]]
    for task in tasks:
        table(r, task)
