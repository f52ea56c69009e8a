#!/usr/bin/env bash
# Prints a short, human-readable digest of a stancepipe JSON output file:
# per document, the stance per company and the summary.
set -euo pipefail
python3 - "$1" <<'PY'
import json, sys
docs = json.load(open(sys.argv[1]))
for d in docs:
    print(f"== {d['id']}")
    if d.get("error"):
        print(f"   error in {d['error']['stage']}: {d['error']['message']}")
        continue
    print(f"   {len(d['sentences'])} sentences, {len(d['tokens'])} tokens")
    for s in d["stance"]:
        ev = ", ".join(str(e["sentence"]) for e in s["evidence"])
        print(f"   {s['company']:<10} {s['stance']:<8} score {s['score']:.2f}  mentions {s['mentions']}  evidence [{ev}]")
    if d.get("summary"):
        sm = d["summary"]
        print(f"   summary ({sm['method']}, model {sm['model']}):")
        print(f"     {sm['text']}")
        if sm.get("note"):
            print(f"   note: {sm['note']}")
print(f"full output: {sys.argv[1]}")
PY
