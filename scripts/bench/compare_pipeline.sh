#!/usr/bin/env bash
# Batch benchmark of the default pipeline (issue 6): stancepipe (crates/runner/benches/pipeline.rs)
# with 1 thread and with T threads, then the same model work (MiniLM + the two heads on the
# very sentences and mentions the Rust stages read, same batch sizes) in transformers
# (scripts/bench/pipeline_python.py) with T threads, back to back, never at the same time.
#
#   bash scripts/bench/compare_pipeline.sh [--docs N] [--threads T] [--corpus FILE] [--config FILE]
#
# The mention-dense corpus of issue 15 (PerSenT articles, each with its main entity tracked):
#   python3 scripts/bench/make_persent_corpus.py
#   bash scripts/bench/compare_pipeline.sh --corpus ~/.cache/stancepipe/bench/persent.jsonl \
#       --config ~/.cache/stancepipe/bench/persent-pipeline.toml
#
# Defaults: 1000 documents of ~/.cache/stancepipe/bench/corpus-1k.jsonl (make it with
# scripts/bench/make_corpus.py), T = number of cores. Prints the JSON lines, then a table.
# Environment: PYTHON (default /work/pyenv/bin/python); BENCH_LOG=FILE appends the JSON lines.
set -euo pipefail
cd "$(dirname "$0")/../.."
PYTHON=${PYTHON:-/work/pyenv/bin/python}
export HF_HUB_OFFLINE=1
DOCS=1000
THREADS=$(nproc)
CORPUS=$HOME/.cache/stancepipe/bench/corpus-1k.jsonl
CONFIG=pipeline.toml
while [[ $# -gt 0 ]]; do
    case $1 in
    --docs) DOCS=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    --corpus) CORPUS=$2; shift 2 ;;
    --config) CONFIG=$2; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
done
[[ -f $CORPUS ]] || python3 scripts/bench/make_corpus.py >&2
TEXTS=$(mktemp --suffix .jsonl)
trap 'rm -f "$TEXTS"' EXIT

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
# Build first, so that compiling never overlaps a timed run.
cargo bench -p stancepipe-runner --bench pipeline --no-run >&2
CONFIG=$(realpath "$CONFIG")
bench() { cargo bench -q -p stancepipe-runner --bench pipeline -- --config "$CONFIG" --corpus "$CORPUS" --docs "$DOCS" "$@" | tail -n 1; }

echo "== stancepipe, 1 thread" >&2
r1=$(bench --threads 1)
echo "$r1" >&2
echo "== stancepipe, $THREADS threads" >&2
rn=$(bench --threads "$THREADS" --dump-texts "$TEXTS")
echo "$rn" >&2
echo "== transformers, $THREADS threads" >&2
py=$("$PYTHON" scripts/bench/pipeline_python.py --texts "$TEXTS" --threads "$THREADS" | tail -n 1)
echo "$py" >&2
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
if [[ -n "${BENCH_LOG:-}" ]]; then
    printf '%s\n%s\n%s\n' "$r1" "$rn" "$py" >>"$BENCH_LOG"
fi

"$PYTHON" - "$r1" "$rn" "$py" <<'EOF'
import json, sys
r1, rn, p = (json.loads(x) for x in sys.argv[1:4])
s = rn["sentences"]
print(f"{rn['docs']} documents ({rn['bytes']} bytes), {rn['failed']} failed; MiniLM texts: "
      f"{s['texts']} content sentences ({s['tokens']} tokens, {s['padded_tokens']} padded), "
      f"{rn['mentions']} mentions; encoder passes {rn['encoder_passes']} "
      f"({rn['passes_per_content_sentence']:.3f} per content sentence, {rn['encoder_cache_hits']} cache hits)")
print()
print("| run | threads | docs/s | total s | model stages s | other stages s | peak RSS MB |")
print("|---|---|---|---|---|---|---|")
for name, r in (("stancepipe", r1), ("stancepipe", rn)):
    other = r["seconds"] - r["model_s"]
    print(f"| {name} | {r['threads']} | {r['docs_per_s']:.1f} | {r['seconds']:.1f} | {r['model_s']:.1f} "
          f"| {other:.1f} | {r['peak_rss_mb']:.0f} |")
print(f"| transformers (model stages only) | {p['threads']} | | | {p['model_s']:.1f} | | {p['peak_rss_mb']} |")
print()
print(f"thread scaling 1 -> {rn['threads']}: {rn['docs_per_s'] / r1['docs_per_s']:.2f}x docs/s "
      f"(model stages {r1['model_s'] / rn['model_s']:.2f}x)")
print(f"model stages, Rust/Python speed ratio at {rn['threads']} threads: {p['model_s'] / rn['model_s']:.2f} "
      f"(Python {p['model_s']:.1f} s / Rust {rn['model_s']:.1f} s)")
print(f"model stages: {s['padded_gflop']:.0f} GFLOP executed "
      f"({s['gflop']:.0f} without padding), {rn['model_gflop_per_s']:.1f} GFLOP/s "
      f"at {rn['threads']} threads, {r1['model_gflop_per_s']:.1f} GFLOP/s at 1 thread")
EOF
