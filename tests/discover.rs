//! End-to-end: companies found in the text (`tokenize.discover`, issue 18)
//! with the shipped recognizer (`models/heads/entities`).

mod common;
use common::*;
use serde_json::Value;
use std::collections::BTreeSet;

/// The shipped `pipeline.toml` without its company list, its model paths
/// made absolute so that it runs from a temporary folder.
fn default_pipeline_without_companies() -> String {
    let text = std::fs::read_to_string(root().join("pipeline.toml")).unwrap();
    let mut out = String::new();
    let mut in_company = false;
    for line in text.lines() {
        let t = line.trim_start();
        if t.starts_with('[') {
            in_company = t.starts_with("[[company]]");
        }
        if !in_company {
            out.push_str(line);
            out.push('\n');
        }
    }
    out.replace("\"models/", &format!("\"{}/models/", root().display()))
}

fn discovered(doc: &Value) -> Vec<(String, String)> {
    doc["entities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["company"].as_str().unwrap().to_string(),
                e["origin"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn the_seed_companies_are_found_without_a_list() {
    let (_dir, config) = write_config(&default_pipeline_without_companies());
    let seed = "seeds/000_1c9edd206bcbed3f.txt";
    let off = stancepipe(&["run", "-q", "-c", config.to_str().unwrap(), seed], None);
    assert_eq!(off.code, 0, "{}", off.stderr);
    assert!(discovered(&parse_docs(&off.stdout)[0]).is_empty());

    let out = stancepipe(
        &[
            "run",
            "-q",
            "-c",
            config.to_str().unwrap(),
            "--set",
            "tokenize.discover=true",
            seed,
        ],
        None,
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let doc = &parse_docs(&out.stdout)[0];
    let found = discovered(doc);
    assert!(found.iter().all(|(_, o)| o == "discovered"), "{found:?}");
    let names: BTreeSet<&str> = found.iter().map(|(n, _)| n.as_str()).collect();
    for want in SEED_COMPANIES {
        assert!(names.contains(want), "{want} not found: {names:?}");
    }
    // WeChat Pay is WeChat (the documented grouping rule).
    let wechat = doc["entities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["company"] == "WeChat")
        .unwrap();
    assert!(
        wechat["forms"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f == "WeChat Pay"),
        "{wechat}"
    );
    // Every found company gets a stance with its evidence, as configured ones do.
    let stances: Vec<&str> = doc["stance"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["company"].as_str().unwrap())
        .collect();
    assert_eq!(
        stances,
        found.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>()
    );
    let alipay = doc["stance"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["company"] == "Alipay")
        .unwrap();
    assert!(
        !alipay["evidence"].as_array().unwrap().is_empty(),
        "{alipay}"
    );
    // The provenance of the tokenize stage names the recognizer.
    let tokenize = doc["provenance"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["stage"] == "tokenize")
        .unwrap();
    assert!(
        tokenize["model"]
            .as_str()
            .unwrap()
            .contains("heads/entities"),
        "{tokenize}"
    );
}

#[test]
fn configured_companies_win_over_discovered_names() {
    let (_dir, config) = write_config(&pipeline_with(&format!(
        "[[stage]]\nid = \"tokenize\"\nkind = \"tokenize\"\ntokenizer = \"{}\"\ndiscover = true\nrecognizer = \"{}\"\nencoder = \"{}\"\n",
        tokenizer_path().display(),
        root().join("models/heads/entities").display(),
        root().join("models/all-MiniLM-L6-v2").display(),
    )));
    let text = "Alipay's rivals include WeChat Pay. Shares of Microsoft Corp. rose on Monday, and Microsoft said it would hire.";
    let out = stancepipe(
        &["run", "-q", "-c", config.to_str().unwrap(), "-"],
        Some(text.as_bytes()),
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let doc = &parse_docs(&out.stdout)[0];
    let found = discovered(doc);
    assert_eq!(found[0], ("Alipay".into(), "configured".into()));
    assert_eq!(found[1], ("WeChat".into(), "configured".into()));
    // "Microsoft Corp." and "Microsoft" are one company (named by the rule:
    // the most frequent form, ties the longer).
    assert_eq!(found.len(), 3, "{found:?}");
    assert!(
        found[2].0.starts_with("Microsoft") && found[2].1 == "discovered",
        "{found:?}"
    );
    let forms = doc["entities"][2]["forms"].as_array().unwrap();
    assert_eq!(forms.len(), 2, "{forms:?}");
}

#[test]
fn odd_texts_give_results_not_panics() {
    let (_dir, config) = write_config(&pipeline_with(&format!(
        "[[stage]]\nid = \"tokenize\"\nkind = \"tokenize\"\ndiscover = true\nrecognizer = \"{}\"\nencoder = \"{}\"\n",
        root().join("models/heads/entities").display(),
        root().join("models/all-MiniLM-L6-v2").display(),
    )));
    let big = "Shares of Globex Corp rose after Initech said it would buy a stake. ".repeat(75_000);
    assert!(big.len() > 5_000_000);
    let lines = [
        serde_json::json!({"id": "lower", "text": "no capital letters here at all, only lower case words."}),
        serde_json::json!({"id": "caps", "text": "SHARES OF GLOBEX CORP ROSE AFTER INITECH SAID IT WOULD BUY A STAKE."}),
        serde_json::json!({"id": "empty", "text": ""}),
        serde_json::json!({"id": "big", "text": big}),
    ];
    let input: String = lines.iter().map(|l| format!("{l}\n")).collect();
    let out = stancepipe(
        &[
            "run",
            "-q",
            "--format",
            "jsonl",
            "-c",
            config.to_str().unwrap(),
            "-",
        ],
        Some(input.as_bytes()),
    );
    assert!(out.code == 0 || out.code == 1, "{}", out.stderr);
    let docs: Vec<Value> = out
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(docs.len(), 4);
    for d in &docs {
        assert!(
            d["error"].is_null() || !d["error"]["message"].as_str().unwrap().contains("panicked"),
            "{d:.300}"
        );
    }
    let lower = &docs[0];
    assert!(lower["entities"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["origin"] != "discovered"));
    // The big document is read up to read_bytes, and says so.
    let big = &docs[3];
    assert!(big["error"].is_null(), "{:.300}", big["error"]);
    assert!(
        big["notes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n.as_str().unwrap().contains("discover")),
        "{:.300}",
        big["notes"]
    );
}

#[test]
fn eval_scores_what_a_discovering_pipeline_found() {
    let dir = tempfile::tempdir().unwrap();
    let (_cdir, config) = write_config(&format!(
        "[[stage]]\nid = \"tokenize\"\nkind = \"tokenize\"\ndiscover = true\nrecognizer = \"{}\"\nencoder = \"{}\"\n\n[[stage]]\nid = \"classify\"\nkind = \"classify\"\nbackend = \"lexicon\"\n\n[[stage]]\nid = \"stance\"\nkind = \"stance\"\nbackend = \"aggregate\"\n",
        root().join("models/heads/entities").display(),
        root().join("models/all-MiniLM-L6-v2").display(),
    ));
    let gold = dir.path().join("gold.jsonl");
    let lines = [
        serde_json::json!({"id": "a", "text": "Shares of Microsoft Corp. rose on Monday after Microsoft beat forecasts.",
                           "entities": [{"name": "Microsoft", "stance": "favor"}]}),
        serde_json::json!({"id": "b", "text": "Toyota Motor recalled a million cars on Tuesday, and Toyota's shares fell.",
                           "entities": [{"name": "Toyota Motor Corp", "stance": "against"},
                                        {"name": "Acme Widgets", "stance": "none"}]}),
    ];
    std::fs::write(
        &gold,
        lines.iter().map(|l| format!("{l}\n")).collect::<String>(),
    )
    .unwrap();
    let report = dir.path().join("r");
    let out = stancepipe(
        &[
            "eval",
            "-q",
            "--config",
            config.to_str().unwrap(),
            "--gold",
            gold.to_str().unwrap(),
            "--report",
            report.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let r: Value =
        serde_json::from_str(&std::fs::read_to_string(report.join("report.json")).unwrap())
            .unwrap();
    let d = &r["pipelines"][0]["discovery"];
    assert_eq!(d["gold"], 3, "{d}");
    assert_eq!(d["found"], 2, "{d}");
    assert_eq!(d["missed"], 1, "{d}");
    assert_eq!(d["documents_all_found"], 1, "{d}");
    // The missed company counts as missing in the stance figures.
    let st = &r["pipelines"][0]["stance"];
    assert_eq!(st["items"], 3, "{st}");
    let md = std::fs::read_to_string(report.join("report.md")).unwrap();
    assert!(md.contains("Discovered companies"), "{md}");
}

#[test]
fn a_bad_discover_option_names_file_stage_and_key() {
    let out = stancepipe(
        &[
            "validate",
            "-c",
            "pipeline.toml",
            "--set",
            "tokenize.discover=true",
            "--set",
            "tokenize.recognizer=no/such/recognizer",
        ],
        None,
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    let line = out.stderr.trim();
    assert_eq!(line.lines().count(), 1, "{line}");
    for part in ["tokenize", "recognizer", "no/such/recognizer"] {
        assert!(line.contains(part), "{part}: {line}");
    }
    let out = stancepipe(
        &[
            "validate",
            "-c",
            "pipeline.toml",
            "--set",
            "tokenize.discover=true",
            "--set",
            "tokenize.discover_min_mentions=0",
        ],
        None,
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("discover_min_mentions"),
        "{}",
        out.stderr
    );
}
