"""`make test-spark`: the Spark example's output equals a single-process run's.

    python examples/spark/test_spark.py [--binary PATH] [--docs 130]

Writes an input of real and synthetic documents (the seed article, texts
mentioning the tracked companies, one record without text), runs
`stancepipe run --format jsonl -` on it as one process, then
examples/spark/stancepipe_spark.py on it in Spark local mode (local[2]: two
tasks at a time, each its own stancepipe process), and compares the two
outputs record by record. Every field must be equal except two that say how
a record was produced rather than what it is: provenance `ms` (timing) and
`source` (for stdin records, "-:<line>" counts lines of the stream the
process was given, i.e. of its partition under Spark). Exit 0 on success.
Needs pyspark 3.5 and Java 17 (docs/spark.md).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def default_binary():
    target = os.environ.get("CARGO_TARGET_DIR", str(ROOT / "target"))
    return os.environ.get("STANCEPIPE_BIN", str(Path(target) / "release/stancepipe"))


def documents(n):
    seed = next((ROOT / "seeds").glob("*.txt")).read_text()
    docs = [{"id": "seed", "text": seed}]
    moods = ["soared after strong results", "slumped on weak guidance",
             "was unchanged", "won praise from regulators", "faced a lawsuit"]
    companies = ["Alipay", "WeChat Pay", "Alibaba", "Meituan", "JD Pay", "Vipshop"]
    for i in range(1, n - 1):
        c, d = companies[i % len(companies)], companies[(i * 7 + 3) % len(companies)]
        text = (f"Report {i}. {c} {moods[i % len(moods)]}. Analysts said {d} "
                f"{moods[(i + 2) % len(moods)]}.\n\nMarkets: {c} and {d} were watched closely; "
                f"{c} {moods[(i + 4) % len(moods)]} again.")
        docs.append({"id": f"doc{i:04d}", "text": text})
    docs.insert(n // 2, {"id": "broken", "note": "no text field"})
    return docs[:n]


def normalized(path):
    out = []
    for line in Path(path).read_text().splitlines():
        rec = json.loads(line)
        rec.pop("source", None)
        for p in rec.get("provenance", []):
            # Batches differ between a partition and the whole input.
            p.pop("batch_ms", None)
            p.pop("batch_docs", None)
        out.append(rec)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default=default_binary())
    ap.add_argument("--docs", type=int, default=130)
    a = ap.parse_args()
    if not Path(a.binary).is_file():
        sys.exit(f"test-spark: {a.binary} not found; build it: cargo build --release -p stancepipe-cli")

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        inp = tmp / "in.jsonl"
        inp.write_text("".join(json.dumps(d) + "\n" for d in documents(a.docs)))
        single = tmp / "single.jsonl"
        env = {**os.environ, "HF_HUB_OFFLINE": "1"}
        with open(inp, "rb") as fin, open(single, "wb") as fout:
            code = subprocess.run(
                [a.binary, "run", "--config", str(ROOT / "pipeline.toml"), "--format", "jsonl",
                 "--quiet", "--threads", "1", "--set", "run.batch_size=32", "-"],
                stdin=fin, stdout=fout, env=env).returncode
        assert code == 1, f"one broken document: exit 1, got {code}"

        spark = tmp / "spark.jsonl"
        subprocess.run(
            [sys.executable, str(ROOT / "examples/spark/stancepipe_spark.py"),
             "--input", str(inp), "--output", str(spark), "--master", "local[2]",
             "--partitions", "2", "--binary", a.binary, "--threads", "1", "--batch-size", "32"],
            env=env, check=True)

        s, p = normalized(single), normalized(spark)
        assert len(s) == a.docs, (len(s), a.docs)
        assert [r["id"] for r in p] == [r["id"] for r in s], "same ids in the same order"
        diff = [r["id"] for r, q in zip(s, p) if r != q]
        assert not diff, f"{len(diff)} record(s) differ, first: {diff[:5]}"
        broken = next(r for r in p if r["id"] == "broken")
        assert broken["error"]["stage"] == "input", broken
        labeled = sum(1 for r in p for sen in r.get("sentences", []) if sen.get("label"))
        stances = sum(1 for r in p for st in r.get("stance", []) if st["stance"] != "none")
        assert labeled > 0 and stances > 0, (labeled, stances)
        print(f"test-spark: ok: {len(p)} records equal to the single-process run "
              f"({labeled} labeled sentences, {stances} favor/against stances, 1 error record)")


if __name__ == "__main__":
    main()
