"""Benchmark corpora of real documents, as stancepipe JSONL ({"id", "text"}).

    python3 scripts/bench/make_corpus.py [--data ../shared/data] [--out DIR]

Writes DIR/corpus-1k.jsonl: the seed article, the first 600 NeuS articles
(neus/test.source then val.source, each line split at [SEP] into its three
articles, "TITLE=> t. ARTICLE=> a" written as "t\n\na") and FinEntity
snippets (finentity/FinEntity.json, in file order) up to 1,000 documents;
and DIR/corpus-10k.jsonl: the same 1,000 documents ten times over, with ids
prefixed "r0/" ... "r9/", so that the two differ only in length.
Default DIR: ~/.cache/stancepipe/bench. Standard library only.
"""

import argparse
import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def neus_articles(data):
    for split in ("test", "val"):
        for i, line in enumerate((data / "neus" / f"{split}.source").read_text().splitlines()):
            for j, part in enumerate(line.split("[SEP]")):
                m = re.match(r"\s*TITLE=>\s*(.*?)\s*ARTICLE=>\s*(.*)", part, re.S)
                text = f"{m.group(1)}\n\n{m.group(2).strip()}" if m else part.strip()
                if text:
                    yield f"neus-{split}-{i:03d}-{j}", text


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(ROOT / "../shared/data"))
    ap.add_argument("--out", default=str(Path.home() / ".cache/stancepipe/bench"))
    a = ap.parse_args()
    data, out = Path(a.data), Path(a.out)
    out.mkdir(parents=True, exist_ok=True)

    docs = []
    for seed in sorted((ROOT / "seeds").glob("*.txt")):
        docs.append((f"seed-{seed.stem}", seed.read_text()))
    for doc in neus_articles(data):
        if len(docs) >= 601:
            break
        docs.append(doc)
    for i, rec in enumerate(json.loads((data / "finentity" / "FinEntity.json").read_text())):
        if len(docs) >= 1000:
            break
        docs.append((f"finentity-{i:03d}", rec["content"]))
    assert len(docs) == 1000, len(docs)

    with open(out / "corpus-1k.jsonl", "w") as f:
        for id_, text in docs:
            f.write(json.dumps({"id": id_, "text": text}) + "\n")
    with open(out / "corpus-10k.jsonl", "w") as f:
        for r in range(10):
            for id_, text in docs:
                f.write(json.dumps({"id": f"r{r}/{id_}", "text": text}) + "\n")
    chars = sum(len(t) for _, t in docs)
    print(f"{out}/corpus-1k.jsonl: 1000 documents, {chars} characters "
          f"(mean {chars / 1000:.0f}); {out}/corpus-10k.jsonl: 10,000")


if __name__ == "__main__":
    main()
