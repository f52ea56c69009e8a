//! End-to-end: documents built to make the model stages' cost explode, in a
//! batch with ordinary ones, through the default pipeline. Every record must
//! be written; the huge one is read up to the model stages' `read_bytes`
//! and says so. (Time and memory are measured in docs/benchmarks.md, not
//! asserted here.)

mod common;
use common::*;
use serde_json::Value;

fn by_id<'a>(docs: &'a [Value], id: &str) -> &'a Value {
    docs.iter()
        .find(|d| d["id"] == id)
        .unwrap_or_else(|| panic!("no record {id}"))
}

fn mentions_of(doc: &Value, company: &str) -> usize {
    doc["entities"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["company"] == company)
        .map(|e| e["mentions"].as_array().unwrap().len())
        .sum()
}

#[test]
fn run_on_sentences_and_megabyte_lines_finish_with_their_batch() {
    // One 1 KB run-on sentence naming tracked companies 160 times.
    let run_on = ["Alipay", "WeChat"].repeat(80).join(" and ");
    assert!(run_on.len() < 2048);
    // One 2 MB line full of company names and no sentence end.
    let unit = "Alipay and WeChat Pay compete with JD Pay while Ant Group watches ";
    let huge = unit.repeat(2_000_000 / unit.len());
    let lines = [
        serde_json::json!({"id": "before", "text": "Alipay reported strong growth. Analysts praised Alipay again."}),
        serde_json::json!({"id": "run-on", "text": run_on}),
        serde_json::json!({"id": "huge", "text": huge}),
        serde_json::json!({"id": "after", "text": "WeChat lost users. Regulators fined WeChat for the outage."}),
    ];
    let input: String = lines.iter().map(|l| format!("{l}\n")).collect();
    let out = stancepipe(
        &["run", "--config", "pipeline.toml", "--format", "jsonl", "-"],
        Some(input.as_bytes()),
    );
    assert_eq!(out.code, 0, "stderr: {}", out.stderr);
    let docs: Vec<Value> = out
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON record a line"))
        .collect();
    let ids: Vec<&str> = docs.iter().map(|d| d["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["before", "run-on", "huge", "after"]);
    for d in &docs {
        assert!(
            d.get("error").is_none(),
            "{}: {:?}",
            d["id"],
            d.get("error")
        );
        assert_eq!(d["stance"].as_array().unwrap().len(), 7, "{}", d["id"]);
    }

    // The run-on sentence: all 160 mentions found and read from one sentence.
    let r = by_id(&docs, "run-on");
    assert_eq!(mentions_of(r, "Alipay") + mentions_of(r, "WeChat"), 160);
    let alipay = &r["stance"][0];
    assert_eq!(alipay["mentions"], 80);
    for e in alipay["evidence"].as_array().unwrap() {
        let readings = e["readings"].as_array().unwrap();
        assert!(readings.len() <= 8, "readings are capped per sentence");
        assert_eq!(e["mentions"], 80, "but all are counted");
    }
    assert!(r.get("notes").is_none(), "a short document is read whole");

    // The huge line: every mention found, the models read a bounded prefix,
    // and the note says so for both model stages.
    let h = by_id(&docs, "huge");
    assert!(mentions_of(h, "Alipay") > 20_000);
    let notes: Vec<&str> = h["notes"]
        .as_array()
        .expect("the huge document has notes")
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    assert!(
        notes
            .iter()
            .any(|n| n.starts_with("classify: read the first")),
        "{notes:?}"
    );
    assert!(
        notes
            .iter()
            .any(|n| n.starts_with("stance: read the first")),
        "{notes:?}"
    );
    let alipay = &h["stance"][0];
    assert!(alipay["mentions"].as_u64().unwrap() > 20_000);
    let read: u64 = alipay["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["mentions"].as_u64().unwrap())
        .sum();
    assert!(read < 20_000, "only the readable prefix is read: {read}");
    let content: Vec<&Value> = h["sentences"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["kind"] == "content")
        .collect();
    assert!(
        content.iter().any(|s| s.get("label").is_some()),
        "the prefix was read"
    );
}
