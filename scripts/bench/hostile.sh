#!/usr/bin/env bash
# The hostile documents of issue 15, each in a batch with ordinary ones,
# through the default pipeline: a 1 KB run-on sentence naming tracked
# companies 160 times, and a 2 MB single line full of company names. Prints
# wall time and peak RSS (GNU time) per batch, and checks that every record
# was written. Same documents as tests/hostile.rs; figures in docs/benchmarks.md.
#
#   bash scripts/bench/hostile.sh [--threads T]
set -euo pipefail
cd "$(dirname "$0")/../.."
THREADS=2
[[ ${1:-} == --threads ]] && THREADS=$2
BIN=./target/release/stancepipe
[[ -x $BIN ]] || { echo "run make build first" >&2; exit 3; }
command -v /usr/bin/time >/dev/null || { echo "needs GNU time (apt-get install time)" >&2; exit 3; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
python3 - "$dir" <<'EOF'
import json, sys
d = sys.argv[1]
normal = [{"id": "before", "text": "Alipay reported strong growth. Analysts praised Alipay again."},
          {"id": "after", "text": "WeChat lost users. Regulators fined WeChat for the outage."}]
run_on = " and ".join(["Alipay", "WeChat"] * 80)
unit = "Alipay and WeChat Pay compete with JD Pay while Ant Group watches "
huge = unit * (2_000_000 // len(unit))
for name, doc in (("run-on", run_on), ("huge", huge)):
    with open(f"{d}/{name}.jsonl", "w") as f:
        for r in (normal[0], {"id": name, "text": doc}, normal[1]):
            f.write(json.dumps(r) + "\n")
    print(f"{name}: {len(doc)} bytes, {doc.count('Alipay') + doc.count('WeChat')} Alipay/WeChat mentions", file=sys.stderr)
EOF
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
for name in run-on huge; do
  /usr/bin/time -f "$name: %e s wall, %M KB peak RSS" "$BIN" run --config pipeline.toml --threads "$THREADS" \
    --quiet --format jsonl --output "$dir/$name.out.jsonl" "$dir/$name.jsonl"
  python3 - "$dir/$name.out.jsonl" <<'EOF'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
print(f"  records written: {[r['id'] for r in recs]}, errors: {sum('error' in r for r in recs)}, notes: {[n for r in recs for n in r.get('notes', [])]}")
EOF
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
