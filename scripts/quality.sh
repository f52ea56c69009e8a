#!/usr/bin/env bash
# Regenerates every quality figure of docs/quality.md with `stancepipe eval`:
# each labeled set of ../shared/data (test parts, split rule of its README)
# and the seed corpus, each with the default pipeline's backend and its
# baselines side by side. Writes out/quality/<set>/report.{json,md,html} and
# out/quality/summary.md (the headline tables with the command for each).
#
#   make quality            # = make build, then this script
#   STANCEPIPE=path/to/stancepipe DATA=../shared/data bash scripts/quality.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${STANCEPIPE:-./target/release/stancepipe}
DATA=${DATA:-../shared/data}
OUT=${OUT:-out/quality}
[ -x "$BIN" ] || { echo "no $BIN: run make build first" >&2; exit 3; }
[ -d "$DATA" ] || { echo "no labeled data folder $DATA (see docs/quality.md)" >&2; exit 3; }
export HF_HUB_OFFLINE=${HF_HUB_OFFLINE:-1}
mkdir -p "$OUT"
summary="$OUT/summary.md"
echo "# stancepipe eval: headline figures ($(date -u +%Y-%m-%d), $("$BIN" --version))" > "$summary"

run() { # name, gold, then the eval arguments
  local name=$1 gold=$2; shift 2
  local cmd=(stancepipe eval "$@" --gold "$gold" --report "$OUT/$name")
  echo "== $name" >&2
  "$BIN" eval "$@" --gold "$gold" --report "$OUT/$name" > /dev/null
  {
    echo
    echo "## $name"
    echo
    echo "\`${cmd[*]}\`"
    echo
    # The headline table of report.md.
    sed -n '/^## Headline figures/,/^## Pipeline/p' "$OUT/$name/report.md" | sed '1d;$d'
  } >> "$summary"
}

SENT=(-c configs/eval/sentiment.toml -c configs/eval/sentiment-lexicon.toml --split test)
# The previous default (configs/eval/*-previous*.toml) runs when its heads are restored
# (see configs/eval/previous-default.toml); PREVIOUS=0 leaves it out.
if [ "${PREVIOUS:-1}" = 1 ] && [ -f models/heads/target-span/manifest.json ]; then
  PREV_TARGET=(-c configs/eval/target-previous.toml); PREV_PIPE=(-c configs/eval/previous-default.toml)
else
  PREV_TARGET=(); PREV_PIPE=()
fi
TARGET=(-c configs/eval/target.toml "${PREV_TARGET[@]}" -c configs/eval/target-aggregate.toml --split test)
run phrasebank-50agree-test "$DATA/phrasebank/Sentences_50Agree.txt" "${SENT[@]}"
run phrasebank-allagree-in-test "$DATA/phrasebank/Sentences_AllAgree.txt" "${SENT[@]}"
run finentity-test "$DATA/finentity/FinEntity.json" "${TARGET[@]}"
run newsmtsc-devtest_mt "$DATA/newsmtsc/devtest_mt.jsonl" "${TARGET[@]}"
run newsmtsc-devtest_rw "$DATA/newsmtsc/devtest_rw.jsonl" "${TARGET[@]}"
run neus-test "$DATA/neus" -c configs/eval/summarize.toml -c configs/eval/summarize-lead.toml --split test
# Document level: PerSenT's test part (the author's sentiment toward each article's main entity).
run persent-test "$DATA/persent/dev.csv" -c pipeline.toml "${PREV_PIPE[@]}" -c configs/eval/seed-lexicon.toml --split test
run seed seeds/ -c pipeline.toml "${PREV_PIPE[@]}" -c configs/eval/seed-lexicon.toml
echo "headline tables: $summary" >&2
