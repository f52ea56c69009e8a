"""What the two readers of the `stance_sets` example's `--probs` output
(scripts/prior_shift.py, scripts/readings_by_sentence.py) share: the file
format and the score. Standard library only."""
import json


def macro_f1(pairs):
    """Macro-F1 over the three classes of (gold, predicted) index pairs."""
    f1 = []
    for c in range(3):
        tp = sum(1 for g, p in pairs if g == c and p == c)
        wrong = sum(1 for g, p in pairs if (g == c) != (p == c))
        f1.append(2 * tp / (2 * tp + wrong) if tp else 0.0)
    return sum(f1) / 3


def read_probs(path):
    """The JSON lines of one `--probs` file, in order."""
    with open(path) as f:
        return [json.loads(line) for line in f]
