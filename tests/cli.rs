//! End-to-end: the real binary on the seed corpus, backend swaps through
//! `--set`, the streaming JSONL filter, `validate` and `stages`.

mod common;
use common::*;
use serde_json::Value;

const SEED_ID: &str = "000_1c9edd206bcbed3f";

fn run_seed_with_log(extra: &[&str]) -> (Value, String) {
    let mut args = vec!["run", "--config", "pipeline.toml"];
    args.extend_from_slice(extra);
    args.push("seeds/000_1c9edd206bcbed3f.txt");
    let out = stancepipe(&args, None);
    assert_eq!(out.code, 0, "stderr: {}", out.stderr);
    let mut docs = parse_docs(&out.stdout);
    assert_eq!(docs.len(), 1);
    (docs.remove(0), out.stderr)
}

fn run_seed(extra: &[&str]) -> Value {
    run_seed_with_log(extra).0
}

fn text_of<'a>(doc: &'a Value, span: &Value) -> &'a str {
    let text = doc["text"].as_str().unwrap();
    &text[span["start"].as_u64().unwrap() as usize..span["end"].as_u64().unwrap() as usize]
}

#[test]
fn seed_document_end_to_end() {
    let doc = run_seed(&[]);
    assert_eq!(doc["id"], SEED_ID);
    assert_eq!(doc["schema_version"], stancepipe_core::SCHEMA_VERSION);
    let original = std::fs::read_to_string(root().join("seeds/000_1c9edd206bcbed3f.txt")).unwrap();
    assert_eq!(doc["text"], original.as_str(), "the text is kept untouched");

    // Sentences: section headings stand alone and are marked as headings.
    let sentences = doc["sentences"].as_array().unwrap();
    assert!(sentences.len() > 60, "{} sentences", sentences.len());
    let headings: Vec<&str> = sentences
        .iter()
        .filter(|s| s["kind"] == "heading")
        .map(|s| text_of(&doc, s))
        .collect();
    assert_eq!(headings, ["12/24 2024 417", "I", "II", "III", "Conclusion"]);
    for s in sentences {
        let t = text_of(&doc, s);
        assert_eq!(t, t.trim(), "sentence spans are trimmed");
        if s["kind"] == "content" {
            assert!(
                s["label"]["label"].is_string(),
                "content sentences are labeled: {t}"
            );
        }
    }

    // Subword tokens point into the text.
    let tokens = doc["tokens"].as_array().unwrap();
    assert!(tokens.len() > 1000);
    assert!(tokens.iter().all(|t| !text_of(&doc, t).is_empty()));

    // Mentions grouped by company, with exact counts.
    let expected = [
        ("Alipay", 46),
        ("WeChat", 24),
        ("JD Pay", 2),
        ("Ant Group", 1),
        ("Alibaba", 3),
        ("Meituan", 1),
        ("Vipshop", 1),
    ];
    let entities = doc["entities"].as_array().unwrap();
    for (company, count) in expected {
        let e = entities
            .iter()
            .find(|e| e["company"] == company)
            .unwrap_or_else(|| panic!("entity {company}"));
        let mentions = e["mentions"].as_array().unwrap();
        // Names, then references ("it", "the company"): pipeline.toml turns
        // the tokenize stage's reference rule on.
        let (references, names): (Vec<&Value>, Vec<&Value>) =
            mentions.iter().partition(|m| m["reference"] == true);
        assert_eq!(names.len(), count, "{company} mentions");
        for m in names {
            let t = text_of(&doc, m).to_lowercase();
            assert!(
                t.starts_with(&company.to_lowercase()[..2]),
                "{company}: {t}"
            );
        }
        for m in references {
            let t = text_of(&doc, m).to_lowercase();
            let alias = m["alias"].as_str().unwrap();
            assert!(
                t == alias || (alias.starts_with("the ") && t.starts_with("the ")),
                "{company}: reference {t:?} matched by {alias:?}"
            );
        }
    }
    let alipay_refs = entities[0]["mentions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["reference"] == true)
        .count();
    assert!(alipay_refs > 0, "the seed refers to Alipay as \"it\"");
    let wechat_pay = entities.iter().find(|e| e["company"] == "WeChat").unwrap()["mentions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| text_of(&doc, m) == "WeChat Pay")
        .count();
    assert_eq!(
        wechat_pay, 3,
        "\"WeChat Pay\" is one mention, matched whole"
    );

    // One stance entry per company, in config order, with valid evidence.
    let stance = doc["stance"].as_array().unwrap();
    let companies: Vec<&str> = stance
        .iter()
        .map(|s| s["company"].as_str().unwrap())
        .collect();
    assert_eq!(
        companies,
        [
            "Alipay",
            "WeChat",
            "JD Pay",
            "Ant Group",
            "Alibaba",
            "Meituan",
            "Vipshop"
        ]
    );
    for s in stance {
        assert!(["favor", "against", "none"].contains(&s["stance"].as_str().unwrap()));
        let score = s["score"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&score));
        for e in s["evidence"].as_array().unwrap() {
            assert!((e["sentence"].as_u64().unwrap() as usize) < sentences.len());
            // Every reading lies inside its evidence sentence.
            let sent = &sentences[e["sentence"].as_u64().unwrap() as usize];
            for r in e["readings"].as_array().into_iter().flatten() {
                assert!(sent["start"].as_u64() <= r["start"].as_u64());
                assert!(r["end"].as_u64() <= sent["end"].as_u64());
                assert!(["favor", "against", "none"].contains(&r["label"].as_str().unwrap()));
            }
        }
    }

    // Offline, the default distilbart summarizer falls back to an extractive
    // summary built from the document's own sentences, and says why.
    let summary = &doc["summary"];
    assert_eq!(summary["method"], "extractive");
    assert_eq!(summary["model"], "none");
    let note = summary["note"].as_str().unwrap();
    assert!(
        note.contains("sshleifer/distilbart-cnn-6-6") && note.contains("unavailable"),
        "{note}"
    );
    let chosen = summary["sentences"].as_array().unwrap();
    assert!(!chosen.is_empty() && chosen.len() <= 3);
    for i in chosen {
        let s = &sentences[i.as_u64().unwrap() as usize];
        assert!(summary["text"].as_str().unwrap().contains(text_of(&doc, s)));
    }

    // Provenance for every stage, in order.
    let prov = doc["provenance"].as_array().unwrap();
    let stages: Vec<(&str, &str)> = prov
        .iter()
        .map(|p| (p["stage"].as_str().unwrap(), p["backend"].as_str().unwrap()))
        .collect();
    assert_eq!(
        stages,
        [
            ("tokenize", "rules"),
            ("classify", "embedding-head"),
            ("stance", "target-sentiment"),
            ("summarize", "extractive")
        ]
    );
    assert!(prov[0]["model"]
        .as_str()
        .unwrap()
        .ends_with("tokenizer.json"));
    assert!(prov
        .iter()
        .all(|p| p["batch_ms"].as_f64().unwrap() >= 0.0 && p["batch_docs"] == 1));
}

#[test]
fn set_swaps_a_backend_and_provenance_shows_it() {
    let doc = run_seed(&[
        "--set",
        "summarize.backend=lead",
        "--set",
        "summarize.max_sentences=2",
    ]);
    let prov = doc["provenance"].as_array().unwrap();
    assert_eq!(prov[3]["backend"], "lead");
    let first_content: Vec<u64> = doc["sentences"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
        .filter(|(_, s)| s["kind"] == "content")
        .map(|(i, _)| i as u64)
        .take(2)
        .collect();
    let chosen: Vec<u64> = doc["summary"]["sentences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    assert_eq!(
        chosen, first_content,
        "lead takes the first content sentences"
    );
}

#[test]
fn fallback_warns_once() {
    let (_, log) = run_seed_with_log(&[]);
    let warnings: Vec<&str> = log.lines().filter(|l| l.contains("WARN")).collect();
    assert_eq!(warnings.len(), 1, "{log}");
    assert!(warnings[0].contains("extractive summary instead"), "{log}");
}

#[test]
fn set_swaps_in_an_abstractive_model() {
    let (doc, log) = run_seed_with_log(&[
        "--set",
        "summarize.model=tests/fixtures/models/bart-tiny",
        "--set",
        "summarize.max_length=20",
        "--set",
        "summarize.min_length=5",
    ]);
    assert!(!log.contains("WARN"), "{log}");
    let summary = &doc["summary"];
    assert_eq!(summary["method"], "abstractive");
    assert_eq!(summary["model"], "tests/fixtures/models/bart-tiny");
    assert!(summary.get("note").is_none());
    assert!(!summary["text"].as_str().unwrap().is_empty());
    let prov = &doc["provenance"][3];
    assert_eq!(prov["backend"], "rust-bert");
    assert_eq!(
        prov["model"],
        "tests/fixtures/models/bart-tiny (generator own)"
    );
}

#[test]
fn set_swaps_in_a_zero_shot_nli_stance_model() {
    let doc = run_seed(&[
        "--set",
        "stance.backend=zero-shot-nli",
        "--set",
        "stance.model=tests/fixtures/models/bart-nli-tiny",
    ]);
    let prov = &doc["provenance"][2];
    assert_eq!(prov["backend"], "zero-shot-nli");
    assert_eq!(prov["model"], "tests/fixtures/models/bart-nli-tiny");
    let stance = doc["stance"].as_array().unwrap();
    assert_eq!(stance.len(), 7);
    let alipay = &stance[0];
    // 46 names plus the references the tokenize stage attached.
    assert!(alipay["mentions"].as_u64().unwrap() > 46);
    assert!(!alipay["evidence"].as_array().unwrap().is_empty());
}

#[test]
fn set_swaps_in_a_zero_shot_nli_classifier() {
    let doc = run_seed(&[
        "--set",
        "classify.backend=zero-shot-nli",
        "--set",
        "classify.model=tests/fixtures/models/bart-nli-tiny",
    ]);
    assert_eq!(doc["provenance"][1]["backend"], "zero-shot-nli");
    assert_eq!(
        doc["provenance"][1]["model"],
        "tests/fixtures/models/bart-nli-tiny"
    );
    for s in doc["sentences"].as_array().unwrap() {
        if s["kind"] == "content" {
            let scores = s["label"]["scores"].as_object().unwrap();
            assert_eq!(scores.len(), 3);
            let sum: f64 = scores.values().map(|v| v.as_f64().unwrap()).sum();
            assert!((sum - 1.0).abs() < 1e-4, "{s}");
        } else {
            assert!(s.get("label").is_none());
        }
    }
}

#[test]
fn set_changes_an_option() {
    // With an impossible mention threshold every company is `none`.
    let doc = run_seed(&["--set", "stance.min_mentions=1000"]);
    for s in doc["stance"].as_array().unwrap() {
        assert_eq!(s["stance"], "none", "{s}");
    }
}

#[test]
fn streaming_jsonl_filter() {
    let input = "{\"id\": \"a\", \"text\": \"Alipay failed again. Alipay's plan is bad.\"}\n{\"id\": \"b\", \"text\": \"WeChat Pay grew.\"}\n";
    let out = stancepipe(&["run", "--format", "jsonl", "-"], Some(input.as_bytes()));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let docs: Vec<Value> = out
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(docs.len(), 2);
    assert_eq!(docs[0]["id"], "a");
    assert_eq!(docs[1]["entities"][1]["mentions"][0]["alias"], "WeChat Pay");
    assert!(
        out.stderr.contains("2 document(s), 0 failed"),
        "logs go to stderr: {}",
        out.stderr
    );
}

#[test]
fn jsonl_records_track_their_own_companies_and_shared_aliases_are_noted() {
    let input = concat!(
        r#"{"id": "a", "text": "Ant rose sharply. Ant Group is great. Farmers grow apple trees.", "companies": [{"name": "Ant Group", "aliases": ["Ant"]}, {"name": "Ant Financial", "aliases": ["Ant"]}, {"name": "Apple"}]}"#,
        "\n",
        r#"{"id": "b", "text": "Ant rose sharply."}"#,
        "\n",
        r#"{"id": "c", "text": "Ant rose.", "companies": [{"name": "Ant", "case": "any"}]}"#,
        "\n",
    );
    let out = stancepipe(
        &[
            "run",
            "--config",
            "configs/eval/target-aggregate.toml",
            "--format",
            "jsonl",
            "-",
        ],
        Some(input.as_bytes()),
    );
    // Record c names an unknown key: an error record, exit 1.
    assert_eq!(out.code, 1, "{}", out.stderr);
    let docs: Vec<Value> = out
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(docs.len(), 3);
    let a = &docs[0];
    let names: Vec<&str> = a["entities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["company"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Ant Group", "Ant Financial", "Apple"]);
    let mentioned: Vec<&str> = a["entities"][0]["mentions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| text_of(a, m))
        .collect();
    assert_eq!(mentioned, ["Ant", "Ant Group"]);
    assert_eq!(a["entities"][1]["mentions"].as_array().unwrap().len(), 0);
    // "apple trees" is not Apple.
    assert_eq!(a["entities"][2]["mentions"].as_array().unwrap().len(), 0);
    assert_eq!(a["stance"].as_array().unwrap().len(), 3);
    let notes: Vec<&str> = a["notes"]
        .as_array()
        .unwrap_or_else(|| panic!("a shared alias is noted: {a}"))
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(
        notes[0].contains("\"Ant Group\"") && notes[0].contains("\"Ant Financial\""),
        "{}",
        notes[0]
    );
    // Input only: the companies are not echoed.
    assert!(a.get("companies").is_none());
    // Another record does not see them.
    assert_eq!(docs[1]["entities"].as_array().unwrap().len(), 0);
    let err = docs[2]["error"]["message"].as_str().unwrap();
    assert!(
        err.contains("\"companies\"") && err.contains("case"),
        "{err}"
    );
}

#[test]
fn plain_text_on_stdin_and_jsonl_output_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/out.jsonl");
    let out = stancepipe(
        &["run", "--quiet", "--output", path.to_str().unwrap(), "-"],
        Some(b"Vipshop reported strong results. Meituan was flat."),
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.is_empty(), "--quiet: {}", out.stderr);
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(
        text.lines().count(),
        1,
        "JSONL chosen from the .jsonl extension"
    );
    let doc: Value = serde_json::from_str(text.trim()).unwrap();
    assert_eq!(doc["id"], "stdin");
    assert_eq!(doc["sentences"].as_array().unwrap().len(), 2);
}

#[test]
fn validate_and_stages() {
    let out = stancepipe(&["validate", "--config", "pipeline.toml"], None);
    assert_eq!(out.code, 0);
    assert!(out.stdout.contains("tokenize/rules"), "{}", out.stdout);

    let out = stancepipe(&["stages"], None);
    assert_eq!(out.code, 0);
    for kind in ["tokenize", "classify", "stance", "summarize"] {
        assert!(
            out.stdout.contains(&format!("{kind}  backend")),
            "{kind}: {}",
            out.stdout
        );
    }
    let out = stancepipe(&["stages", "--format", "json"], None);
    let list: Vec<Value> = serde_json::from_str(&out.stdout).unwrap();
    let lead = list.iter().find(|b| b["backend"] == "lead").unwrap();
    assert_eq!(lead["default"], false);
    let extractive = list.iter().find(|b| b["backend"] == "extractive").unwrap();
    assert_eq!(extractive["default"], true);
    assert!(extractive["options"]
        .as_array()
        .unwrap()
        .iter()
        .any(|o| o["name"] == "max_sentences" && o["default"] == "3"));
}

/// `stancepipe stages | head`: a reader that goes away ends `stages` and
/// `validate` quietly, with 0, as `ls | head` does: no error line, no panic.
#[test]
fn closed_stdout_pipe_ends_stages_and_validate_quietly() {
    let runs: [&[&str]; 4] = [
        &["stages"],
        &["stages", "--format", "json"],
        &["stages", "--format", "markdown"],
        &["validate", "--config", "pipeline.toml"],
    ];
    for args in runs {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_stancepipe"))
            .args(args)
            .current_dir(root())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // The reader is gone before the program has started (it is still
        // loading its libraries): its first write meets a closed pipe.
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
        assert!(stderr.is_empty(), "{args:?}: nothing on stderr: {stderr}");
    }
}

#[test]
fn usage_errors_exit_2_without_panicking() {
    let out = stancepipe(&["run"], None);
    assert_eq!(out.code, 2);
    assert!(!out.stderr.contains("panicked"));
    let out = stancepipe(&["frobnicate"], None);
    assert_eq!(out.code, 2);
}

#[test]
fn train_rejects_target_options_for_sentiment_before_loading_anything() {
    let out_dir = std::env::temp_dir().join(format!("stancepipe-train-{}", std::process::id()));
    let dir = out_dir.to_string_lossy().to_string();
    for (flag, value) in [
        ("--features", "marked-span"),
        ("--contrast-pairs", "10"),
        ("--sources", "finentity"),
    ] {
        let out = stancepipe(&["train", "sentiment", flag, value, "--out", &dir], None);
        assert_eq!(out.code, 2, "{flag}: stderr: {}", out.stderr);
        assert!(out.stderr.contains(flag), "{}", out.stderr);
        assert!(!out_dir.exists(), "{flag}: nothing written");
    }
    // An unknown value is a usage error that lists the valid ones.
    for (flag, bad, listed) in [
        ("--sources", "reddit", "newsmtsc"),
        ("--features", "no-such-kind", "marked-span"),
    ] {
        let out = stancepipe(&["train", "target", flag, bad], None);
        assert_eq!(out.code, 2, "{flag} {bad}: stderr: {}", out.stderr);
        assert!(out.stderr.contains(listed), "{}", out.stderr);
    }
}
