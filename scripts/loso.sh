#!/usr/bin/env bash
# Leave-one-source-out for the stance model (docs/quality.md): for each group
# of sources, `stancepipe train stance` without it, then its test sets scored
# by the model that never saw the like of them. EPOCHS=0 (the default) trains
# the heads on the frozen encoder (about 5 minutes a run here); EPOCHS=3 is
# the committed recipe with LoRA adapters (about 45 minutes a run).
#
#   bash scripts/loso.sh                  # all groups, then the table
#   LOSO_GROUPS="news vast" bash scripts/loso.sh
#   python3 scripts/loso_table.py out/loso/*/stance/manifest.json
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${STANCEPIPE:-./target/release/stancepipe}
DATA=${DATA:-../shared/data}
EPOCHS=${EPOCHS:-0}
OUT=${OUT:-out/loso}
ALL=(finentity newsmtsc vast semeval multitarget ibm perspectrum)
declare -A LEFT_OUT=(
  [none]=""
  [news]="finentity newsmtsc"
  [vast]="vast"
  [tweets]="semeval multitarget"
  [claims]="ibm perspectrum"
)
for g in ${LOSO_GROUPS:-none news vast tweets claims}; do
  keep=()
  for s in "${ALL[@]}"; do
    [[ " ${LEFT_OUT[$g]} " == *" $s "* ]] || keep+=("$s")
  done
  sources=$(IFS=,; echo "${keep[*]}")
  echo "== without [${LEFT_OUT[$g]}]: $sources" >&2
  "$BIN" train stance --data "$DATA" --epochs "$EPOCHS" --stance-sources "$sources" \
    --out "$OUT/$g/stance" --sentence-out "$OUT/$g/sentence" --force --quiet > "$OUT-$g.log"
done
python3 scripts/loso_table.py "$OUT"/*/stance/manifest.json
