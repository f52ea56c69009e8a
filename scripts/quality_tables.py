#!/usr/bin/env python3
"""Renders the test figures stored in trained heads' manifests as Markdown.

    python3 scripts/quality_tables.py models/heads/sentiment/manifest.json models/heads/target/manifest.json

Each manifest is written by `stancepipe train` (the command is inside it);
this script only formats what the training run measured.
"""
import json
import sys

LABELS = ["positive", "negative", "neutral"]


def row(name, s):
    f1 = s["per_class_f1"]
    cells = [name, f"{s['macro_f1']:.3f}", f"{s['accuracy']:.3f}"] + [f"{f1[l]:.3f}" for l in LABELS]
    return "| " + " | ".join(cells) + " |"


for path in sys.argv[1:]:
    m = json.load(open(path))
    t = m["training"]
    print(f"### `{path}` ({m['task']})\n")
    print(f"Command: `{t['command']}`  ")
    fit = t.get("fit", {"method": "frozen encoder, linear head", "epochs": t.get("epochs")})
    head = "linear" if m["hidden"] == 0 else f"{m['hidden']}-unit hidden layer"
    print(f"Encoder: `{m['encoder']}`; {fit['method']} ({head} head); "
          f"seed {t['seed']}; best epoch {t['best_epoch']} of {fit['epochs']} (chosen on dev, macro-F1 {t['dev_macro_f1']:.3f}); "
          f"training run {t['seconds']:.0f} s on this 2-core machine (embedding included).")
    if t.get("dev_macro_f1_per_epoch"):
        per = ", ".join(f"{x:.3f}" for x in t["dev_macro_f1_per_epoch"])
        print(f"Dev macro-F1 after each epoch (epoch 0 trains the head alone): {per}.")
    if "target_features_dev_macro_f1" in t:
        d = t["target_features_dev_macro_f1"]
        tried = ", ".join(f"{k} {v:.3f}" for k, v in d.items())
        print(f"Target features on dev (macro-F1): {tried}; kept: `{t['chosen_target_features']}`.")
    print()
    for s in t["test"]:
        print(f"**{s['set']}** (n = {s['model']['support']})\n")
        print("| system | macro-F1 | accuracy | F1 positive | F1 negative | F1 neutral |")
        print("|---|---|---|---|---|---|")
        print(row("trained head", s["model"]))
        print(row("lexicon baseline (VADER)", s["lexicon_baseline"]))
        print(row("majority class", s["majority_baseline"]))
        print()
