"""The mention-dense benchmark corpus (issue 15): PerSenT `dev.csv`'s 578 news
articles, each with its main entity as a tracked company, so that the stance
stage reads as many mentions as real coverage of a company has.

    python3 scripts/bench/make_persent_corpus.py [--data ../shared/data] [--out DIR]

Writes into DIR (default ~/.cache/stancepipe/bench/):
- persent.jsonl: {"id", "text"} per article, text = title, blank line, body
  (as `stancepipe eval` builds PerSenT documents);
- persent-pipeline.toml: the repository's pipeline.toml with its model paths
  made absolute and its companies replaced by the 578 main entities (full
  name plus surname alias, as the eval adapter does).
Only the benchmark reads these; nothing is trained or tuned on them.
"""

import argparse
import csv
import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def aliases(entity):
    """The eval adapter's rule (crates/eval/src/corpus.rs, persent_aliases)."""
    entity = entity.strip()
    out = [entity]
    words = entity.split()
    last = words[-1] if words else ""
    if last and last != entity and len(last) >= 3 and last[0].isupper():
        out.append(last)
    return out


def toml_str(s):
    return json.dumps(s, ensure_ascii=False)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--out", default=str(Path.home() / ".cache/stancepipe/bench"))
    a = ap.parse_args()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    csv.field_size_limit(1 << 30)
    rows = list(csv.DictReader(open(Path(a.data) / "persent/dev.csv", encoding="utf-8", newline="")))
    entities = {}
    with open(out / "persent.jsonl", "w", encoding="utf-8") as f:
        for r in rows:
            title = r["TITLE"].strip()
            text = f"{title}\n\n{r['DOCUMENT']}" if title else r["DOCUMENT"]
            f.write(json.dumps({"id": f"persent:{r['DOCUMENT_INDEX']}", "text": text}, ensure_ascii=False) + "\n")
            name = r["TARGET_ENTITY"].strip()
            entities.setdefault(name.lower(), (name, set()))[1].update(aliases(name))
    config = (ROOT / "pipeline.toml").read_text(encoding="utf-8")
    # Drop the configured companies; make model paths absolute.
    config = re.sub(r"\[\[company\]\]\n(?:(?!\[).*\n)*", "", config)
    config = re.sub(r'"(models/[^"]*)"', lambda m: toml_str(str(ROOT / m.group(1))), config)
    companies = "".join(
        f"[[company]]\nname = {toml_str(name)}\naliases = [{', '.join(toml_str(x) for x in sorted(al))}]\n\n"
        for name, al in entities.values()
    )
    head, sep, rest = config.partition("\n[[stage]]\n")
    (out / "persent-pipeline.toml").write_text(head + "\n" + companies + sep.lstrip("\n") + rest, encoding="utf-8")
    print(f"{len(rows)} articles, {len(entities)} companies -> {out}/persent.jsonl, {out}/persent-pipeline.toml")


if __name__ == "__main__":
    main()
