#!/usr/bin/env bash
# Summarization benchmark, Rust (rust-bert, crates/summarize/benches/summarize.rs) against Python
# (transformers, scripts/bench/summarize_python.py): same model, texts and settings, run back to
# back (never at the same time), then a small table with the Rust/Python docs/s ratio.
#
#   bash scripts/bench/compare_summarize.sh [--model DIR] [--docs N] [--batch B] [--beams K] \
#        [--threads T] [--out-len L] [--fill]
#
# Every argument goes to both sides unchanged (defaults: the model made by
# scripts/bench/make_random_distilbart.py, 8 docs, batch 4, greedy, 2 threads, 60 tokens out).
# Environment: PYTHON (default /work/pyenv/bin/python); BENCH_LOG=FILE appends both JSON lines.
set -euo pipefail
cd "$(dirname "$0")/../.."
PYTHON=${PYTHON:-/work/pyenv/bin/python}
export HF_HUB_OFFLINE=1

# Build first, so that compiling never overlaps a timed run.
cargo bench -p stancepipe-summarize --bench summarize --no-run >&2

echo "== rust-bert: $*" >&2
rust=$(cargo bench -q -p stancepipe-summarize --bench summarize -- "$@" | tail -n 1)
echo "$rust" >&2
echo "== transformers: $*" >&2
py=$("$PYTHON" scripts/bench/summarize_python.py "$@" | tail -n 1)
echo "$py" >&2
if [[ -n "${BENCH_LOG:-}" ]]; then
    printf '%s\n%s\n' "$rust" "$py" >>"$BENCH_LOG"
fi

"$PYTHON" - "$rust" "$py" <<'EOF'
import json, sys
r, p = (json.loads(x) for x in sys.argv[1:3])
print(f"docs {r['docs']}, batch {r['batch']}, beams {r['beams']}, threads {r['threads']}, "
      f"{r['out_len']} tokens out, mean input {r['mean_input_tokens']} tokens "
      f"(min {r['min_input_tokens']}, max {r['max_input_tokens']})")
print(f"| {'stack':<13} | {'docs/s':>7} | {'s/doc':>7} | {'peak RSS MB':>11} | {'RSS after load MB':>17} |")
print(f"|{'-' * 15}|{'-' * 9}|{'-' * 9}|{'-' * 13}|{'-' * 19}|")
for d in (r, p):
    print(f"| {d['stack']:<13} | {d['docs_per_s']:>7.3f} | {d['s_per_doc']:>7.2f} | {d['peak_rss_mb']:>11.0f} "
          f"| {d['rss_after_load_mb']:>17.0f} |")
print(f"Rust/Python docs/s ratio: {r['docs_per_s'] / p['docs_per_s']:.2f}")
print("input ids identical:", "yes" if r["input_ids_hash"] == p["input_ids_hash"] else "NO")
same = r["first_doc_ids_hash"] == p["first_doc_ids_hash"]
print(f"first doc generated ids identical: {'yes' if same else 'no'} "
      f"(rust {r['first_doc_ids_hash']}, python {p['first_doc_ids_hash']})")
same_but_last = r["first_doc_ids_hash_but_last"] == p["first_doc_ids_hash_but_last"]
print(f"first doc generated ids identical except the last token: {'yes' if same_but_last else 'no'}")
if not same:
    print(f"  rust   head {r['first_doc_ids_head']}\n  python head {p['first_doc_ids_head']}")
EOF
