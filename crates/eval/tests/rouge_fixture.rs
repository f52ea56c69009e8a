//! The Rust ROUGE against Google's rouge-score 0.1.2 on the committed
//! fixture (`tests/fixtures/rouge/pairs.json`, made by
//! `scripts/fixtures/make_rouge_fixture.py`): every pair's four F-scores (and
//! P/R) within 1e-6, the stemmed tokens identical, and the stemmer identical
//! to nltk's on every word of the fixture's stem table.

use serde_json::Value;
use stancepipe_eval::{porter, rouge};
use std::path::Path;

fn fixture() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/rouge/pairs.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (a committed fixture)", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn stemmer_matches_nltk_on_the_stem_table() {
    let f = fixture();
    assert_eq!(
        f["versions"]["rouge-score"].as_str(),
        Some("0.1.2"),
        "fixture made with rouge-score 0.1.2"
    );
    let table = f["stem_table"].as_array().unwrap();
    assert!(table.len() > 500);
    let wrong: Vec<String> = table
        .iter()
        .filter_map(|p| {
            let (w, s) = (p[0].as_str().unwrap(), p[1].as_str().unwrap());
            let got = porter::stem(w);
            (got != s).then(|| format!("{w}: nltk {s}, ours {got}"))
        })
        .collect();
    assert!(wrong.is_empty(), "{} differ: {wrong:?}", wrong.len());
}

#[test]
fn every_pair_matches_rouge_score_within_1e_6() {
    let f = fixture();
    let pairs = f["pairs"].as_array().unwrap();
    assert!(pairs.len() >= 50, "at least 50 pairs");
    let mut failures = Vec::new();
    for p in pairs {
        let (r, q) = (
            p["reference"].as_str().unwrap(),
            p["prediction"].as_str().unwrap(),
        );
        assert_eq!(
            rouge::tokenize(r),
            strings(&p["tokens"]["reference"]),
            "pair {}",
            p["id"]
        );
        assert_eq!(
            rouge::tokenize(q),
            strings(&p["tokens"]["prediction"]),
            "pair {}",
            p["id"]
        );
        let ours = rouge::score(r, q);
        for (name, s) in ours.named() {
            let want = &p["scores"][name];
            for (what, got) in [
                ("fmeasure", s.fmeasure),
                ("precision", s.precision),
                ("recall", s.recall),
            ] {
                let w = want[what].as_f64().unwrap();
                if (got - w).abs() > 1e-6 {
                    failures.push(format!(
                        "pair {} ({}): {name} {what} {got} vs rouge-score {w}",
                        p["id"], p["category"]
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}
