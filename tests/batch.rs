//! Batch runs at scale: a killed run continued with `--resume`, unordered
//! output, threads, and progress lines. Model-free backends keep 1,000
//! documents fast in debug builds; what is under test is the runner.

mod common;
use common::*;
use serde_json::Value;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const DOCS: usize = 1000;

/// A pipeline of the default stage kinds with their model-free backends.
fn config() -> (tempfile::TempDir, std::path::PathBuf) {
    write_config(&pipeline_with(&default_stages()))
}

/// `DOCS` short JSONL documents; every 100th is broken (no text).
fn corpus() -> Vec<String> {
    (0..DOCS)
        .map(|i| {
            if i % 100 == 50 {
                format!("{{\"id\": \"doc{i:04}\"}}")
            } else {
                let mood = ["rose sharply", "fell badly", "was flat"][i % 3];
                format!(
                    "{{\"id\": \"doc{i:04}\", \"text\": \"Alipay {mood} on day {i}. \
                     WeChat Pay gained users. Analysts said Alipay would grow. Nothing else happened.\"}}"
                )
            }
        })
        .collect()
}

/// Records by line, with the batch fields of provenance (`batch_ms`,
/// `batch_docs`: a resumed run's batches differ) removed.
fn records(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| {
            let mut v: Value = serde_json::from_str(l).unwrap();
            for p in v["provenance"].as_array_mut().into_iter().flatten() {
                let p = p.as_object_mut().unwrap();
                p.remove("batch_ms");
                p.remove("batch_docs");
            }
            v
        })
        .collect()
}

fn line_count(path: &Path) -> usize {
    std::fs::read(path)
        .map(|b| b.iter().filter(|&&c| c == b'\n').count())
        .unwrap_or(0)
}

fn run_args<'a>(cfg: &'a str, out: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["run", "--config", cfg, "--output", out];
    args.extend_from_slice(extra);
    args.push("-");
    args
}

#[test]
fn a_killed_run_resumed_gives_each_id_once_and_the_same_results() {
    let (dir, cfg) = config();
    let cfg = cfg.to_str().unwrap();
    let lines = corpus();
    let all = lines.join("\n") + "\n";

    let full = dir.path().join("full.jsonl");
    let out = stancepipe(
        &run_args(cfg, full.to_str().unwrap(), &["--set", "run.batch_size=16"]),
        Some(all.as_bytes()),
    );
    assert_eq!(out.code, 1, "10 broken documents: exit 1: {}", out.stderr);
    assert!(
        out.stderr.contains("1000 document(s), 10 failed"),
        "{}",
        out.stderr
    );
    let expected = records(&full);
    assert_eq!(expected.len(), DOCS);

    // The same run, killed (SIGKILL) while it is working: stdin gets the
    // first 600 documents and stays open, so the kill lands mid-run whatever
    // the machine's speed.
    let part = dir.path().join("part.jsonl");
    let mut child = Command::new(env!("CARGO_BIN_EXE_stancepipe"))
        .args(run_args(
            cfg,
            part.to_str().unwrap(),
            &["--set", "run.batch_size=16"],
        ))
        .current_dir(root())
        .env("HF_HUB_OFFLINE", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(lines[..600].join("\n").as_bytes()).unwrap();
    stdin.flush().unwrap();
    let start = Instant::now();
    while line_count(&part) < 100 {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "no records after 2 minutes"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    drop(stdin);
    let written = line_count(&part);
    assert!(
        (100..600).contains(&written),
        "killed mid-run: {written} records"
    );
    // A kill in the middle of a write leaves a torn last line; make one
    // (half of the next record) so that resume has to cut it.
    let torn = serde_json::to_string(&expected[written]).unwrap();
    std::fs::OpenOptions::new()
        .append(true)
        .open(&part)
        .unwrap()
        .write_all(&torn.as_bytes()[..torn.len() / 2])
        .unwrap();

    let out = stancepipe(
        &run_args(
            cfg,
            part.to_str().unwrap(),
            &["--resume", "--set", "run.batch_size=16"],
        ),
        Some(all.as_bytes()),
    );
    assert!(
        out.stderr.contains("cut a torn last line"),
        "says it cut the torn line: {}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains(&format!("{} document(s)", DOCS - written)),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains(&format!("{written} skipped")),
        "{}",
        out.stderr
    );
    let failed_later = (written..DOCS).filter(|i| i % 100 == 50).count();
    assert_eq!(out.code, if failed_later > 0 { 1 } else { 0 });

    let resumed = records(&part);
    let mut ids: Vec<&str> = resumed.iter().map(|d| d["id"].as_str().unwrap()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), DOCS, "each id exactly once");
    assert_eq!(resumed.len(), DOCS, "each id exactly once");
    assert_eq!(resumed, expected, "same records as the uninterrupted run");
}

#[test]
fn unordered_and_threads_change_nothing_but_order() {
    let (dir, cfg) = config();
    let cfg = cfg.to_str().unwrap();
    let all = corpus()[..200].join("\n");
    let run = |name: &str, extra: &[&str]| {
        let path = dir.path().join(name);
        let out = stancepipe(
            &run_args(cfg, path.to_str().unwrap(), extra),
            Some(all.as_bytes()),
        );
        assert_eq!(out.code, 1, "{}", out.stderr);
        records(&path)
    };
    let ordered = run("a.jsonl", &["--threads", "2"]);
    let one_thread = run("b.jsonl", &["--threads", "1"]);
    assert_eq!(ordered, one_thread);
    let unordered = run("c.jsonl", &["--unordered", "--set", "run.batch_size=64"]);
    let ids = |v: &[Value]| -> Vec<String> {
        v.iter()
            .map(|d| d["id"].as_str().unwrap().to_string())
            .collect()
    };
    // The broken documents (input errors) are written before their batch.
    assert_ne!(ids(&unordered), ids(&ordered));
    assert_eq!(ids(&unordered)[0], "doc0050");
    let mut sorted = unordered.clone();
    sorted.sort_by_key(|d| d["id"].as_str().unwrap().to_string());
    assert_eq!(sorted, ordered);
}

#[test]
fn progress_lines_when_stderr_is_not_a_terminal() {
    let (_dir, cfg) = config();
    let all = corpus()[..60].join("\n");
    let out = stancepipe(
        &[
            "run",
            "--config",
            cfg.to_str().unwrap(),
            "--format",
            "jsonl",
            "--progress-every",
            "0",
            "-",
        ],
        Some(all.as_bytes()),
    );
    let lines: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("stancepipe: progress: "))
        .collect();
    assert_eq!(lines.len(), 60, "{}", out.stderr);
    assert!(
        lines[59].contains("60 document(s), 1 failed"),
        "{}",
        lines[59]
    );
    assert!(lines[59].contains("docs/s"));
    assert_eq!(out.stdout.lines().count(), 60, "JSONL on stdout");

    let quiet = stancepipe(
        &[
            "run",
            "--config",
            cfg.to_str().unwrap(),
            "--format",
            "jsonl",
            "-q",
            "-",
        ],
        Some(all.as_bytes()),
    );
    assert_eq!(quiet.code, 1);
    assert!(quiet.stderr.is_empty(), "{}", quiet.stderr);
}

#[test]
fn resume_needs_a_jsonl_output_file() {
    let (dir, cfg) = config();
    for extra in [vec![], vec!["--output", "x.json"]] {
        let mut args = vec!["run", "--config", cfg.to_str().unwrap(), "--resume"];
        args.extend(extra);
        args.push("seeds/");
        let out = stancepipe(&args, None);
        assert_eq!(out.code, 2, "{}", out.stderr);
        assert!(out.stderr.contains("--resume needs a JSONL --output"));
    }
    let bad = dir.path().join("foreign.jsonl");
    std::fs::write(&bad, "{\"schema_version\": 3, \"id\": \"a\"}\nhello\n").unwrap();
    let out = stancepipe(
        &[
            "run",
            "--config",
            cfg.to_str().unwrap(),
            "--resume",
            "--output",
            bad.to_str().unwrap(),
            "seeds/",
        ],
        None,
    );
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(out.stderr.contains("line 2"), "{}", out.stderr);
    assert_eq!(
        std::fs::read_to_string(&bad).unwrap(),
        "{\"schema_version\": 3, \"id\": \"a\"}\nhello\n",
        "left untouched"
    );
}
