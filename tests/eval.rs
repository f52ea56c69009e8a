//! End-to-end: `stancepipe eval` on the seed corpus (two pipelines side by
//! side, the three reports, report.html rendered in headless Chromium), on a
//! user gold file, thresholds and exit codes.

mod common;
use common::*;
use serde_json::Value;
use std::path::Path;

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// The text of the element with `id` in a DOM dump (up to its section end).
fn element<'a>(dom: &'a str, id: &str) -> &'a str {
    let start = dom
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no element #{id}"));
    let rest = &dom[start..];
    &rest[..rest.find("</div>").unwrap_or(rest.len())]
}

#[test]
fn seed_two_pipelines_side_by_side_and_html_renders() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("out");
    let out = stancepipe(
        &[
            "eval",
            "--config",
            "pipeline.toml",
            "--config",
            "configs/eval/seed-lexicon.toml",
            "--gold",
            "seeds/",
            "--report",
            report.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(out.code, 0, "stderr: {}", out.stderr);
    assert!(
        out.stdout
            .starts_with("metric\tpipeline\tseed-lexicon\tmajority"),
        "{}",
        out.stdout
    );

    let r = read_json(&report.join("report.json"));
    assert_eq!(r["schema_version"], 2);
    assert_eq!(r["gold"]["format"], "gold");
    assert_eq!(r["gold"]["entities"], 7);
    assert_eq!(r["bootstrap"]["resamples"], 1000);
    let p = r["pipelines"].as_array().unwrap();
    assert_eq!(p.len(), 2, "side by side");
    let stance_backend = |i: usize| {
        p[i]["stages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["kind"] == "stance")
            .unwrap()["backend"]
            .clone()
    };
    assert_eq!(stance_backend(0), "target-sentiment");
    assert_eq!(stance_backend(1), "aggregate");
    for pi in p {
        let st = &pi["stance"];
        assert_eq!(st["items"], 7);
        // The confusion matrix accounts for every gold entity.
        let total: u64 = st["report"]["confusion"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|row| row.as_array().unwrap())
            .map(|n| n.as_u64().unwrap())
            .sum();
        assert_eq!(total, 7);
        let acc = &st["accuracy"];
        let v = acc["value"].as_f64().unwrap();
        assert!(acc["ci_low"].as_f64().unwrap() <= v && v <= acc["ci_high"].as_f64().unwrap());
        assert!(st["f_avg"]["value"].is_number());
        let companies: Vec<&str> = st["companies"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["company"].as_str().unwrap())
            .collect();
        for c in SEED_COMPANIES {
            assert!(companies.contains(&c), "{c} in {companies:?}");
        }
        // The seed has a reference summary: ROUGE, with the method that ran.
        let su = &pi["summary"];
        assert_eq!(su["documents"], 1);
        let r1 = su["fmeasure"]["rouge1"]["value"].as_f64().unwrap();
        assert!(r1 > 0.1 && r1 < 1.0, "{r1}");
        assert_eq!(su["methods"]["extractive"], 1, "offline: extractive");
    }
    // The default pipeline gets JD Pay, Meituan and Vipshop right (docs/quality.md).
    let rows = p[0]["stance"]["companies"].as_array().unwrap();
    let correct: u64 = rows.iter().map(|c| c["correct"].as_u64().unwrap()).sum();
    assert!(
        (p[0]["stance"]["accuracy"]["value"].as_f64().unwrap() - correct as f64 / 7.0).abs() < 1e-9
    );

    let md = std::fs::read_to_string(report.join("report.md")).unwrap();
    assert!(
        md.contains("| metric | pipeline | seed-lexicon | majority class |"),
        "{md}"
    );
    assert!(md.contains("| stance.f_avg |"));

    let html_path = report.join("report.html");
    let html = std::fs::read_to_string(&html_path).unwrap();
    for external in ["src=", "url(", "@import", "<link"] {
        assert!(
            !html.contains(external),
            "report.html must be self-contained: {external}"
        );
    }
    // Links only to anchors in the page (the evidence of each company).
    for (i, _) in html.match_indices("href=") {
        assert!(html[i..].starts_with("href=\"#"), "{}", &html[i..i + 60]);
    }
    let (dom, stderr) = chromium_dom(&html_path);
    assert!(
        dom.contains("data-rendered=\"ok\""),
        "the report's script did not finish: {}",
        element(&dom, "js-errors")
    );
    let console: Vec<&str> = stderr.lines().filter(|l| l.contains(":CONSOLE")).collect();
    assert!(console.is_empty(), "console messages: {console:#?}");
    for pi in 0..2 {
        let chart = element(&dom, &format!("chart-{pi}"));
        assert!(chart.contains("<svg"), "chart {pi} drawn");
        for c in SEED_COMPANIES {
            assert!(
                chart.contains(&format!(">{c}</text>")),
                "chart {pi} shows {c}"
            );
        }
    }
    // The document: sentences colored by label, evidence marked, summaries side by side.
    assert!(dom.contains("class=\"s lab-"));
    assert!(dom.contains("class=\"ev-tag c"));
    assert!(dom.contains("Reference summary"));
}

#[test]
fn user_gold_all_tasks_missing_documents_and_thresholds() {
    let dir = tempfile::tempdir().unwrap();
    let gold = dir.path().join("gold.jsonl");
    std::fs::write(
        &gold,
        concat!(
            r#"{"id":"a","text":"Acme had a great, wonderful year. Bolt is a terrible, awful mess.","entities":[{"name":"Acme","stance":"favor"},{"name":"Bolt","aliases":["Bolt Inc"],"stance":"against"}],"sentences":[{"start":0,"end":33,"label":"positive"},{"start":34,"end":65,"label":"negative"}],"reference_summary":"Acme had a great year; Bolt is a mess."}"#,
            "\n",
            r#"{"id":"b","text":"Nothing here mentions anyone.","entities":[{"name":"Acme","stance":"none"}]}"#,
            "\n"
        ),
    )
    .unwrap();
    let g = gold.to_str().unwrap();
    let report = dir.path().join("r");
    let args = |extra: &[&str]| {
        let mut a = vec![
            "eval",
            "--config",
            "configs/eval/target-aggregate.toml",
            "--gold",
            g,
        ];
        a.extend_from_slice(extra);
        a.iter().map(|s| s.to_string()).collect::<Vec<String>>()
    };
    let run = |extra: &[&str]| {
        let a = args(extra);
        let refs: Vec<&str> = a.iter().map(String::as_str).collect();
        stancepipe(&refs, None)
    };

    let out = run(&[
        "--report",
        report.to_str().unwrap(),
        "--min",
        "macro_f1=0.5",
    ]);
    assert_eq!(out.code, 0, "stderr: {}", out.stderr);
    let r = read_json(&report.join("report.json"));
    let p = &r["pipelines"][0];
    // VADER: Acme favor, Bolt against, b's Acme none (not mentioned).
    assert_eq!(p["stance"]["accuracy"]["value"], 1.0);
    assert_eq!(p["sentences"]["items"], 2);
    assert_eq!(p["sentences"]["accuracy"]["value"], 1.0);
    assert_eq!(p["summary"]["documents"], 1);
    assert_eq!(r["thresholds"][0]["metric"], "stance.macro_f1");
    assert_eq!(r["thresholds"][0]["passed"], true);

    // Every document becomes an error record: everything counts as wrong,
    // and the evaluation still ran (exit 0).
    let out = run(&[
        "--set",
        "run.max_doc_bytes=5",
        "--report",
        report.to_str().unwrap(),
    ]);
    assert_eq!(out.code, 0, "stderr: {}", out.stderr);
    let r = read_json(&report.join("report.json"));
    let p = &r["pipelines"][0];
    assert_eq!(p["documents"]["failed"], 2);
    assert_eq!(p["stance"]["items"], 3);
    assert_eq!(p["stance"]["accuracy"]["value"], 0.0);
    assert_eq!(p["sentences"]["accuracy"]["value"], 0.0);
    assert_eq!(p["summary"]["fmeasure"]["rouge1"]["value"], 0.0);
    assert_eq!(p["summary"]["methods"]["missing"], 1);

    // A threshold not met: exit 4, the metric named.
    let out = run(&[
        "--set",
        "run.max_doc_bytes=5",
        "--min",
        "stance.accuracy=0.5",
    ]);
    assert_eq!(out.code, 4, "stderr: {}", out.stderr);
    assert!(out.stderr.contains("stance.accuracy"), "{}", out.stderr);
    // Unknown metric, split on a gold file, missing gold: before running.
    let out = run(&["--min", "rouge9=0.1"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("available: stance.macro_f1"),
        "{}",
        out.stderr
    );
    assert_eq!(run(&["--split", "dev"]).code, 2);
    let out = stancepipe(
        &[
            "eval",
            "--config",
            "pipeline.toml",
            "--gold",
            "/nonexistent/gold.jsonl",
        ],
        None,
    );
    assert_eq!(out.code, 3);
    assert!(
        out.stderr.contains("/nonexistent/gold.jsonl"),
        "{}",
        out.stderr
    );
}

/// Runs `eval` with the model-free pipeline on a gold file holding `lines`.
fn eval_gold(dir: &Path, lines: &[&str], extra: &[&str]) -> Output {
    let gold = dir.join("gold.jsonl");
    std::fs::write(&gold, lines.join("\n") + "\n").unwrap();
    let mut args = vec![
        "eval",
        "--config",
        "configs/eval/target-aggregate.toml",
        "--gold",
        gold.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    stancepipe(&args, None)
}

#[test]
fn each_document_tracks_its_own_gold_entities() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("r");
    // "Ant" is a name of Ant Group in one document and a company of its own
    // in another; "Trump" is one person in one document and another in the
    // next. Tracked as one corpus-wide list, the first listed would take
    // every "Ant" and every "Trump".
    let out = eval_gold(
        dir.path(),
        &[
            r#"{"id":"a","text":"Ant had a great, wonderful year.","entities":[{"name":"Ant Group","aliases":["Ant"],"stance":"favor"}]}"#,
            r#"{"id":"b","text":"Ant is a terrible, awful mess.","entities":[{"name":"Ant","stance":"against"}]}"#,
            r#"{"id":"c","text":"Trump gave a great, wonderful speech.","entities":[{"name":"Melania Trump","aliases":["Trump"],"stance":"favor"}]}"#,
            r#"{"id":"d","text":"Trump made a terrible, awful mistake.","entities":[{"name":"Donald Trump","aliases":["Trump"],"stance":"against"}]}"#,
        ],
        &["--report", report.to_str().unwrap()],
    );
    assert_eq!(out.code, 0, "stderr: {}", out.stderr);
    let r = read_json(&report.join("report.json"));
    let p = &r["pipelines"][0];
    assert_eq!(p["stance"]["not_found"], 0, "{}", p["stance"]);
    assert_eq!(p["stance"]["items"], 4);
    assert_eq!(p["stance"]["accuracy"]["value"], 1.0, "{}", p["stance"]);
    for row in p["stance"]["companies"].as_array().unwrap() {
        assert_eq!(row["correct"], 1, "{row}");
    }
    // Tracked somewhere in the corpus: the four gold entities.
    assert_eq!(p["companies"], 4);
}

#[test]
fn bad_gold_records_exit_3_naming_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let ok = r#"{"id":"a","text":"Acme rose.","entities":[{"name":"Acme","stance":"favor"}]}"#;
    let cases: [(&str, &str); 3] = [
        (
            r#"{"id":"a","text":"Acme fell.","entities":[{"name":"Acme","stance":"against"}]}"#,
            "used twice (first on line 1)",
        ),
        (
            r#"{"id":"b","text":"Acme fell.","sentences":[{"start":0,"end":99,"label":"negative"}]}"#,
            "end 99 is past the end of the text (10 bytes)",
        ),
        (
            r#"{"id":"b","text":"Acme fell.","sentences":[{"start":6,"end":2,"label":"negative"}]}"#,
            "start 6 is after end 2",
        ),
    ];
    for (bad, what) in cases {
        let out = eval_gold(dir.path(), &[ok, "", bad], &[]);
        assert_eq!(out.code, 3, "{bad}: stderr: {}", out.stderr);
        let lines: Vec<&str> = out.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "one line: {}", out.stderr);
        assert!(lines[0].starts_with("stancepipe: error: "), "{}", lines[0]);
        assert!(lines[0].contains("gold.jsonl: line 3: "), "{}", lines[0]);
        assert!(lines[0].contains(what), "{}", lines[0]);
        assert!(out.stdout.is_empty(), "nothing scored: {}", out.stdout);
    }
}
