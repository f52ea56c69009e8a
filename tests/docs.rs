//! The documentation against the program: the option reference of
//! docs/configuration.md is what `stancepipe stages --format markdown`
//! prints, and the documented TOML examples validate.
//!
//! To regenerate the reference after changing a backend's options or help:
//! `UPDATE_DOCS=1 cargo test -p stancepipe-cli --test docs` (or `make docs`).

mod common;
use common::*;

const BEGIN: &str = "<!-- BEGIN generated: stancepipe stages --format markdown -->";
const END: &str = "<!-- END generated -->";

#[test]
fn option_reference_is_generated_from_the_registry() {
    let out = stancepipe(&["stages", "--format", "markdown"], None);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let generated = out.stdout;
    // Every backend and option the registry lists is in it.
    let list = stancepipe(&["stages", "--format", "json"], None);
    let list: Vec<serde_json::Value> = serde_json::from_str(&list.stdout).unwrap();
    assert!(list.len() >= 9, "{} backends", list.len());
    for b in &list {
        let heading = format!("### `{}` / `{}`", b["kind"], b["backend"]).replace('"', "");
        assert!(generated.contains(&heading), "{heading}:\n{generated}");
        for o in b["options"].as_array().unwrap() {
            let row = format!("| `{}` |", o["name"].as_str().unwrap());
            assert!(generated.contains(&row), "{heading} {row}");
        }
    }

    let path = root().join("docs/configuration.md");
    let doc = std::fs::read_to_string(&path).unwrap();
    let start = doc
        .find(BEGIN)
        .unwrap_or_else(|| panic!("docs/configuration.md has no {BEGIN:?} marker"))
        + BEGIN.len();
    let end = start
        + doc[start..]
            .find(END)
            .unwrap_or_else(|| panic!("docs/configuration.md has no {END:?} marker"));
    let expected = format!("\n{generated}");
    if doc[start..end] == expected {
        return;
    }
    if std::env::var_os("UPDATE_DOCS").is_some_and(|v| v == "1") {
        let updated = format!("{}{expected}{}", &doc[..start], &doc[end..]);
        std::fs::write(&path, updated).unwrap();
        return;
    }
    panic!(
        "docs/configuration.md: the option reference between the generated markers is not \
         what `stancepipe stages --format markdown` prints; regenerate it with \
         `UPDATE_DOCS=1 cargo test -p stancepipe-cli --test docs` (or `make docs`)"
    );
}

/// The ```toml blocks of a markdown file.
fn toml_blocks(markdown: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in markdown.lines() {
        match (&mut current, line.trim_start()) {
            (None, l) if l.starts_with("```toml") => current = Some(String::new()),
            (Some(_), l) if l.starts_with("```") => blocks.extend(current.take()),
            (Some(block), _) => {
                block.push_str(line);
                block.push('\n');
            }
            (None, _) => {}
        }
    }
    blocks
}

/// Validates `text` as a pipeline file in a fresh folder, with a one-company
/// `companies.toml` beside it for a `companies_file` to find.
fn validates(text: &str) -> Output {
    let (dir, path) = write_config(text);
    std::fs::write(
        dir.path().join("companies.toml"),
        "[[company]]\nname = \"Tencent\"\n",
    )
    .unwrap();
    stancepipe(&["validate", "--config", path.to_str().unwrap()], None)
}

#[test]
fn every_toml_example_of_the_docs_validates() {
    let mut examples = 0;
    for file in ["README.md", "docs/configuration.md"] {
        let text = std::fs::read_to_string(root().join(file)).unwrap();
        for (i, block) in toml_blocks(&text).iter().enumerate() {
            examples += 1;
            let out = validates(block);
            assert_eq!(
                out.code,
                0,
                "{file}, TOML example {}: {}\n{block}",
                i + 1,
                out.stderr
            );
            if block.contains("companies_file") {
                assert!(
                    out.stdout.contains("2 companies"),
                    "inline and file companies: {}",
                    out.stdout
                );
            }
        }
    }
    assert!(examples >= 1, "docs/configuration.md has its example");
}

/// pipeline.toml shows `companies_file` in a comment: uncommented where it
/// is, it must work.
#[test]
fn the_companies_file_line_of_pipeline_toml_works_uncommented() {
    let text = std::fs::read_to_string(root().join("pipeline.toml")).unwrap();
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("# companies_file ="))
        .expect("pipeline.toml shows companies_file in a comment line of its own");
    let uncommented = text.replace(line, line.trim_start().trim_start_matches("# "));
    // The copy lives elsewhere: its model paths point back here.
    let models = root().join("models");
    let uncommented = uncommented.replace("\"models/", &format!("\"{}/", models.display()));
    let out = validates(&uncommented);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("8 companies"), "{}", out.stdout);
}
