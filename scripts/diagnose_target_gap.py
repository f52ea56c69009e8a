#!/usr/bin/env python3
"""Why `stancepipe eval` scores the target head lower than `stancepipe train` does.

`train` scores the head on each gold entity exactly as it was trained: the whole snippet with the gold
span marked, label = argmax of the head. The pipeline (`stance/target-sentiment`, scored by `eval`) sees
each *mention it finds* inside *the sentence the segmenter made*, turns the head's probabilities into a
polarity P(positive) - P(negative), averages it over every mention of the name in the document, and
applies the document rule (favor >= threshold, against <= -threshold, else none). This script adds those
differences one at a time on the same examples, with the committed head, so the gap can be attributed:

  A  snippet, gold span marked, argmax                    (= train's figure)
  B  the segmenter's sentence holding the gold span, argmax
  C  B with the pipeline's rule on that one mention: polarity vs +-threshold
  (D = the eval figure: every mention of the name found by the pipeline, weighted mean, rule)

Developer-run, not in CI. Needs the Python venv of tests/fixtures/README.md (sentence-transformers 3.0.1),
a built stancepipe (its `run` segments the texts), and ../shared/data. Run from the repository root:

    /work/pyenv/bin/python scripts/diagnose_target_gap.py [--set finentity|devtest_mt|devtest_rw] [--threshold 0.15]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file
from sentence_transformers import SentenceTransformer

REPO = Path(__file__).resolve().parent.parent
DATA = REPO.parent / "shared" / "data"
WINDOW = 12
LABELS_IN = {"Positive": "positive", "Negative": "negative", "Neutral": "neutral", 2.0: "negative", 4.0: "neutral", 6.0: "positive"}


def finentity_test() -> list[tuple[str, int, int, str]]:
    """(text, char start, char end, label) of the test entities, offsets repaired as the Rust reader does."""
    out = []
    for i, s in enumerate(json.loads((DATA / "finentity" / "FinEntity.json").read_text())):
        if i % 10 != 9:
            continue
        text = s["content"]
        for a in s["annotations"]:
            st, en, val = a["start"], a["end"], a.get("value")
            if not (st < en <= len(text)):
                continue
            if val and text[st:en] != val:
                occ = [k for k in range(len(text)) if text.startswith(val, k)]
                if occ:
                    k = min(occ, key=lambda k: (abs(k - st), -k))
                    st, en = k, k + len(val)
            out.append((text, st, en, LABELS_IN[a["label"]]))
    return out


def newsmtsc(name: str) -> list[tuple[str, int, int, str]]:
    out = []
    for line in (DATA / "newsmtsc" / f"{name}.jsonl").read_text().splitlines():
        r = json.loads(line)
        for t in r["targets"]:
            out.append((r["sentence_normalized"], t["from"], t["to"], LABELS_IN[t["polarity"]]))
    return out


def mark(text: str, s: int, e: int) -> str:
    return f"{text[:s]}<< {text[s:e]} >>{text[e:]}"


def window(text: str, s: int, e: int) -> str:
    left, right = text[:s].split(), text[e:].split()
    parts = left[max(0, len(left) - WINDOW):] + [f"<< {text[s:e]} >>"] + right[:WINDOW]
    return " ".join(parts)


def macro_f1(gold: list[str], pred: list[str]) -> tuple[float, float]:
    f1s = []
    for c in ("positive", "negative", "neutral"):
        tp = sum(g == p == c for g, p in zip(gold, pred))
        npred, ngold = sum(p == c for p in pred), sum(g == c for g in gold)
        pr = tp / npred if npred else 0.0
        rc = tp / ngold if ngold else 0.0
        f1s.append(2 * pr * rc / (pr + rc) if pr + rc else 0.0)
    return float(np.mean(f1s)), sum(g == p for g, p in zip(gold, pred)) / len(gold)


def sentences_of(texts: list[str], binary: str) -> list[list[tuple[int, int]]]:
    """Char spans of the content sentences stancepipe's segmenter makes (byte offsets converted)."""
    with tempfile.TemporaryDirectory() as d:
        cfg = Path(d) / "tok.toml"
        cfg.write_text('[[stage]]\nid = "tokenize"\nkind = "tokenize"\nbackend = "rules"\n')
        inp = Path(d) / "in.jsonl"
        inp.write_text("".join(json.dumps({"id": str(i), "text": t}) + "\n" for i, t in enumerate(texts)))
        out = subprocess.run([binary, "run", "-q", "--config", str(cfg), "--format", "jsonl", str(inp)],
                             check=True, capture_output=True, text=True).stdout
    spans = []
    for line, t in zip(out.splitlines(), texts):
        doc = json.loads(line)
        b = t.encode()
        spans.append([(len(b[:s["start"]].decode()), len(b[:s["end"]].decode())) for s in doc["sentences"]])
    return spans


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--set", default="finentity", choices=["finentity", "devtest_mt", "devtest_rw"])
    ap.add_argument("--threshold", type=float, default=0.15)
    ap.add_argument("--stancepipe", default=str(REPO / "target" / "release" / "stancepipe"))
    args = ap.parse_args()
    ex = finentity_test() if args.set == "finentity" else newsmtsc(args.set)
    head = load_file(str(REPO / "models" / "heads" / "target" / "head.safetensors"))
    manifest = json.loads((REPO / "models" / "heads" / "target" / "manifest.json").read_text())
    labels = manifest["labels"]
    assert manifest["target_features"] == "marked-window" and manifest["hidden"] == 0
    enc = SentenceTransformer(str(REPO / "models" / "all-MiniLM-L6-v2"), device="cpu")

    def probs(pairs: list[tuple[str, int, int]]) -> np.ndarray:
        texts = [t for (x, s, e) in pairs for t in (mark(x, s, e), window(x, s, e))]
        emb = enc.encode(texts, batch_size=64, convert_to_numpy=True)
        x = emb.reshape(len(pairs), -1)
        z = x @ head["out.weight"].T + head["out.bias"]
        z = np.exp(z - z.max(1, keepdims=True))
        return z / z.sum(1, keepdims=True)

    gold = [l for (_, _, _, l) in ex]
    pa = probs([(t, s, e) for (t, s, e, _) in ex])
    pred_a = [labels[i] for i in pa.argmax(1)]

    spans = sentences_of(sorted({t for (t, _, _, _) in ex}), args.stancepipe)
    by_text = dict(zip(sorted({t for (t, _, _, _) in ex}), spans))
    in_sentence = []
    for t, s, e, _ in ex:
        sent = next(((a, b) for a, b in by_text[t] if a <= s and e <= b), (0, len(t)))
        in_sentence.append((t[sent[0]:sent[1]], s - sent[0], e - sent[0]))
    pb = probs(in_sentence)
    pred_b = [labels[i] for i in pb.argmax(1)]
    pol = pb[:, labels.index("positive")] - pb[:, labels.index("negative")]
    pred_c = ["positive" if p >= args.threshold and p > 0 else "negative" if p <= -args.threshold and p < 0
              else "neutral" for p in pol]
    whole = sum(1 for (t, s, e, _), (x, _, _) in zip(ex, in_sentence) if x == t)
    print(f"{args.set}: {len(ex)} entities; gold span's sentence = whole text for {whole}")
    for name, pred in [("A snippet, argmax (train)", pred_a), ("B sentence, argmax", pred_b),
                       (f"C sentence, polarity rule +-{args.threshold}", pred_c)]:
        f1, acc = macro_f1(gold, pred)
        print(f"  {name:<40} macro-F1 {f1:.3f}  accuracy {acc:.3f}")


if __name__ == "__main__":
    sys.exit(main())
