//! End-to-end: `stancepipe run --format html` on the seed (the default
//! pipeline and a model-free one), rendered in headless Chromium: the script
//! runs without error, and every company of the run's output shows with its
//! stance, its mentions and its evidence linked to existing sentence
//! anchors; error records are shown; the output file rules of `run` hold.

mod common;
use common::*;
use serde_json::Value;
use std::path::Path;

/// The model-free stages with pipeline.toml's companies, references on.
fn lexicon_config() -> String {
    let companies = std::fs::read_to_string(root().join("pipeline.toml")).unwrap();
    let start = companies.find("\n[[company]]").unwrap();
    let end = companies.find("\n[[stage]]").unwrap();
    let companies = &companies[start..end];
    format!(
        r#"{companies}
[[stage]]
id = "tokenize"
kind = "tokenize"
backend = "rules"
tokenizer = "{}"
references = true

[[stage]]
id = "classify"
kind = "classify"
backend = "lexicon"

[[stage]]
id = "stance"
kind = "stance"
backend = "aggregate"

[[stage]]
id = "summarize"
kind = "summarize"
backend = "extractive"
"#,
        tokenizer_path().display()
    )
}

/// The seed, a document with markup in it, and a file that is not UTF-8
/// (an error record), in one folder.
fn inputs(dir: &Path) -> std::path::PathBuf {
    let inp = dir.join("in");
    std::fs::create_dir_all(&inp).unwrap();
    for entry in std::fs::read_dir(root().join("seeds")).unwrap() {
        let p = entry.unwrap().path();
        if p.extension().is_some_and(|e| e == "txt") {
            std::fs::copy(&p, inp.join(p.file_name().unwrap())).unwrap();
        }
    }
    std::fs::write(
        inp.join("markup.txt"),
        "Alipay <script>document.title='x'</script> had a great, wonderful year & it grew.\n\
         Meituan's \"fees\" </div> are a terrible mess.\n",
    )
    .unwrap();
    std::fs::write(inp.join("zz-bad.txt"), b"Alipay \xff\xfe broke").unwrap();
    inp
}

/// Attribute value as Chromium serializes it back to text.
fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// The section of document `n` in the DOM dump.
fn doc_section(dom: &str, n: usize) -> &str {
    let start = dom
        .find(&format!("id=\"doc-{n}\""))
        .unwrap_or_else(|| panic!("no section doc-{n}"));
    let rest = &dom[start..];
    let end = rest[1..]
        .find("<div class=\"doc\"")
        .map_or(rest.len(), |e| e + 1);
    &rest[..end]
}

/// The stance rows of a section: (company, stance, evidence sentence indices).
fn rows(section: &str) -> Vec<(String, String, Vec<usize>)> {
    let mut out = Vec::new();
    for (i, _) in section.match_indices("<tr class=\"company-row\"") {
        let row = &section[i..i + section[i..].find("</tr>").unwrap()];
        let attr = |name: &str| {
            let a = row.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
            unescape(&row[a..a + row[a..].find('"').unwrap()])
        };
        let evidence = row
            .match_indices("data-sentence=\"")
            .map(|(j, m)| {
                let v = &row[j + m.len()..];
                v[..v.find('"').unwrap()].parse().unwrap()
            })
            .collect();
        out.push((attr("data-company"), attr("data-stance"), evidence));
    }
    out
}

/// Runs the pipeline twice on the same inputs (JSON, HTML), renders the page
/// in Chromium and checks it against the JSON: every document in order (the
/// error record as an error), every company with its stance and evidence,
/// each evidence link pointing at an existing sentence anchor, every
/// mention marked (references apart), the summary and the escaping.
fn check_page(config: &Path, dir: &Path) -> Vec<Value> {
    let inp = inputs(dir);
    let html_path = dir.join("run.html");
    let config = config.to_str().unwrap();
    let json = stancepipe(
        &["run", "--config", config, "-q", inp.to_str().unwrap()],
        None,
    );
    assert_eq!(json.code, 1, "one error record: exit 1; {}", json.stderr);
    let docs = parse_docs(&json.stdout);
    assert_eq!(docs.len(), 3);
    let out = stancepipe(
        &[
            "run",
            "--config",
            config,
            "-q",
            "--format",
            "html",
            "--output",
            html_path.to_str().unwrap(),
            inp.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stdout.is_empty());
    let html = std::fs::read_to_string(&html_path).unwrap();
    for external in ["src=", "url(", "@import", "<link", "http:", "https:"] {
        assert!(!html.contains(external), "self-contained: {external}");
    }
    for (i, _) in html.match_indices("href=") {
        assert!(html[i..].starts_with("href=\"#"), "{}", &html[i..i + 60]);
    }
    assert!(
        !html.contains("<script>document"),
        "the text's markup is escaped"
    );

    let (dom, stderr) = chromium_dom(&html_path);
    assert!(
        dom.contains("<p id=\"js-errors\"></p>"),
        "script errors: {}",
        &dom[dom.find("js-errors").unwrap()..][..300]
    );
    assert!(
        dom.contains("data-rendered=\"ok\""),
        "the page's script ran"
    );
    let console: Vec<&str> = stderr.lines().filter(|l| l.contains(":CONSOLE")).collect();
    assert!(console.is_empty(), "console messages: {console:#?}");
    assert!(
        dom.contains("<title>stancepipe run</title>"),
        "the text's script did not run"
    );
    // The summary: documents, errors, companies.
    let companies: std::collections::BTreeSet<&str> = docs
        .iter()
        .flat_map(|d| d["stance"].as_array().unwrap())
        .map(|s| s["company"].as_str().unwrap())
        .collect();
    assert!(
        dom.contains(&format!(
            "3 documents, 1 error record, {} companies",
            companies.len()
        )),
        "{}",
        &dom[dom.find("run-counts").unwrap()..][..200]
    );
    for (n, doc) in docs.iter().enumerate() {
        let section = doc_section(&dom, n);
        let id = doc["id"].as_str().unwrap();
        assert!(
            section.contains(&format!("data-id=\"{id}\"")),
            "doc {n} is {id}"
        );
        if let Some(e) = doc.get("error") {
            assert!(
                section.contains(&format!(
                    "error record: stage {}: {}",
                    e["stage"].as_str().unwrap(),
                    e["message"].as_str().unwrap()
                )),
                "{section}"
            );
            continue;
        }
        let want: Vec<(String, String, Vec<usize>)> = doc["stance"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                (
                    s["company"].as_str().unwrap().to_string(),
                    s["stance"].as_str().unwrap().to_string(),
                    s["evidence"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|e| e["sentence"].as_u64().unwrap() as usize)
                        .collect(),
                )
            })
            .collect();
        assert!(!want.is_empty());
        assert_eq!(
            rows(section),
            want,
            "doc {id}: companies, stances, evidence"
        );
        for (_, _, evidence) in &want {
            for s in evidence {
                assert!(
                    section.contains(&format!("id=\"doc-{n}-s{s}\"")),
                    "evidence sentence {s} of {id} has its anchor"
                );
            }
        }
        // Every sentence has its anchor; every mention is marked.
        let sentences = doc["sentences"].as_array().unwrap().len();
        assert!(section.contains(&format!("id=\"doc-{n}-s{}\"", sentences - 1)));
        let mentions: Vec<&Value> = doc["entities"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|e| e["mentions"].as_array().unwrap())
            .collect();
        let refs = mentions
            .iter()
            .filter(|m| m["reference"].as_bool() == Some(true))
            .count();
        assert_eq!(section.matches("<mark class=\"m c").count(), mentions.len());
        assert_eq!(section.matches(" ref\" title=").count(), refs, "references");
        if doc["summary"].is_object() {
            assert!(section.contains("<b>Summary ("), "the summary is shown");
        }
    }
    // The markup document: its text shown as text.
    let n = docs
        .iter()
        .position(|d| d["id"].as_str().unwrap().contains("markup"))
        .unwrap();
    let markup = doc_section(&dom, n);
    assert!(
        markup.contains("&lt;script&gt;document.title='x'&lt;/script&gt;"),
        "{markup}"
    );
    assert!(markup.contains("\"fees\" &lt;/div&gt;"), "{markup}");
    docs
}

#[test]
fn seed_page_with_the_default_pipeline_renders_every_company() {
    let dir = tempfile::tempdir().unwrap();
    let docs = check_page(&root().join("pipeline.toml"), dir.path());
    let seed = docs
        .iter()
        .find(|d| d["id"].as_str().unwrap().starts_with("000_"))
        .unwrap();
    let names: Vec<&str> = seed["stance"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["company"].as_str().unwrap())
        .collect();
    assert_eq!(names, SEED_COMPANIES);
    let with_evidence = seed["stance"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| !s["evidence"].as_array().unwrap().is_empty())
        .count();
    assert!(
        with_evidence >= 5,
        "{with_evidence} companies with evidence"
    );
}

#[test]
fn seed_page_with_the_lexicon_pipeline_and_the_output_rules() {
    let dir = tempfile::tempdir().unwrap();
    let (_cdir, config) = write_config(&lexicon_config());
    check_page(&config, dir.path());
    let config = config.to_str().unwrap();
    let page = dir.path().join("run.html");
    let page_s = page.to_str().unwrap();

    // Our own page may be written over; it is one page again.
    let again = stancepipe(
        &[
            "run", "--config", config, "-q", "--output", page_s, "seeds/",
        ],
        None,
    );
    assert_eq!(again.code, 0, ".html picks the format: {}", again.stderr);
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert_eq!(html.matches("<!DOCTYPE html>").count(), 1);
    assert!(
        html.contains("1 document, 0 error records, 7 companies"),
        "{html:.300}"
    );

    // Someone else's page is never overwritten.
    let theirs = dir.path().join("theirs.html");
    std::fs::write(&theirs, "<!DOCTYPE html><html><body>mine</body></html>").unwrap();
    let refused = stancepipe(
        &[
            "run",
            "--config",
            config,
            "--format",
            "html",
            "--output",
            theirs.to_str().unwrap(),
            "seeds/",
        ],
        None,
    );
    assert_eq!(refused.code, 3, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("is not a stancepipe output"),
        "{}",
        refused.stderr
    );
    assert_eq!(
        std::fs::read_to_string(&theirs).unwrap(),
        "<!DOCTYPE html><html><body>mine</body></html>"
    );

    // To stdout without --output; --resume and --omit do not apply.
    let stdout = stancepipe(
        &[
            "run", "--config", config, "-q", "--format", "html", "seeds/",
        ],
        None,
    );
    assert_eq!(stdout.code, 0, "{}", stdout.stderr);
    assert!(stdout.stdout.starts_with("<!DOCTYPE html>"));
    assert!(stdout.stdout.trim_end().ends_with("</html>"));
    for (flag, says) in [
        ("--resume", "--resume cannot continue an HTML page"),
        ("--omit=text", "--omit applies to JSON records"),
    ] {
        let out = stancepipe(
            &[
                "run", "--config", config, flag, "--output", page_s, "seeds/",
            ],
            None,
        );
        assert_eq!(out.code, 2, "{flag}: {}", out.stderr);
        assert!(out.stderr.contains(says), "{flag}: {}", out.stderr);
        assert_eq!(out.stderr.trim().lines().count(), 1, "{}", out.stderr);
    }
}
