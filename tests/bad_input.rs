//! Bad inputs: each ends as a processed document or an error record, the
//! rest of the batch is still processed and written, and the run exits 1.

mod common;
use common::*;
use serde_json::Value;

fn by_id<'a>(docs: &'a [Value], id: &str) -> &'a Value {
    docs.iter()
        .find(|d| d["id"] == id)
        .unwrap_or_else(|| panic!("document {id} is in the output"))
}

fn error_of(doc: &Value) -> Option<&str> {
    doc.get("error").and_then(|e| e["message"].as_str())
}

#[test]
fn a_batch_of_bad_files_is_written_whole() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    std::fs::create_dir(&input).unwrap();
    let seed = std::fs::read_to_string(root().join("seeds/000_1c9edd206bcbed3f.txt")).unwrap();
    std::fs::write(
        input.join("a_good.txt"),
        "Alipay fell sharply. WeChat did well.",
    )
    .unwrap();
    std::fs::write(input.join("b_empty.txt"), "").unwrap();
    std::fs::write(
        input.join("c_latin1.txt"),
        b"Caf\xe9 Alipay \xff\xfe".as_slice(),
    )
    .unwrap();
    std::fs::write(
        input.join("d_binary.txt"),
        [0x7fu8, b'E', b'L', b'F', 0, 0, 1, 2],
    )
    .unwrap();
    // About 5 MB: the seed repeated.
    let big: String = seed.repeat(5 * 1024 * 1024 / seed.len() + 1);
    std::fs::write(input.join("e_big.txt"), &big).unwrap();
    std::fs::write(input.join("f_last.txt"), "Meituan is a company.").unwrap();
    let out_path = dir.path().join("out.json");

    // Input handling is under test, not models: the model-free backends keep
    // the 5 MB document fast.
    let out = stancepipe(
        &[
            "run",
            "--set",
            "classify.backend=lexicon",
            "--set",
            "stance.backend=aggregate",
            "--output",
            out_path.to_str().unwrap(),
            input.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(out.code, 1, "documents failed, so exit 1: {}", out.stderr);
    assert!(
        out.stderr.contains("6 document(s), 2 failed"),
        "{}",
        out.stderr
    );
    let docs = parse_docs(&std::fs::read_to_string(&out_path).unwrap());
    let ids: Vec<&str> = docs.iter().map(|d| d["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        ["a_good", "b_empty", "c_latin1", "d_binary", "e_big", "f_last"],
        "input order"
    );

    let good = by_id(&docs, "a_good");
    assert_eq!(error_of(good), None);
    assert_eq!(good["sentences"].as_array().unwrap().len(), 2);

    let empty = by_id(&docs, "b_empty");
    assert_eq!(
        error_of(empty),
        None,
        "an empty file is a valid, empty document"
    );
    assert_eq!(empty["sentences"].as_array().unwrap().len(), 0);
    assert_eq!(
        empty["stance"].as_array().unwrap().len(),
        7,
        "stance per tracked company"
    );

    let latin1 = by_id(&docs, "c_latin1");
    assert_eq!(error_of(latin1), Some("invalid UTF-8 at byte 3"));
    assert_eq!(latin1["error"]["stage"], "input");

    let binary = by_id(&docs, "d_binary");
    assert!(error_of(binary).unwrap().contains("binary"), "{binary}");

    let big_doc = by_id(&docs, "e_big");
    assert_eq!(error_of(big_doc), None);
    assert_eq!(big_doc["text"].as_str().unwrap().len(), big.len());
    assert!(big_doc["sentences"].as_array().unwrap().len() > 10_000);
    assert_eq!(big_doc["provenance"].as_array().unwrap().len(), 4);

    assert_eq!(error_of(by_id(&docs, "f_last")), None);
}

#[test]
fn oversized_documents_become_error_records() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("x.txt");
    std::fs::write(&f, "Alipay. ".repeat(100)).unwrap();
    let out = stancepipe(
        &["run", "--set", "run.max_doc_bytes=100", f.to_str().unwrap()],
        None,
    );
    assert_eq!(out.code, 1);
    let docs = parse_docs(&out.stdout);
    assert!(error_of(&docs[0]).unwrap().contains("max_doc_bytes"));
}

#[test]
fn bad_jsonl_lines_become_error_records() {
    let input = b"{\"id\": \"one\", \"text\": \"Alipay is fine.\"}\n{broken\n{\"id\": \"three\", \"text\": \"WeChat is great.\"}\n";
    let out = stancepipe(&["run", "--format", "jsonl", "-"], Some(input));
    assert_eq!(out.code, 1, "{}", out.stderr);
    let lines: Vec<Value> = out
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["id"], "one");
    assert_eq!(lines[1]["id"], "-:2");
    assert!(error_of(&lines[1]).unwrap().contains("invalid JSON"));
    assert_eq!(error_of(&lines[2]), None);
}

#[test]
fn missing_input_path_stops_before_processing() {
    let out = stancepipe(&["run", "seeds/", "/nonexistent/input.txt"], None);
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(
        out.stderr.contains("/nonexistent/input.txt"),
        "{}",
        out.stderr
    );
    assert!(out.stdout.is_empty(), "nothing half-written to stdout");
}
