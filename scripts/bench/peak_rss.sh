#!/usr/bin/env bash
# Peak memory of `stancepipe run` (the default pipeline.toml) over 1,000 and over 10,000
# documents: the 10k corpus is the 1k corpus ten times (scripts/bench/make_corpus.py), so the
# two runs differ only in length. Streaming means the two peaks should be within 10%.
#
#   bash scripts/bench/peak_rss.sh [--binary PATH] [--threads T]
#
# Peak RSS is GNU time's %M (maximum resident set size of the process). Default binary:
# ${CARGO_TARGET_DIR:-target}/release/stancepipe (cargo build --release -p stancepipe-cli).
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${CARGO_TARGET_DIR:-target}/release/stancepipe
THREADS=0
while [[ $# -gt 0 ]]; do
    case $1 in
    --binary) BIN=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
done
DIR=$HOME/.cache/stancepipe/bench
[[ -f $DIR/corpus-10k.jsonl ]] || python3 scripts/bench/make_corpus.py >&2
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
export HF_HUB_OFFLINE=1
declare -A rss
for n in 1k 10k; do
    echo "load average before $n: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
    /usr/bin/time -f "%M %e" -o "$OUT/time-$n" "$BIN" run --quiet --threads "$THREADS" \
        --output "$OUT/out-$n.jsonl" "$DIR/corpus-$n.jsonl"
    read -r kb secs <"$OUT/time-$n"
    docs=$(wc -l <"$OUT/out-$n.jsonl")
    rss[$n]=$kb
    awk -v n="$n" -v d="$docs" -v kb="$kb" -v s="$secs" 'BEGIN {
        printf "%s: %d documents, peak RSS %.0f MB, %.0f s wall (model loading included)\n", n, d, kb / 1024, s }'
done
awk -v a="${rss[1k]}" -v b="${rss[10k]}" 'BEGIN { printf "10k / 1k peak RSS: %.3f\n", b / a }'
