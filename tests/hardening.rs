//! End-to-end: `run` and `eval` against a hostile user (issue 16). Nothing
//! the user owns is overwritten, nothing read disappears, a broken stdout or
//! stderr never loses records silently, and every error is one line.
//! A tokenize-only pipeline keeps these fast; what they check is the runner.

mod common;
use common::*;
use serde_json::Value;
use std::path::Path;
use std::process::Command;

fn fast_config() -> (tempfile::TempDir, std::path::PathBuf) {
    write_config(&pipeline_with(&format!(
        "[[stage]]\nid = \"tokenize\"\nkind = \"tokenize\"\ntokenizer = \"{}\"\n",
        tokenizer_path().display()
    )))
}

const RECORDS: &str =
    "{\"id\":\"a\",\"text\":\"Alipay grew.\"}\n{\"id\":\"b\",\"text\":\"WeChat fell.\"}\n";

fn jsonl(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Exactly one line on stderr, the `stancepipe: error:` line.
fn one_error_line(out: &Output) -> &str {
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line expected: {}", out.stderr);
    assert!(
        lines[0].starts_with("stancepipe: error: "),
        "{}",
        out.stderr
    );
    lines[0]
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Runs the binary through `sh -c` (for redirections the test harness cannot
/// express), offline, in the repository root. `{bin}` is replaced.
fn shell(script: &str) -> Output {
    let out = Command::new("sh")
        .arg("-c")
        .arg(script.replace("{bin}", env!("CARGO_BIN_EXE_stancepipe")))
        .current_dir(root())
        .env("HF_HUB_OFFLINE", "1")
        .output()
        .unwrap();
    Output {
        code: out.status.code().expect("exited normally"),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn an_output_that_is_an_input_is_refused_and_the_input_kept() {
    let (dir, cfg) = fast_config();
    let input = dir.path().join("in.jsonl");
    std::fs::write(&input, RECORDS).unwrap();
    let link = dir.path().join("link.jsonl");
    std::os::unix::fs::symlink(&input, &link).unwrap();
    for (output, resume) in [
        (&input, false),
        (&link, false),
        (&input, true),
        (&link, true),
    ] {
        let mut args = vec!["run", "-c", s(&cfg), "--output", s(output), s(&input)];
        if resume {
            args.push("--resume");
        }
        let out = stancepipe(&args, None);
        assert_eq!(out.code, 3, "{}", out.stderr);
        assert!(one_error_line(&out).contains("is the input"));
        assert_eq!(std::fs::read_to_string(&input).unwrap(), RECORDS);
    }
}

#[test]
fn resume_trusts_only_its_own_records_and_names_another_configuration() {
    let (dir, cfg) = fast_config();
    let input = dir.path().join("in.jsonl");
    std::fs::write(&input, RECORDS).unwrap();
    // Resuming onto a copy of the input (records with ids, not ours).
    let copy = dir.path().join("copy.jsonl");
    std::fs::write(&copy, RECORDS).unwrap();
    let out = stancepipe(
        &[
            "run",
            "-c",
            s(&cfg),
            "--resume",
            "--output",
            s(&copy),
            s(&input),
        ],
        None,
    );
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(one_error_line(&out).contains("schema_version"));
    assert_eq!(std::fs::read_to_string(&copy).unwrap(), RECORDS);

    // A real output, then a resume with another configuration: kept, warned.
    let output = dir.path().join("out.jsonl");
    let out = stancepipe(
        &["run", "-c", s(&cfg), "--output", s(&output), s(&input)],
        None,
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let first = jsonl(&output);
    let digest = first[0]["config_digest"].as_str().unwrap().to_string();
    assert!(digest.starts_with("sha256:"), "{digest}");
    let same = stancepipe(
        &[
            "run",
            "-c",
            s(&cfg),
            "--resume",
            "--output",
            s(&output),
            s(&input),
        ],
        None,
    );
    assert!(
        !same.stderr.contains("another pipeline configuration"),
        "{}",
        same.stderr
    );
    let other = stancepipe(
        &[
            "run",
            "-c",
            s(&cfg),
            "--set",
            "tokenize.references=true",
            "--resume",
            "--output",
            s(&output),
            s(&input),
        ],
        None,
    );
    assert_eq!(other.code, 0, "{}", other.stderr);
    assert!(
        other.stderr.contains("2 of the 2 record(s)")
            && other.stderr.contains("another pipeline configuration"),
        "{}",
        other.stderr
    );
    assert_eq!(
        jsonl(&output),
        first,
        "resuming kept the records as they were"
    );
}

#[test]
fn an_existing_file_that_is_not_our_output_is_not_overwritten() {
    let (dir, cfg) = fast_config();
    let input = dir.path().join("in.jsonl");
    std::fs::write(&input, RECORDS).unwrap();
    let notes = dir.path().join("notes.json");
    std::fs::write(&notes, "my own notes\n").unwrap();
    let out = stancepipe(
        &["run", "-c", s(&cfg), "--output", s(&notes), s(&input)],
        None,
    );
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(one_error_line(&out).contains("not a stancepipe output"));
    assert_eq!(std::fs::read_to_string(&notes).unwrap(), "my own notes\n");
    // Our own output is replaced by a new run, as before.
    let output = dir.path().join("out.json");
    for _ in 0..2 {
        let out = stancepipe(
            &["run", "-c", s(&cfg), "--output", s(&output), s(&input)],
            None,
        );
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert_eq!(
            parse_docs(&std::fs::read_to_string(&output).unwrap()).len(),
            2
        );
    }
}

#[test]
fn ids_are_unique_or_the_user_is_told() {
    let (dir, cfg) = fast_config();
    let docs = dir.path().join("docs");
    std::fs::create_dir(&docs).unwrap();
    std::fs::write(docs.join("x.txt"), "Alipay grew.").unwrap();
    std::fs::write(docs.join("x.md"), "WeChat fell.").unwrap();
    let out = stancepipe(&["run", "-c", s(&cfg), "--ext", "txt,md", s(&docs)], None);
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(one_error_line(&out).contains("both give the id \"x\""));

    let input = dir.path().join("dup.jsonl");
    std::fs::write(
        &input,
        "{\"id\":\"a\",\"text\":\"one\"}\n{\"id\":\"a\",\"text\":\"two\"}\n",
    )
    .unwrap();
    let output = dir.path().join("out.jsonl");
    let out = stancepipe(
        &["run", "-c", s(&cfg), "--output", s(&output), s(&input)],
        None,
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    let records = jsonl(&output);
    assert_eq!(records.len(), 2);
    assert!(records[0].get("error").is_none());
    let message = records[1]["error"]["message"].as_str().unwrap();
    assert!(message.contains("duplicate id"), "{message}");
}

#[test]
fn nothing_in_an_input_folder_disappears() {
    let (dir, cfg) = fast_config();
    let docs = dir.path().join("docs");
    std::fs::create_dir(&docs).unwrap();
    std::fs::write(docs.join("ok.txt"), "Alipay grew.").unwrap();
    std::os::unix::fs::symlink(docs.join("gone.txt"), docs.join("dangling.txt")).unwrap();
    // Unreadable even for root: a regular file whose reads fail (EIO).
    std::os::unix::fs::symlink("/proc/self/mem", docs.join("unreadable.txt")).unwrap();
    let fifo = std::ffi::CString::new(s(&docs.join("pipe.txt"))).unwrap();
    // SAFETY: mkfifo reads a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
    let out = stancepipe(&["run", "-c", s(&cfg), s(&docs)], None);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("4 document(s), 3 failed"),
        "{}",
        out.stderr
    );
    let records = parse_docs(&out.stdout);
    let ids: Vec<&str> = records.iter().map(|d| d["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["dangling", "ok", "pipe", "unreadable"]);
    assert!(records[0]["error"]["message"]
        .as_str()
        .unwrap()
        .contains("dangling symlink"));
    assert!(records[2]["error"]["message"]
        .as_str()
        .unwrap()
        .contains("not a regular file"));
    assert!(records[3]["error"]["message"]
        .as_str()
        .unwrap()
        .contains("cannot read"));
}

#[test]
fn a_broken_stdout_or_stderr_never_loses_records_silently() {
    let (dir, cfg) = fast_config();
    let input = dir.path().join("in.jsonl");
    std::fs::write(&input, RECORDS).unwrap();
    let output = dir.path().join("out.jsonl");
    // stderr on a full disk: the run goes on and writes every record, with
    // warnings (a bad line), info lines (-v) and progress lines to log.
    let noisy = dir.path().join("noisy.jsonl");
    std::fs::write(&noisy, format!("{RECORDS}not json\n")).unwrap();
    let out = shell(&format!(
        "{{bin}} run -v --progress-every 0 -c {} --output {} {} 2>/dev/full",
        s(&cfg),
        s(&output),
        s(&noisy)
    ));
    assert_eq!(out.code, 1, "exit 1 (one error record), not an abort");
    assert_eq!(jsonl(&output).len(), 3);
    // stdout closed: an error, not exit 0 with nothing written.
    let out = shell(&format!("{{bin}} run -c {} {} >&-", s(&cfg), s(&input)));
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(one_error_line(&out).contains("stdout is closed"));
    // stdout on a full disk.
    let out = shell(&format!(
        "{{bin}} run -c {} {} >/dev/full",
        s(&cfg),
        s(&input)
    ));
    assert_eq!(out.code, 3, "{}", out.stderr);
    one_error_line(&out);
    // eval's table on a full stdout: exit 3, one line, no panic.
    let out = shell(&format!(
        "{{bin}} eval -q -c {} --gold seeds/ >/dev/full",
        s(&cfg)
    ));
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(one_error_line(&out).contains("stdout"));
    let out = shell(&format!("{{bin}} eval -q -c {} --gold seeds/ >&-", s(&cfg)));
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(one_error_line(&out).contains("stdout is closed"));
    // Empty stdin is no document, not an empty one.
    let out = stancepipe(&["run", "-c", s(&cfg), "-"], Some(b""));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(parse_docs(&out.stdout).is_empty());
    assert!(out.stderr.contains("0 document(s)"), "{}", out.stderr);
}

#[test]
fn a_second_writer_of_one_output_is_refused() {
    let (dir, cfg) = fast_config();
    let input = dir.path().join("in.jsonl");
    std::fs::write(&input, RECORDS).unwrap();
    let output = dir.path().join("out.jsonl");
    let out = stancepipe(
        &["run", "-c", s(&cfg), "--output", s(&output), s(&input)],
        None,
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let before = std::fs::read(&output).unwrap();
    // Another run holds the output (as `run` does while it writes).
    let held = std::fs::File::open(&output).unwrap();
    held.lock().unwrap();
    for resume in [false, true] {
        let mut args = vec!["run", "-c", s(&cfg), "--output", s(&output), s(&input)];
        if resume {
            args.push("--resume");
        }
        let out = stancepipe(&args, None);
        assert_eq!(out.code, 3, "{}", out.stderr);
        assert!(one_error_line(&out).contains("being written by another"));
        assert_eq!(std::fs::read(&output).unwrap(), before);
    }
    drop(held);
}

#[test]
fn errors_are_one_line() {
    let out = stancepipe(&["run", "--bogus", "x"], None);
    assert_eq!(out.code, 2);
    assert!(one_error_line(&out).contains("--bogus"));
    let out = stancepipe(&[], None);
    assert_eq!(out.code, 2);
    one_error_line(&out);
    // A model whose config.json does not match its weights: libtorch's
    // message without its C++ backtrace.
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("bart");
    std::fs::create_dir(&model).unwrap();
    let fixture = root().join("tests/fixtures/models/bart-tiny");
    for entry in std::fs::read_dir(&fixture).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), model.join(entry.file_name())).unwrap();
    }
    let mut config: Value =
        serde_json::from_str(&std::fs::read_to_string(model.join("config.json")).unwrap()).unwrap();
    config["d_model"] = Value::from(config["d_model"].as_u64().unwrap() * 2);
    std::fs::write(model.join("config.json"), config.to_string()).unwrap();
    let set = format!("summarize.model={}", s(&model));
    let args = [
        "run",
        "--set",
        &set,
        "--set",
        "summarize.fallback=none",
        "seeds/",
    ];
    let out = stancepipe(&args, None);
    assert_eq!(out.code, 2, "{}", out.stderr);
    let line = one_error_line(&out);
    assert!(
        line.contains("stage \"summarize\"")
            && line.contains(" in the file, [64")
            && line.contains("] in the model"),
        "{line}"
    );
    let mut verbose = vec!["-v"];
    verbose.extend(args);
    // Our weight loader names the tensor and both shapes itself (no libtorch
    // backtrace to cut); -v says the same.
    assert!(stancepipe(&verbose, None).stderr.contains("] in the model"));
}

#[test]
fn numbers_are_bounded() {
    let (_dir, cfg) = fast_config();
    let out = stancepipe(
        &["run", "-c", s(&cfg), "--threads", "100000", "seeds/"],
        None,
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(one_error_line(&out).contains("at most"));
    let out = stancepipe(
        &[
            "eval",
            "-c",
            s(&cfg),
            "--gold",
            "seeds/",
            "--min",
            "stance.macro_f1=NaN",
        ],
        None,
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(one_error_line(&out).contains("finite"));
}

#[test]
fn a_bom_on_stdin_and_slim_records() {
    let (_dir, cfg) = fast_config();
    let mut input = "\u{feff}".as_bytes().to_vec();
    input.extend_from_slice(RECORDS.as_bytes());
    let out = stancepipe(
        &["run", "-c", s(&cfg), "--omit", "tokens", "-"],
        Some(&input),
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let docs = parse_docs(&out.stdout);
    assert_eq!(docs.len(), 2);
    assert_eq!(docs[0]["id"], "a");
    assert!(docs[0].get("tokens").is_none());
    assert!(docs[0]["sentences"][0].get("tokens").is_none());
    // The batch's time once, with its size: not a per-document time.
    let p = &docs[0]["provenance"][0];
    assert_eq!(p["batch_docs"], 2, "{p}");
    assert!(p["batch_ms"].as_f64().is_some() && p.get("ms").is_none());
}
