"""Run stancepipe under Apache Spark: each partition of a JSONL input is piped
through `stancepipe run --format jsonl -` (JSONL in on stdin, JSONL out on
stdout, logs on stderr) by one process per task, and the results come back
in input order.

    python examples/spark/stancepipe_spark.py --input docs.jsonl --output results.jsonl \
        [--master local[2]] [--partitions 2] [--binary target/release/stancepipe] \
        [--config pipeline.toml] [--threads 1] [--batch-size 32] [--set KEY=VALUE]...

- `--input`: JSONL of {"id", "text"} records (a local path, or any URI Spark
  reads: hdfs://, s3a://...). `--output`: the results, one JSONL file written
  by the driver (for a very large job, replace `collect()` below with
  `saveAsTextFile`).
- Partitions are cut on whole multiples of `--batch-size` records (the
  pipeline's `run.batch_size`), so every document meets the same batch-mates
  as in a single-process run.
- `--threads`: threads of each stancepipe process; give it the cores of one
  task (`spark.task.cpus`), so that concurrent tasks do not oversubscribe
  the executor's cores.
- The binary must be runnable on every executor with the config, models and
  libtorch it needs at the same paths; see docs/spark.md for a real cluster.

A task fails (and Spark retries it) if stancepipe exits with 2 or 3 (bad
configuration, unwritable output) or returns a different number of records
than it was given; exit 1 (some documents are error records) is a success:
the error records are in the output, like in a single-process run.
"""

import argparse
import json
import os
import subprocess
import threading
from pathlib import Path

from pyspark import SparkConf, SparkContext

ROOT = Path(__file__).resolve().parents[2]


def stancepipe_partition(cmd, env):
    """A mapPartitions function: pipes a partition's (index, line) pairs
    through one stancepipe process and yields its output lines."""

    def run(rows):
        lines = [line for _, line in rows]
        if not lines:
            return
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                env={**os.environ, **env})

        def feed():
            try:
                for line in lines:
                    proc.stdin.write(line.encode() + b"\n")
            finally:
                proc.stdin.close()

        writer = threading.Thread(target=feed, daemon=True)
        writer.start()
        out = [line.decode().rstrip("\n") for line in proc.stdout]
        writer.join()
        code = proc.wait()
        if code not in (0, 1):
            raise RuntimeError(f"stancepipe exited with {code} (see the executor's stderr)")
        if len(out) != len(lines):
            raise RuntimeError(f"stancepipe returned {len(out)} records for {len(lines)} documents")
        yield from out

    return run


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--input", required=True)
    ap.add_argument("--output", required=True)
    ap.add_argument("--master", default="local[2]")
    ap.add_argument("--partitions", type=int, default=2)
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    ap.add_argument("--binary", default=str(target / "release/stancepipe"))
    ap.add_argument("--config", default=str(ROOT / "pipeline.toml"))
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    a = ap.parse_args()

    cmd = [a.binary, "run", "--config", a.config, "--format", "jsonl", "--quiet",
           "--threads", str(a.threads), "--set", f"run.batch_size={a.batch_size}"]
    for s in a.set:
        cmd += ["--set", s]
    cmd.append("-")

    conf = SparkConf().setMaster(a.master).setAppName("stancepipe")
    sc = SparkContext(conf=conf)
    sc.setLogLevel("WARN")
    try:
        lines = sc.textFile(a.input).filter(lambda l: l.strip()).zipWithIndex()
        total = lines.count()
        per = -(-total // a.partitions)  # ceil
        per = max(a.batch_size, -(-per // a.batch_size) * a.batch_size)
        parts = max(1, -(-total // per))
        results = (lines.map(lambda li: (li[1] // per, (li[1], li[0])))
                   .partitionBy(parts, lambda k: k)
                   .mapPartitions(lambda rows: sorted((v for _, v in rows)))
                   .mapPartitions(stancepipe_partition(cmd, {"HF_HUB_OFFLINE": "1"}),
                                  preservesPartitioning=True)
                   .collect())
    finally:
        sc.stop()
    Path(a.output).parent.mkdir(parents=True, exist_ok=True)
    with open(a.output, "w") as f:
        for line in results:
            f.write(line + "\n")
    failed = sum(1 for line in results if json.loads(line).get("error"))
    print(f"stancepipe-spark: {len(results)} document(s) in {parts} partition(s), "
          f"{failed} failed; results in {a.output}")


if __name__ == "__main__":
    main()
