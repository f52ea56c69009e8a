"""The default pipeline's model work (classify embedding-head + stance
target-sentiment over one shared encoder pass per sentence) done the way a
Python user would write it with transformers 4.44.2: the same
all-MiniLM-L6-v2 weights with the heads' LoRA adapters merged in, the same
heads (read from their safetensors), the same sentences and mentions, the
same batch size. Counterpart of crates/runner/benches/pipeline.rs;
scripts/bench/compare_pipeline.sh runs both.

Bench mode:

    python scripts/bench/pipeline_python.py --texts texts.jsonl [--threads T] [--batch 64]
        [--stance-head DIR] [--sentence-head DIR] [--encoder DIR]

--texts: the file written by the Rust bench's --dump-texts, one line per
pipeline batch: {"sentences": [content sentence texts], "mentions": [[i, start, end], ...]}
with i an index into "sentences" and start/end UTF-8 byte offsets of the
mention inside that sentence. Per pipeline batch, as the Rust stages do
(one StatesEncoder pass per sentence, read by both heads): sort the
sentences by length (characters, longest first, as sentence-transformers
does), cut them into chunks of --batch, tokenize each chunk (padded to its
longest, offsets kept), one forward pass; the sentence head reads the
L2-normalized mean of every token row ([CLS] and [SEP] included), the
target head reads, per mention, [sentence mean, mean of the token rows
whose offsets overlap the mention], each normalized. One warm-up batch (the
first line) is not timed. Prints one JSON line.

Check mode:

    python scripts/bench/pipeline_python.py --check OUT.json [--stance-head DIR] [--sentence-head DIR]

OUT.json: a stancepipe output (JSON array, or JSONL) made with those heads.
Recomputes the sentence head's probabilities of every content sentence and
the target head's probabilities of every reading under
stance[*].evidence[*].readings, and compares them with stancepipe's
(sentences[].label.scores; each reading's weight = its top class
probability and label = favor/against/none for positive/negative/neutral).
Prints one JSON line with the largest absolute differences and the label
disagreements; exits 1 when a difference exceeds --tol.

Heads are one-pass heads (manifest.json `one_pass`): `tuned_layers` layers
with rank-`lora_rank` LoRA adapters (crates/encoder/src/layer.rs: lora_a
[r, in], lora_b [out, r], scale 2.0 for every rank), stored as float16 in the head's
`encoder_top` file (default encoder-top.safetensors); they are merged into
the base weights once at load (W += 2.0 * B @ A, in float32), so the
per-batch work is exactly the base model's. With lora_rank 0 the file holds
whole layers, which are loaded over the base ones.

Sentences longer than the model window (256 tokens with [CLS]/[SEP]) are
cut into overlapping windows by stancepipe; here they are truncated at 256
as sentence-transformers does (check mode leaves them out of the
comparison and counts them).
"""

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MAX_TOKENS = 256
LORA_SCALE = 2.0  # see Encoder.merge


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = ap.add_mutually_exclusive_group(required=True)
    mode.add_argument("--texts", help="the Rust bench's --dump-texts file (bench mode)")
    mode.add_argument("--check", metavar="OUT.json", help="a stancepipe output to compare with (check mode)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--stance-head", default=str(ROOT / "models/heads/stance"))
    ap.add_argument("--sentence-head", default=str(ROOT / "models/heads/sentence"))
    ap.add_argument("--encoder", default=str(ROOT / "models/all-MiniLM-L6-v2"))
    ap.add_argument("--tol", type=float, default=1e-4,
                    help="check mode: largest probability difference accepted (parity is ~1e-7)")
    return ap.parse_args()


A = parse_args()
os.environ.setdefault("HF_HUB_OFFLINE", "1")
# The fast tokenizer's batch encoding runs on rayon threads: as many as torch gets.
os.environ.setdefault("RAYON_RS_NUM_CPUS", str(A.threads))
os.environ.setdefault("TOKENIZERS_PARALLELISM", "true")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from safetensors.torch import load_file  # noqa: E402
import transformers  # noqa: E402
from transformers import AutoModel, AutoTokenizer  # noqa: E402


def rss_mb(field):
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return round(int(line.split()[1]) / 1024)
    return None


class Head:
    """A linear head (`out.weight`, `out.bias`) and its manifest."""

    def __init__(self, path):
        self.dir = Path(path).resolve()
        self.manifest = json.loads((self.dir / "manifest.json").read_text())
        m = self.manifest
        if not m.get("one_pass"):
            sys.exit(f"{self.dir}: not a one-pass head (manifest one_pass is not true)")
        if m.get("hidden", 0):
            sys.exit(f"{self.dir}: heads with a hidden layer are not supported here")
        w = load_file(str(self.dir / "head.safetensors"))
        self.w, self.b = w["out.weight"].float(), w["out.bias"].float()
        self.labels = m["labels"]
        top = m.get("encoder_top") or "encoder-top.safetensors"
        self.top = (self.dir / top).resolve() if m.get("tuned_layers", 0) else None

    def __call__(self, x):
        return torch.softmax(x @ self.w.T + self.b, dim=-1)


class Encoder:
    """all-MiniLM-L6-v2 through transformers, adapters merged at load."""

    def __init__(self, path, head):
        self.tok = AutoTokenizer.from_pretrained(path)
        self.model = AutoModel.from_pretrained(path).eval()
        self.merged = 0
        if head.top is not None:
            self.merge(head.top, int(head.manifest.get("lora_rank", 0)), int(head.manifest["tuned_layers"]))
        self.normalize = (Path(path) / "modules.json").is_file() and any(
            m.get("type", "").endswith("Normalize") for m in json.loads((Path(path) / "modules.json").read_text())
        )

    @torch.no_grad()
    def merge(self, file, rank, layers):
        tensors = load_file(str(file))
        n = self.model.config.num_hidden_layers
        if rank == 0:
            # Whole tuned layers: the file holds their weights under checkpoint names.
            missing = self.model.load_state_dict({k: v.float() for k, v in tensors.items()}, strict=False)
            self.merged = len(tensors) - len(missing.unexpected_keys)
            if missing.unexpected_keys:
                sys.exit(f"{file}: unexpected tensors {missing.unexpected_keys[:3]}")
            return
        # crates/encoder/src/layer.rs (`Linear::new`): the update B A is scaled by
        # the constant 2.0 whatever the rank (LoRA alpha = 2 r; its doc comment's
        # "scaled by 2 / r" does not match the code).
        scale = LORA_SCALE
        for name in sorted(k[: -len(".lora_a")] for k in tensors if k.endswith(".lora_a")):
            a = tensors[name + ".lora_a"].float()  # [r, in]
            b = tensors[name + ".lora_b"].float()  # [out, r]
            if a.shape[0] != rank or b.shape[1] != rank:
                sys.exit(f"{file}: {name} has rank {a.shape[0]}, the manifest says {rank}")
            lin = self.model.get_submodule(name)
            lin.weight += scale * (b @ a)
            self.merged += 1
        want = 6 * layers  # query, key, value, attention output, intermediate, output
        if self.merged != want or len(tensors) != 2 * want:
            sys.exit(f"{file}: merged {self.merged} adapters of {len(tensors)} tensors; expected {want}")
        if any(not k.startswith("encoder.layer.") or int(k.split(".")[2]) < n - layers for k in tensors):
            sys.exit(f"{file}: adapters outside the top {layers} layers")

    def states(self, texts, batch):
        """Yields (indices into texts, hidden [b, L, d], mask [b, L], offsets [b, L, 2]),
        one forward pass per chunk of `batch` texts, longest (in characters) first."""
        order = np.argsort([-len(t) for t in texts])
        for s in range(0, len(texts), batch):
            idx = [int(i) for i in order[s : s + batch]]
            enc = self.tok(
                [texts[i] for i in idx],
                padding=True,
                truncation=True,
                max_length=MAX_TOKENS,
                return_offsets_mapping=True,
                return_tensors="pt",
            )
            offsets = enc.pop("offset_mapping")
            hidden = self.model(**enc).last_hidden_state
            yield idx, hidden, enc["attention_mask"], offsets

    def pool(self, x):
        return F.normalize(x, p=2, dim=-1, eps=1e-12) if self.normalize else x


def partition_point(n, pred):
    """First index in [0, n) where the monotone `pred` turns false (Rust's partition_point)."""
    lo, hi = 0, n
    while lo < hi:
        mid = (lo + hi) // 2
        if pred(mid):
            lo = mid + 1
        else:
            hi = mid
    return lo


def span_rows(offsets, length, start, end):
    """Rows (1-based, past [CLS]) of the content tokens overlapping characters
    [start, end), as stancepipe_encoder::states::span_rows; None when none does."""
    content = offsets[1 : length - 1].tolist()
    first = partition_point(len(content), lambda i: content[i][1] <= start)
    last = partition_point(len(content), lambda i: content[i][0] < end)
    return (first + 1, last + 1) if first < last else None


def char_offset(text, byte):
    """Python (code point) offset of UTF-8 byte offset `byte` in `text`."""
    return len(text.encode("utf-8")[:byte].decode("utf-8"))


def read_batch(enc, sentence_head, target_head, sentences, mentions, batch):
    """The model work of one pipeline batch: one pass per sentence, both heads.
    `mentions`: (sentence index, char start, char end). Returns the sentence
    probabilities [n, classes], the mention probabilities [m, classes] (None
    without mentions), each sentence's token count (with [CLS]/[SEP], after
    truncation) and whether any token overlapped each mention."""
    by_sentence = {}
    for k, (i, s, e) in enumerate(mentions):
        by_sentence.setdefault(i, []).append((k, s, e))
    means = [None] * len(sentences)
    lengths = [0] * len(sentences)
    feats = [None] * len(mentions)
    for idx, hidden, mask, offsets in enc.states(sentences, batch):
        m = mask.unsqueeze(-1).to(hidden.dtype)
        mean = enc.pool((hidden * m).sum(1) / m.sum(1).clamp_min(1e-9))
        lens = mask.sum(1).tolist()
        for r, i in enumerate(idx):
            means[i] = mean[r]
            lengths[i] = lens[r]
            for k, s, e in by_sentence.get(i, ()):
                rows = span_rows(offsets[r], lens[r], s, e)
                span = mean[r] if rows is None else enc.pool(hidden[r, rows[0] : rows[1]].mean(0))
                feats[k] = (mean[r], span, rows is not None)
    sp = sentence_head(torch.stack(means)) if means else None
    tp = None
    if feats:
        tp = target_head(torch.stack([torch.cat([a, b]) for a, b, _ in feats]))
    return sp, tp, lengths, [f[2] for f in feats]


def load(a):
    stance = Head(a.stance_head)
    sentence = Head(a.sentence_head)
    for h, task in ((stance, "target-sentiment"), (sentence, "sentence-sentiment")):
        if h.manifest.get("task") != task:
            sys.exit(f"{h.dir}: a {h.manifest.get('task')!r} head, not {task!r}")
    if stance.top != sentence.top or stance.manifest.get("lora_rank") != sentence.manifest.get("lora_rank"):
        sys.exit(
            f"the heads read different encoders ({stance.top} vs {sentence.top}): "
            "one-pass heads trained together share one adapters file"
        )
    enc = Encoder(a.encoder, stance)
    return enc, sentence, stance


def bench(a):
    t0 = time.perf_counter()
    enc, sentence, stance = load(a)
    load_s = time.perf_counter() - t0
    rss_loaded = rss_mb("VmRSS:")
    batches = [json.loads(line) for line in open(a.texts) if line.strip()]
    if not batches:
        sys.exit(f"{a.texts}: no batches")

    def step(b):
        sents = b["sentences"]
        ments = [(i, char_offset(sents[i], s), char_offset(sents[i], e)) for i, s, e in b.get("mentions", [])]
        with torch.inference_mode():
            if not sents:
                return None
            sp, tp, _, _ = read_batch(enc, sentence, stance, sents, ments, a.batch)
            return sp.argmax(-1).tolist(), None if tp is None else tp.argmax(-1).tolist()

    step(batches[0])
    start = time.perf_counter()
    for b in batches:
        step(b)
    seconds = time.perf_counter() - start
    n_s = sum(len(b["sentences"]) for b in batches)
    n_m = sum(len(b.get("mentions", [])) for b in batches)
    docs = [b["docs"] for b in batches if "docs" in b]
    print(json.dumps({
        "stack": "transformers",
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "threads": a.threads,
        "batch": a.batch,
        "batches": len(batches),
        "docs": sum(docs) if len(docs) == len(batches) else None,
        "sentences": n_s,
        "mentions": n_m,
        "adapters_merged": enc.merged,
        "load_s": load_s,
        "model_s": seconds,
        "sentences_per_s": n_s / seconds if seconds else None,
        "rss_after_load_mb": rss_loaded,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }))


def read_docs(path):
    text = Path(path).read_text()
    if text.lstrip().startswith("["):
        return json.loads(text)
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def check(a):
    enc, sentence, stance = load(a)
    docs = [d for d in read_docs(a.check) if not d.get("error")]
    sents, at = [], {}  # texts; (doc, sentence index) -> index into sents
    for d, doc in enumerate(docs):
        tb = doc["text"].encode("utf-8")
        for s, sent in enumerate(doc["sentences"]):
            if sent.get("kind") == "content":
                at[(d, s)] = len(sents)
                sents.append(tb[sent["start"] : sent["end"]].decode("utf-8"))
    readings = []  # (doc, company, evidence sentence, reading)
    ments = []
    for d, doc in enumerate(docs):
        for st in doc.get("stance", []):
            for ev in st.get("evidence", []):
                if not isinstance(ev, dict):
                    continue
                for r in ev.get("readings", []):
                    sent = doc["sentences"][ev["sentence"]]
                    i = at[(d, ev["sentence"])]
                    s, e = r["start"] - sent["start"], r["end"] - sent["start"]
                    ments.append((i, char_offset(sents[i], s), char_offset(sents[i], e)))
                    readings.append((d, st["company"], ev["sentence"], r))
    # Content tokens uncut, to leave out the sentences stancepipe cut into windows.
    long = {i for i, t in enumerate(sents) if len(enc.tok(t, add_special_tokens=False)["input_ids"]) > MAX_TOKENS - 2}
    with torch.inference_mode():
        sp, tp, _, covered = read_batch(enc, sentence, stance, sents, ments, a.batch)

    res = {"docs": len(docs), "content_sentences": len(sents), "long_sentences_left_out": len(long)}
    # Sentences.
    s_diff, s_label, s_worst, s_missing, s_n = 0.0, [], None, 0, 0
    for (d, s), i in at.items():
        label = docs[d]["sentences"][s].get("label")
        if i in long:
            continue
        if not label or not label.get("scores"):
            s_missing += 1
            continue
        s_n += 1
        p = sp[i].tolist()
        rust = [label["scores"].get(l, float("nan")) for l in sentence.labels]
        diff = max(abs(x - y) for x, y in zip(p, rust))
        if not diff <= s_diff:
            s_diff, s_worst = diff, {"doc": docs[d]["id"], "sentence": s, "python": p, "stancepipe": rust}
        mine = sentence.labels[int(np.argmax(p))]
        if mine != label["label"]:
            top2 = sorted(p)[-2:]
            s_label.append({"doc": docs[d]["id"], "sentence": s, "python": mine, "stancepipe": label["label"],
                            "python_margin": top2[1] - top2[0]})
    res.update({"sentences_compared": s_n, "sentences_without_scores": s_missing,
                "sentence_max_abs_diff": s_diff, "sentence_label_disagreements": len(s_label)})
    # Readings.
    to_stance = {"positive": "favor", "negative": "against"}
    pos = stance.labels.index("positive") if "positive" in stance.labels else None
    neg = stance.labels.index("negative") if "negative" in stance.labels else None
    w_diff, pol_diff, r_label, r_worst, r_n, uncovered = 0.0, 0.0, [], None, 0, 0
    for k, (d, company, s, r) in enumerate(readings):
        if at[(d, s)] in long:
            continue
        r_n += 1
        uncovered += not covered[k]
        p = tp[k].tolist()
        best = int(np.argmax(p))
        w = max(p)
        # mention_polarity "label" (the default): +w, -w or 0 by the top class.
        pol = w if best == pos else -w if best == neg else 0.0
        if not abs(w - r["weight"]) <= w_diff:
            w_diff = abs(w - r["weight"])
            r_worst = {"doc": docs[d]["id"], "company": company, "sentence": s, "start": r["start"],
                       "end": r["end"], "python": p, "stancepipe_weight": r["weight"]}
        pol_diff = max(pol_diff, abs(pol - r.get("polarity", pol)))
        mine = to_stance.get(stance.labels[best], "none")
        if mine != r["label"]:
            top2 = sorted(p)[-2:]
            r_label.append({"doc": docs[d]["id"], "company": company, "sentence": s, "start": r["start"],
                            "python": mine, "stancepipe": r["label"], "python_margin": top2[1] - top2[0]})
    res.update({"readings_compared": r_n, "readings_without_overlapping_tokens": uncovered,
                "reading_weight_max_abs_diff": w_diff,
                "reading_polarity_max_abs_diff_label_rule": pol_diff,
                "reading_label_disagreements": len(r_label),
                "adapters_merged": enc.merged,
                "worst_sentence": s_worst, "worst_reading": r_worst,
                "sentence_disagreements": s_label[:10], "reading_disagreements": r_label[:10]})
    print(json.dumps(res))
    ok = s_diff <= a.tol and w_diff <= a.tol
    print(
        f"sentences: {s_n} compared, max |dp| {s_diff:.2e}, {len(s_label)} label disagreements; "
        f"readings: {r_n} compared, max |d weight| {w_diff:.2e}, {len(r_label)} label disagreements; "
        f"{'OK' if ok else 'FAIL'} at tol {a.tol:g}",
        file=sys.stderr,
    )
    return 0 if ok else 1


def main():
    torch.set_num_threads(A.threads)
    if A.check:
        sys.exit(check(A))
    bench(A)


if __name__ == "__main__":
    main()
