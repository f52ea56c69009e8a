#!/usr/bin/env python3
"""Random-weight T5 with exactly the dimensions of `t5-small`, for the summarization speed
benchmark (issue 17, point 5). Speed does not depend on the weight values.

Creates, OUTSIDE the repository (default ~/.cache/stancepipe/bench/t5-small-random, or the
directory given as the only argument):
  config.json, generation_config.json, model.safetensors   T5ForConditionalGeneration,
      d_model 512, d_kv 64, 8 heads, 6 encoder + 6 decoder layers, d_ff 2048 (relu),
      vocab_size 32128, tied embeddings, 32 relative-position buckets (max distance 128),
      pad 0 / eos 1, decoder_start_token_id 0, t5-small's task_specific_params ("summarize: "),
      torch seed 0 (save_pretrained(..., safe_serialization=True); about 0.24 GB)
  spiece.model   a SentencePiece unigram model trained on shared/data/neus/val.source + the seed
      article (pad 0, eos 1, unk 2, as T5's); vocab as large as the data gives (at most 32000; the
      model's vocab_size stays 32128 either way). SentencePiece's training is not bit-for-bit
      repeatable (a few piece scores differ between runs, even on one thread), so a remade model
      may cut the inputs slightly differently: benchmarks print `input_ids_hash`.

t5-small's own window is 512 tokens; rust-bert and the benchmark scripts truncate inputs to it.
Idempotent: does nothing if the directory already holds config.json, model.safetensors and
spiece.model.

    HF_HUB_OFFLINE=1 /work/pyenv/bin/python scripts/bench/make_random_t5.py [DIR]

Environment: STANCEPIPE_NEUS_VAL overrides the path of val.source (read by make_random_distilbart.prepare).
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import sys
import tempfile
from pathlib import Path

from make_random_distilbart import prepare  # the directory checks and the tokenizer's texts

DEFAULT_DIR = Path.home() / ".cache" / "stancepipe" / "bench" / "t5-small-random"
NEEDED = ["config.json", "model.safetensors", "spiece.model"]

VOCAB = 32128
PIECES = 32000
SEED_VALUE = 0


def train_spiece(texts: list[str], out: Path) -> int:
    """A T5-style SentencePiece unigram model (pad 0, eos 1, unk 2, no bos) at `out`."""
    import sentencepiece as spm

    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus.txt"
        corpus.write_text("\n".join(texts) + "\n", encoding="utf-8")
        spm.SentencePieceTrainer.train(
            input=str(corpus),
            model_prefix=str(Path(tmp) / "spiece"),
            vocab_size=PIECES,
            hard_vocab_limit=False,  # as many pieces as the data gives, up to PIECES
            model_type="unigram",
            character_coverage=1.0,
            pad_id=0,
            eos_id=1,
            unk_id=2,
            bos_id=-1,
            pad_piece="<pad>",
            eos_piece="</s>",
            unk_piece="<unk>",
            minloglevel=2,
        )
        out.write_bytes((Path(tmp) / "spiece.model").read_bytes())
    return spm.SentencePieceProcessor(model_file=str(out)).get_piece_size()


def main() -> None:
    target = Path(sys.argv[1]).expanduser() if len(sys.argv) > 1 else DEFAULT_DIR
    texts = prepare(target, NEEDED)
    if texts is None:
        return

    import torch
    import transformers
    from transformers import T5Config, T5ForConditionalGeneration

    n_pieces = train_spiece(texts, target / "spiece.model")

    config = T5Config(
        vocab_size=VOCAB,
        d_model=512,
        d_kv=64,
        d_ff=2048,
        num_layers=6,
        num_decoder_layers=6,
        num_heads=8,
        relative_attention_num_buckets=32,
        relative_attention_max_distance=128,
        dropout_rate=0.1,
        layer_norm_epsilon=1e-6,
        initializer_factor=1.0,
        feed_forward_proj="relu",
        tie_word_embeddings=True,
        pad_token_id=0,
        eos_token_id=1,
        decoder_start_token_id=0,
        n_positions=512,
        task_specific_params={
            "summarization": {
                "early_stopping": True,
                "length_penalty": 2.0,
                "max_length": 200,
                "min_length": 30,
                "no_repeat_ngram_size": 3,
                "num_beams": 4,
                "prefix": "summarize: ",
            },
            # t5-small's other three entries: rust-bert's T5Config requires all four
            "translation_en_to_de": {"early_stopping": True, "max_length": 300, "num_beams": 4,
                                     "prefix": "translate English to German: "},
            "translation_en_to_fr": {"early_stopping": True, "max_length": 300, "num_beams": 4,
                                     "prefix": "translate English to French: "},
            "translation_en_to_ro": {"early_stopping": True, "max_length": 300, "num_beams": 4,
                                     "prefix": "translate English to Romanian: "},
        },
    )
    torch.manual_seed(SEED_VALUE)
    model = T5ForConditionalGeneration(config).eval()
    n_params = sum(p.numel() for p in model.parameters())
    model.save_pretrained(str(target), safe_serialization=True)
    (target / "BENCH_README.txt").write_text(
        "Random-weight T5 with the dimensions of t5-small, for speed benchmarks only.\n"
        f"Made by scripts/bench/make_random_t5.py (torch {torch.__version__}, transformers "
        f"{transformers.__version__}), torch.manual_seed({SEED_VALUE}); {n_params} parameters; "
        f"SentencePiece vocab {n_pieces} (model vocab_size {VOCAB}).\n",
        encoding="utf-8",
    )
    print(f"{target}: {n_params/1e6:.1f}M parameters, SentencePiece vocab {n_pieces}, model vocab {VOCAB}")


if __name__ == "__main__":
    main()
