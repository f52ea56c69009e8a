#!/usr/bin/env python3
"""Random-weight BART with exactly the dimensions of `sshleifer/distilbart-cnn-6-6`, for the
summarization speed benchmark (issue 3, point 7). Speed does not depend on the weight values.

Creates, OUTSIDE the repository (default ~/.cache/stancepipe/bench/distilbart-cnn-6-6-random,
or the directory given as the only argument):
  config.json, generation_config.json, model.safetensors   BartForConditionalGeneration,
      d_model 1024, 6 encoder + 6 decoder layers, 16 heads, ffn 4096, vocab_size 50265,
      max_position_embeddings 1024, bos 0 / pad 1 / eos 2, decoder_start_token_id 2,
      forced_bos_token_id 0, forced_eos_token_id 2, final_logits_bias zero (see --eos-bias), torch seed 0
      (save_pretrained(..., safe_serialization=True); about 0.9 GB)
  vocab.json, merges.txt (+ tokenizer.json etc.)   byte-level BPE trained with HF `tokenizers` on
      shared/data/neus/val.source + the seed article; vocab as large as the data gives (at most
      50265; the model's vocab_size stays 50265 either way)

Idempotent: does nothing if the directory already holds config.json, model.safetensors, vocab.json
and merges.txt.

    HF_HUB_OFFLINE=1 /work/pyenv/bin/python scripts/bench/make_random_distilbart.py [--eos-bias B] [DIR]

--eos-bias B: final_logits_bias[eos] = B instead of 0 (default DIR then
~/.cache/stancepipe/bench/distilbart-cnn-6-6-random-eos<B>). A random model never emits EOS by
itself, so every run generates the fixed maximum; with the bias, EOS wins at some steps and
documents stop at different lengths, which measures natural stopping (sequences finishing and
leaving the batch). docs/benchmarks.md uses 4.2 for greedy and 2.0 for beam 4 (chosen so that
stopping points vary; beam search finishes either within 3 tokens or near the maximum here).

Environment: STANCEPIPE_NEUS_VAL overrides the path of val.source (default: shared/data/neus/
beside the repository checkout, i.e. /work/shared/data/neus/val.source).
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import json
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SEED = REPO / "seeds" / "000_1c9edd206bcbed3f.txt"
NEUS_VAL = Path(os.environ.get("STANCEPIPE_NEUS_VAL", str(REPO.parent / "shared" / "data" / "neus" / "val.source")))
DEFAULT_DIR = Path.home() / ".cache" / "stancepipe" / "bench" / "distilbart-cnn-6-6-random"
NEEDED = ["config.json", "model.safetensors", "vocab.json", "merges.txt"]

VOCAB = 50265
SEED_VALUE = 0


def train_bpe(texts: list[str], out: Path) -> int:
    """Byte-level BPE, RoBERTa/BART style: <s>=0, <pad>=1, </s>=2, <unk>=3, <mask>=4 first."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB,
        min_frequency=1,  # every pair the data has: the largest vocab it gives
        special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    out.mkdir(parents=True, exist_ok=True)
    tok.model.save(str(out))
    return tok.get_vocab_size()


def prepare(target: Path, needed: list[str]) -> list[str] | None:
    """Checks a benchmark model's directory (outside the repository) and creates it; returns the
    texts its tokenizer is trained on (NeuS val + the seed), or None when the model is already
    there. Shared with make_random_t5.py."""
    if all((target / f).is_file() for f in needed):
        print(f"{target}: already present, nothing to do")
        return None
    try:
        target.resolve().relative_to(REPO)
        raise SystemExit(f"{target} is inside the repository; put the model elsewhere")
    except ValueError:
        pass
    if not NEUS_VAL.is_file():
        raise SystemExit(f"NeuS val.source not found at {NEUS_VAL}; set STANCEPIPE_NEUS_VAL")
    texts = [l.strip() for l in NEUS_VAL.read_text(encoding="utf-8").splitlines() if l.strip()]
    texts.append(SEED.read_text(encoding="utf-8"))
    target.mkdir(parents=True, exist_ok=True)
    return texts


def args_bias(b: float) -> str:
    """4.2 -> "4.2", 2.0 -> "2" (the directory suffix)."""
    return f"{b:g}"


def main() -> None:
    args = sys.argv[1:]
    eos_bias = 0.0
    if args[:1] == ["--eos-bias"]:
        if len(args) < 2:
            raise SystemExit("--eos-bias needs a number")
        eos_bias = float(args[1])
        args = args[2:]
    default = DEFAULT_DIR if eos_bias == 0.0 else DEFAULT_DIR.with_name(f"{DEFAULT_DIR.name}-eos{args_bias(eos_bias)}")
    target = Path(args[0]).expanduser() if args else default
    texts = prepare(target, NEEDED)
    if texts is None:
        return

    import torch
    import transformers
    from transformers import BartConfig, BartForConditionalGeneration, BartTokenizerFast

    with tempfile.TemporaryDirectory() as tmp:
        bpe = Path(tmp) / "bpe"
        n_vocab = train_bpe(texts, bpe)
        tok = BartTokenizerFast(
            vocab_file=str(bpe / "vocab.json"),
            merges_file=str(bpe / "merges.txt"),
            model_max_length=1024,
            clean_up_tokenization_spaces=True,
        )
        tok.save_pretrained(str(target))
        # save_pretrained of the fast tokenizer writes tokenizer.json; keep vocab.json + merges.txt
        # (what rust-bert reads) next to it.
        for f in ("vocab.json", "merges.txt"):
            (target / f).write_bytes((bpe / f).read_bytes())
    # rust-bert's hf-tokenizers route wants plain strings in special_tokens_map.json.
    stm = target / "special_tokens_map.json"
    if stm.is_file():
        m = json.loads(stm.read_text(encoding="utf-8"))
        m = {k: (v["content"] if isinstance(v, dict) else v) for k, v in m.items()}
        stm.write_text(json.dumps(m, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")

    config = BartConfig(
        vocab_size=VOCAB,
        max_position_embeddings=1024,
        d_model=1024,
        encoder_layers=6,
        decoder_layers=6,
        encoder_attention_heads=16,
        decoder_attention_heads=16,
        encoder_ffn_dim=4096,
        decoder_ffn_dim=4096,
        activation_function="gelu",
        dropout=0.1,
        attention_dropout=0.0,
        activation_dropout=0.0,
        init_std=0.02,
        scale_embedding=False,
        bos_token_id=0,
        pad_token_id=1,
        eos_token_id=2,
        decoder_start_token_id=2,
        forced_bos_token_id=0,
        forced_eos_token_id=2,
        is_encoder_decoder=True,
    )
    torch.manual_seed(SEED_VALUE)
    model = BartForConditionalGeneration(config).eval()
    with torch.no_grad():
        model.final_logits_bias.zero_()
        model.final_logits_bias[0, config.eos_token_id] = eos_bias
    n_params = sum(p.numel() for p in model.parameters())
    model.save_pretrained(str(target), safe_serialization=True)
    (target / "BENCH_README.txt").write_text(
        "Random-weight BART with the dimensions of sshleifer/distilbart-cnn-6-6, for speed benchmarks only.\n"
        f"Made by scripts/bench/make_random_distilbart.py (torch {torch.__version__}, transformers "
        f"{transformers.__version__}), torch.manual_seed({SEED_VALUE}); {n_params} parameters; "
        f"tokenizer vocab {n_vocab} (model vocab_size {VOCAB}); final_logits_bias[eos] = {eos_bias:g}.\n",
        encoding="utf-8",
    )
    print(f"{target}: {n_params/1e6:.1f}M parameters, tokenizer vocab {n_vocab}, model vocab {VOCAB}")


if __name__ == "__main__":
    main()
