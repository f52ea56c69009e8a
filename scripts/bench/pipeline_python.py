"""The default pipeline's model work done by the Python stack a user would
otherwise write: sentence-transformers 3.0.1 on the same all-MiniLM-L6-v2
weights, the same trained heads (read from their safetensors), the same
texts and batch sizes. Counterpart of the model stages (classify
embedding-head + stance target-sentiment) in
crates/runner/benches/pipeline.rs; scripts/bench/compare_pipeline.sh runs both.

    python scripts/bench/pipeline_python.py --texts texts.jsonl [--threads T] [--batch 64]

--texts: the file written by the Rust bench's --dump-texts (one line per
pipeline batch: {"sentences": [...], "targets": [...]}). Per pipeline batch,
as the Rust stages do: encode the sentences (batch_size 64, longest first,
as sentence-transformers does), apply the sentiment head (linear + softmax);
encode the target texts, join each mention's embeddings (see HeadModel for
span pooling), apply the target head. The tuned layers (top layer or LoRA
adapters) are not applied: they do the same FLOPs as the base layers they
stand beside, within a few percent for LoRA. One warm-up batch (the first line) is not timed. Prints one
JSON line.
"""

import argparse
import json
import resource
import time
from pathlib import Path

import torch
from safetensors.torch import load_file
from sentence_transformers import SentenceTransformer

ROOT = Path(__file__).resolve().parents[2]


def rss_mb(field):
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return round(int(line.split()[1]) / 1024)
    return None


class HeadModel:
    def __init__(self, path):
        w = load_file(str(path / "head.safetensors"))
        self.w, self.b = w["out.weight"], w["out.bias"]
        manifest = json.loads((path / "manifest.json").read_text())
        # marked-span: one text per mention, whose features are its sentence
        # embedding and the mean of the target's token states. The masked
        # mean costs a few hundred FLOPs per token, nothing beside the
        # encoder, so it is stood in for by the sentence embedding again.
        self.span = manifest.get("target_features") == "marked-span"

    def __call__(self, emb):
        if self.span:
            emb = torch.cat([emb, emb], dim=-1)
        x = emb.reshape(-1, self.w.shape[1])
        return torch.softmax(x @ self.w.T + self.b, dim=-1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--texts", required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--model", default=str(ROOT / "models/all-MiniLM-L6-v2"))
    a = ap.parse_args()
    torch.set_num_threads(a.threads)

    t0 = time.perf_counter()
    model = SentenceTransformer(a.model, device="cpu")
    sentiment = HeadModel(ROOT / "models/heads/sentiment")
    target = HeadModel(ROOT / "models/heads/target")
    load_s = time.perf_counter() - t0
    rss_loaded = rss_mb("VmRSS:")
    batches = [json.loads(line) for line in open(a.texts)]

    def step(b):
        out = []
        with torch.inference_mode():
            if b["sentences"]:
                e = model.encode(b["sentences"], batch_size=a.batch, convert_to_tensor=True)
                out.append(sentiment(e).argmax(-1).tolist())
            if b["targets"]:
                e = model.encode(b["targets"], batch_size=a.batch, convert_to_tensor=True)
                out.append(target(e).argmax(-1).tolist())
        return out

    step(batches[0])
    start = time.perf_counter()
    for b in batches:
        step(b)
    seconds = time.perf_counter() - start
    n_s = sum(len(b["sentences"]) for b in batches)
    n_t = sum(len(b["targets"]) for b in batches)
    print(json.dumps({
        "stack": "sentence-transformers",
        "torch": torch.__version__,
        "threads": a.threads,
        "batches": len(batches),
        "sentences": n_s,
        "targets": n_t,
        "load_s": load_s,
        "model_s": seconds,
        "texts_per_s": (n_s + n_t) / seconds,
        "rss_after_load_mb": rss_loaded,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }))


if __name__ == "__main__":
    main()
