#!/usr/bin/env python3
"""Where do two or more target models differ? Reads the `--probs` outputs of
the `stance_sets` example for the same sets (one file per model, in the
order named) and prints, per set, each model's macro-F1 and its accuracy on
three kinds of example: the only target of its text, one of several targets
that all share a label, one of several targets with different labels (what
one unmarked pass per sentence must tell apart from the same token states).
Then, per set, what a mix would read: the first model for texts with one
target, each other model for texts with several (what relaxing one pass per
sentence for sentences naming several companies would buy), with the share
of examples that the other model reads. Standard library only.
docs/quality.md ("Closing the gap"):

    python3 scripts/readings_by_sentence.py out/probs/default.jsonl out/probs/marked.jsonl out/probs/seven.jsonl
"""
import collections
import sys

from probs_lib import macro_f1, read_probs

KINDS = ("only target", "several, one label", "several, mixed labels")


def main(paths):
    models = [read_probs(p) for p in paths]
    first = models[0]
    for m, p in zip(models, paths):
        same = len(m) == len(first) and all(
            (a["set"], a["text"], a["target"]) == (b["set"], b["text"], b["target"]) for a, b in zip(m, first)
        )
        if not same:
            sys.exit(f"{p}: not the examples of {paths[0]} in the same order")
    labels_of = collections.defaultdict(list)
    for r in first:
        labels_of[(r["set"], r["text"])].append(r["gold"])

    def kind(r):
        golds = labels_of[(r["set"], r["text"])]
        return KINDS[0] if len(golds) == 1 else KINDS[1] if len(set(golds)) == 1 else KINDS[2]

    def pred(r):
        return max(range(len(r["p"])), key=r["p"].__getitem__)

    print("| set | kind | n | " + " | ".join(paths) + " |")
    print("|---|---|---|" + "---|" * len(paths))
    for name in dict.fromkeys(r["set"] for r in first):
        rows = [i for i, r in enumerate(first) if r["set"] == name]
        gold = {i: first[i]["labels"].index(first[i]["gold"]) for i in rows}
        f1 = [macro_f1([(gold[i], pred(m[i])) for i in rows]) for m in models]
        print(f"| {name} | macro-F1 | {len(rows)} | " + " | ".join(f"{v:.3f}" for v in f1) + " |")
        for k in KINDS:
            ks = [i for i in rows if kind(first[i]) == k]
            if ks:
                acc = [sum(pred(m[i]) == gold[i] for i in ks) / len(ks) for m in models]
                print(f"| {name} | {k} (accuracy) | {len(ks)} | " + " | ".join(f"{v:.3f}" for v in acc) + " |")
        several = {i for i in rows if kind(first[i]) != KINDS[0]}
        mixed = [macro_f1([(gold[i], pred((m if i in several else first)[i])) for i in rows]) for m in models]
        print(
            f"| {name} | macro-F1, several-target texts by this model ({len(several) / len(rows):.0%} of examples) | {len(rows)} | "
            + " | ".join(f"{v:.3f}" for v in mixed)
            + " |"
        )


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: readings_by_sentence.py <probabilities JSONL>...")
    main(sys.argv[1:])
