#!/usr/bin/env python3
"""Python (`transformers`) counterpart of the Rust summarization benchmark
(crates/summarize/benches/summarize.rs): same model directory, same texts, same tokenizer files,
same batches (right padding), same generation settings, same warm-up; prints the same JSON line.
BART / DistilBART (vocab.json + merges.txt), T5 and Pegasus (spiece.model), by config.json's
model_type: the tokenizer files rust-bert reads, not tokenizer.json.

    HF_HUB_OFFLINE=1 /work/pyenv/bin/python scripts/bench/summarize_python.py \
        --model ~/.cache/stancepipe/bench/distilbart-cnn-6-6-random \
        --docs 8 --batch 4 --beams 1 --threads 2 --out-len 60

Options as on the Rust side: --docs N (the seed article, then N-1 NeuS articles), --batch B,
--beams K, --threads T, --out-len L (max_length = L), --min-len M (min_length, default L: a fixed
output length; 0 lets sequences stop at EOS naturally), --fill (join consecutive NeuS
articles until each input fills the 1,024-token window), --seed FILE, --neus FILE. Extra:
--attn {default,eager,sdpa} (transformers' attention implementation; default = what
from_pretrained picks, sdpa for BART in transformers 4.44).
Peak RSS is resource.getrusage(RUSAGE_SELF).ru_maxrss (model load and `import torch` included);
rss_after_load_mb is VmRSS right after loading.
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import argparse
import json
import warnings
import resource
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEFAULT_MODEL = Path.home() / ".cache" / "stancepipe" / "bench" / "distilbart-cnn-6-6-random"


def norm(s: str) -> str:
    """Whitespace collapsed to single spaces (the Rust side uses split_whitespace)."""
    return " ".join(s.split())


def rss_mb() -> float | None:
    """Current resident set size in MB (VmRSS of /proc/self/status), as on the Rust side."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024.0)
    except OSError:
        pass
    return None


def ids_hash(seqs) -> str:
    """FNV-1a 64 of the ids as decimal numbers joined by ',' (sequences joined by ';')."""
    h = 0xCBF29CE484222325
    data = ";".join(",".join(str(int(x)) for x in seq) for seq in seqs).encode()
    for b in data:
        h ^= b
        h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


def tokenizer(model_dir: Path, model_type: str, window: int):
    """The model's tokenizer from the files rust-bert reads (vocab.json + merges.txt for BART,
    spiece.model for T5 and Pegasus), so that both sides encode the same ids."""
    from transformers import BartTokenizerFast, PegasusTokenizer, T5Tokenizer

    if model_type == "bart":
        return BartTokenizerFast(
            vocab_file=str(model_dir / "vocab.json"), merges_file=str(model_dir / "merges.txt"),
            model_max_length=window, clean_up_tokenization_spaces=True,
        )
    if model_type == "t5":
        return T5Tokenizer(vocab_file=str(model_dir / "spiece.model"), model_max_length=window, legacy=True)
    if model_type == "pegasus":
        return PegasusTokenizer(vocab_file=str(model_dir / "spiece.model"), model_max_length=window)
    raise SystemExit(f"{model_dir}: model_type {model_type!r} is not bart, t5 or pegasus")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    ap.add_argument("--docs", type=int, default=8)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--beams", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out-len", type=int, default=60)
    ap.add_argument("--min-len", type=int, default=None)
    ap.add_argument("--fill", action="store_true")
    ap.add_argument("--seed", type=Path, default=REPO / "seeds" / "000_1c9edd206bcbed3f.txt")
    ap.add_argument("--neus", type=Path, default=REPO.parent / "shared" / "data" / "neus" / "test.source")
    ap.add_argument("--attn", choices=["default", "eager", "sdpa"], default="default")
    a = ap.parse_args()
    model_dir = a.model.expanduser()
    if not (model_dir / "config.json").is_file() or not (model_dir / "model.safetensors").is_file():
        print(
            f"no benchmark model at {model_dir}\ncreate it with:\n    "
            f"HF_HUB_OFFLINE=1 /work/pyenv/bin/python scripts/bench/make_random_distilbart.py {model_dir}",
            file=sys.stderr,
        )
        return 2

    import torch
    import transformers
    from transformers import AutoConfig, AutoModelForSeq2SeqLM

    transformers.logging.set_verbosity_error()
    # "early_stopping is only used in beam-based generation" (greedy runs keep the common settings)
    warnings.filterwarnings("ignore", message=".*early_stopping.*")
    torch.set_num_threads(a.threads)

    t0 = time.perf_counter()
    config = AutoConfig.from_pretrained(str(model_dir))
    # The window rust-bert's side truncates to (max_position_embeddings, else n_positions, else 512).
    window = getattr(config, "max_position_embeddings", None) or getattr(config, "n_positions", None) or 512
    tok = tokenizer(model_dir, config.model_type, window)
    kw = {} if a.attn == "default" else {"attn_implementation": a.attn}
    model = AutoModelForSeq2SeqLM.from_pretrained(str(model_dir), **kw).eval()
    load_s = time.perf_counter() - t0
    rss_loaded = rss_mb()
    pad_id = model.config.pad_token_id

    def encode(text: str) -> list[int]:
        return tok(text, truncation=True, max_length=window)["input_ids"]

    texts = [norm(a.seed.read_text(encoding="utf-8"))]
    lines = [norm(l) for l in a.neus.read_text(encoding="utf-8").splitlines()]
    lines = iter([l for l in lines if l])
    while len(texts) < a.docs:
        doc = next(lines, None)
        if doc is None:
            raise SystemExit(f"{a.neus} has too few articles for --docs {a.docs}")
        if a.fill:
            while len(encode(doc)) < window:
                more = next(lines, None)
                if more is None:
                    break
                doc = doc + " " + more
        texts.append(doc)
    ids = [encode(t) for t in texts]
    lens = [len(x) for x in ids]

    def pad(batch):
        n = max(len(x) for x in batch)
        input_ids = torch.tensor([x + [pad_id] * (n - len(x)) for x in batch], dtype=torch.long)
        mask = torch.tensor([[1] * len(x) + [0] * (n - len(x)) for x in batch], dtype=torch.long)
        return input_ids, mask

    def generate(batch, length):
        input_ids, mask = pad(batch)
        return model.generate(
            input_ids,
            attention_mask=mask,
            num_beams=a.beams,
            min_length=min(length, a.out_len if a.min_len is None else a.min_len),
            max_length=length,
            no_repeat_ngram_size=0,
            length_penalty=1.0,
            early_stopping=True,
            do_sample=False,
        )

    with torch.inference_mode():
        generate(ids[:1], min(a.out_len, 8))  # warm-up, not timed
        start = time.perf_counter()
        outputs = []
        for i in range(0, len(ids), a.batch):
            out = generate(ids[i : i + a.batch], a.out_len)
            outputs.extend(out.tolist())
        seconds = time.perf_counter() - start

    # generate pads finished rows with pad_id after their EOS; cut there (not at every trailing pad
    # id: T5's pad id is also its decoder start and a token a random model may emit)
    eos_id = model.config.eos_token_id

    def unpad(x):
        return x[: x.index(eos_id, 1) + 1] if eos_id in x[1:] else x

    outputs = [unpad(x) for x in outputs]
    first = outputs[0] if outputs else []
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KB on Linux
    line = {
        "stack": "transformers",
        "docs": len(ids),
        "batch": a.batch,
        "beams": a.beams,
        "threads": a.threads,
        "out_len": a.out_len,
        "min_len": a.out_len if a.min_len is None else a.min_len,
        "out_tokens": sum(len(x) for x in outputs),
        "fill": a.fill,
        "mean_input_tokens": round(sum(lens) / len(lens), 2),
        "min_input_tokens": min(lens),
        "max_input_tokens": max(lens),
        "load_seconds": round(load_s, 2),
        "seconds": round(seconds, 3),
        "docs_per_s": round(len(ids) / seconds, 3),
        "s_per_doc": round(seconds / len(ids), 3),
        "peak_rss_mb": round(peak),
        "rss_after_load_mb": rss_loaded,
        "input_ids_hash": ids_hash(ids),
        "first_doc_out_len": len(first),
        "first_doc_ids_hash": ids_hash([first]),
        "first_doc_ids_hash_but_last": ids_hash([first[:-1]]),
        "first_doc_ids_head": first[:12],
        "attn": model.config._attn_implementation,
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__},
    }
    print(json.dumps(line))
    return 0


if __name__ == "__main__":
    sys.exit(main())
