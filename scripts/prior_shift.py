#!/usr/bin/env python3
"""Would a per-class offset on the stance model's log-probabilities (a
prior shift for targets in their text; appended topics untouched) help the
news sets? Reads the `--probs` output of the `stance_sets` example
(STANCE_SPLIT=both) and, for each way of fitting the offset on the news dev
parts (FinEntity dev alone, NewsMTSC dev alone, both), prints the offset
and every set's macro-F1 without and with it. Fitting on one news dev part
and reading the other is the check; test parts are reported, never used.
Standard library only. docs/quality.md ("Closing the gap"):

    python3 scripts/prior_shift.py out/probs/all.jsonl
"""
import itertools
import math
import sys

from probs_lib import macro_f1, read_probs

GRID = [x / 10 for x in range(-15, 16)]  # offsets of favor and against; none stays 0


def main(path):
    sets = {}
    for r in read_probs(path):
        logp = [math.log(max(x, 1e-9)) for x in r["p"]]
        sets.setdefault(r["set"], []).append((r["labels"].index(r["gold"]), logp, r["appended"]))

    def score(name, offset):
        pairs = []
        for gold, logp, appended in sets[name]:
            s = logp if appended else [v + o for v, o in zip(logp, offset)]
            pairs.append((gold, max(range(3), key=s.__getitem__)))
        return macro_f1(pairs)

    for fit in (["finentity-dev"], ["newsmtsc-dev"], ["finentity-dev", "newsmtsc-dev"]):
        # Ties go to the smallest shift.
        best = max(
            (sum(score(n, [a, b, 0.0]) for n in fit) / len(fit), -abs(a) - abs(b), [a, b, 0.0])
            for a, b in itertools.product(GRID, GRID)
        )[2]
        print(f"fitted on {' + '.join(fit)}: offset favor {best[0]:+.1f}, against {best[1]:+.1f}")
        for name in sets:
            role = "fitted" if name in fit else ("check" if name.endswith("-dev") else "test")
            print(f"  {name:22} {role:6} {score(name, [0.0] * 3):.3f} -> {score(name, best):.3f}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: prior_shift.py <probabilities JSONL of the stance_sets example>")
    main(sys.argv[1])
