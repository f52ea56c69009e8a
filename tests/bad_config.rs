//! One test per kind of bad pipeline configuration: `validate` (and `run`)
//! must reject it with exit code 2 and a message naming the file, the stage
//! and the key, before any document is processed.

mod common;
use common::*;

/// Validates `body` and returns stderr, asserting the failure and that the
/// message names the file, and the stage and key when given.
fn rejected(body: &str, stage: Option<&str>, key: Option<&str>) -> String {
    let (_dir, path) = write_config(body);
    let p = path.to_str().unwrap();
    let out = stancepipe(&["validate", "--config", p], None);
    assert_eq!(out.code, 2, "stderr: {}", out.stderr);
    let err = out.stderr;
    assert!(err.starts_with("stancepipe: error: "), "{err}");
    assert!(err.contains(p), "names the file: {err}");
    if let Some(s) = stage {
        assert!(
            err.contains(&format!("stage \"{s}\"")),
            "names stage {s}: {err}"
        );
    }
    if let Some(k) = key {
        assert!(
            err.contains(&format!("key \"{k}\"")),
            "names key {k}: {err}"
        );
    }
    assert!(
        !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "one clear line: {err}");
    err
}

#[test]
fn valid_default_pipeline_passes() {
    let out = stancepipe(&["validate", "--config", "pipeline.toml"], None);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains("valid: 4 stage(s), 7 companies"),
        "{}",
        out.stdout
    );
}

#[test]
fn unknown_kind() {
    let body = pipeline_with(&default_stages().replace("kind = \"stance\"", "kind = \"stanse\""));
    let err = rejected(&body, Some("stance"), Some("kind"));
    assert!(err.contains("unknown stage kind \"stanse\""), "{err}");
}

#[test]
fn unknown_backend() {
    let body = pipeline_with(&format!("{}backend = \"gpt\"\n", default_stages()));
    let err = rejected(&body, Some("summarize"), Some("backend"));
    assert!(
        err.contains("extractive") && err.contains("lead"),
        "lists known backends: {err}"
    );
}

#[test]
fn unknown_option() {
    let body = pipeline_with(&format!("{}max_sentencs = 2\n", default_stages()));
    let err = rejected(&body, Some("summarize"), Some("max_sentencs"));
    assert!(err.contains("unknown field"), "{err}");
}

#[test]
fn mistyped_option() {
    let body = pipeline_with(&format!("{}max_sentences = \"three\"\n", default_stages()));
    let err = rejected(&body, Some("summarize"), Some("max_sentences"));
    assert!(err.contains("invalid type"), "{err}");
}

#[test]
fn requirement_not_provided() {
    // stance needs sentence labels, and no classify stage comes before it.
    let stages =
        default_stages().replace("[[stage]]\nid = \"classify\"\nkind = \"classify\"\n", "");
    let err = rejected(&pipeline_with(&stages), Some("stance"), Some("kind"));
    assert!(err.contains("requires sentence_labels"), "{err}");
}

#[test]
fn missing_model_path() {
    let body = pipeline_with(&default_stages().replace(
        tokenizer_path().to_str().unwrap(),
        "/nonexistent/tokenizer.json",
    ));
    let err = rejected(&body, Some("tokenize"), Some("tokenizer"));
    assert!(err.contains("/nonexistent/tokenizer.json"), "{err}");
}

#[test]
fn relative_model_path_resolves_against_the_config_file() {
    // The same relative path as the default pipeline, but from a temp dir.
    let body = pipeline_with(&default_stages().replace(
        tokenizer_path().to_str().unwrap(),
        "models/all-MiniLM-L6-v2/tokenizer.json",
    ));
    let err = rejected(&body, Some("tokenize"), Some("tokenizer"));
    assert!(
        err.contains("models/all-MiniLM-L6-v2/tokenizer.json"),
        "{err}"
    );
}

#[test]
fn duplicate_stage_id() {
    let body = pipeline_with(&format!(
        "{}\n[[stage]]\nid = \"stance\"\nkind = \"stance\"\n",
        default_stages()
    ));
    rejected(&body, Some("stance"), Some("id"));
}

#[test]
fn missing_id_names_the_stage_position() {
    let body = pipeline_with("[[stage]]\nkind = \"tokenize\"\n");
    rejected(&body, Some("#1"), Some("id"));
}

#[test]
fn unknown_top_level_key() {
    let body = format!("compnay = []\n{}", pipeline_with(&default_stages()));
    rejected(&body, None, Some("compnay"));
}

#[test]
fn bad_run_option() {
    let body = format!(
        "[run]\nbatch_size = 0\n{}",
        pipeline_with(&default_stages())
    );
    rejected(&body, None, Some("run.batch_size"));
}

#[test]
fn invalid_toml_syntax() {
    let err = rejected("[[stage]\nid = 1", None, None);
    assert!(err.contains("invalid TOML"), "{err}");
}

#[test]
fn empty_pipeline() {
    rejected(&pipeline_with(""), None, Some("stage"));
}

#[test]
fn missing_config_file() {
    let out = stancepipe(
        &["validate", "--config", "/nonexistent/pipeline.toml"],
        None,
    );
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("/nonexistent/pipeline.toml"),
        "{}",
        out.stderr
    );
}

#[test]
fn set_override_errors_name_the_override() {
    let out = stancepipe(&["validate", "--set", "nosuchstage.x=1"], None);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("--set nosuchstage.x") && out.stderr.contains("no stage has id"),
        "{}",
        out.stderr
    );
    let out = stancepipe(&["validate", "--set", "summarize.max_sentences=many"], None);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("stage \"summarize\"") && out.stderr.contains("key \"max_sentences\""),
        "{}",
        out.stderr
    );
    let out = stancepipe(&["validate", "--set", "novalue"], None);
    assert_eq!(out.code, 2, "clap rejects a malformed --set");
}

#[test]
fn run_also_validates_before_processing() {
    let dir = tempfile::tempdir().unwrap();
    let out_path = dir.path().join("out.json");
    let out = stancepipe(
        &[
            "run",
            "--set",
            "stance.threshold=\"x\"",
            "--output",
            out_path.to_str().unwrap(),
            "seeds/",
        ],
        None,
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        !out_path.exists(),
        "no output is created for an invalid pipeline"
    );
}

#[test]
fn summarizer_model_that_does_not_exist() {
    let out = stancepipe(
        &[
            "validate",
            "--set",
            "summarize.model=/nonexistent/distilbart",
        ],
        None,
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    let err = out.stderr;
    // The path came from the command line: the error blames the --set.
    assert!(
        err.starts_with(
            "stancepipe: error: --set summarize.model: stage \"summarize\": key \"model\""
        ),
        "{err}"
    );
    assert!(err.contains("/nonexistent/distilbart"), "{err}");
}

#[test]
fn summarizer_model_without_config_json() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().display().to_string();
    let out = stancepipe(
        &["validate", "--set", &format!("summarize.model={model}")],
        None,
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains(&model) && out.stderr.contains("config.json"),
        "{}",
        out.stderr
    );
}

#[test]
fn summarizer_without_fallback_fails_at_build_with_the_id() {
    let out = stancepipe(&["run", "--set", "summarize.fallback=none", "seeds/"], None);
    assert_eq!(out.code, 2, "{}", out.stderr);
    let err = out.stderr;
    assert!(
        err.contains("stage \"summarize\"") && err.contains("key \"model\""),
        "{err}"
    );
    assert!(
        err.contains("sshleifer/distilbart-cnn-6-6")
            && err.contains("not in the Hugging Face cache")
            && err.contains("README.md, \"Models\""),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(out.stdout.is_empty(), "nothing processed");
}

#[test]
fn the_offline_fallback_is_said_once_in_one_short_line() {
    let out = stancepipe(
        &["run", "--set", "summarize.backend=rust-bert", "seeds/"],
        None,
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let said: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.contains("not in the Hugging Face cache"))
        .collect();
    assert_eq!(said.len(), 1, "{}", out.stderr);
    assert!(
        said[0].len() < 300,
        "{} characters: {}",
        said[0].len(),
        said[0]
    );
}

#[test]
fn companies_from_a_referenced_file() {
    let (dir, path) = write_config(&format!(
        "companies_file = \"companies.toml\"\n\n{}",
        pipeline_with(&default_stages())
    ));
    std::fs::write(
        dir.path().join("companies.toml"),
        "[[company]]\nname = \"Ant Group\"\n\n[[company]]\nname = \"JD Pay\"\naliases = [\"JD Pay\", \"JDPay\"]\n",
    )
    .unwrap();
    let out = stancepipe(&["validate", "--config", path.to_str().unwrap()], None);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains("4 companies"),
        "inline and file companies: {}",
        out.stdout
    );

    std::fs::remove_file(dir.path().join("companies.toml")).unwrap();
    let out = stancepipe(&["validate", "--config", path.to_str().unwrap()], None);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert_eq!(
        out.stderr.trim_end(),
        format!(
            "stancepipe: error: {}: key \"companies_file\": companies.toml not found \
             (resolved against {}, the config file's folder)",
            path.display(),
            dir.path().display()
        )
    );
}

#[test]
fn duplicate_company_in_the_file() {
    let body = format!(
        "{}\n[[company]]\nname = \"Alipay\"\n",
        pipeline_with(&default_stages())
    );
    let err = rejected(&body, None, Some("company[2].name"));
    assert!(err.contains("listed twice"), "{err}");
}

#[test]
fn companies_file_under_run_says_where_it_belongs() {
    // The mistake the docs' example used to make: after `[run]`, the key
    // belongs to the run table.
    let body = format!(
        "[run]\nbatch_size = 8\ncompanies_file = \"companies.toml\"\n\n{}",
        pipeline_with(&default_stages())
    );
    let err = rejected(&body, None, Some("run.companies_file"));
    assert!(
        err.contains("top-level key") && err.contains("above [run]"),
        "{err}"
    );
}

/// A copy of pipeline.toml in another folder: its relative paths resolve
/// against the copy's folder, and the error says which folder that was.
#[test]
fn copied_pipeline_names_the_folder_of_its_relative_paths() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().display().to_string();
    let copy = dir.path().join("copy.toml");
    let original = std::fs::read_to_string(root().join("pipeline.toml")).unwrap();
    let validate = |text: &str| {
        std::fs::write(&copy, text).unwrap();
        let out = stancepipe(&["validate", "--config", copy.to_str().unwrap()], None);
        assert_eq!(out.code, 2, "{}", out.stderr);
        assert_eq!(out.stderr.lines().count(), 1, "one line: {}", out.stderr);
        out.stderr
    };
    let err = validate(&original);
    let expected = format!(
        "stancepipe: error: {}: stage \"tokenize\": key \"tokenizer\": \
         models/all-MiniLM-L6-v2/tokenizer.json not found \
         (resolved against {folder}, the config file's folder)",
        copy.display()
    );
    assert_eq!(err.trim_end(), expected);

    // With the tokenizer found, the next relative path: the classify head.
    let tokenizer = tokenizer_path().display().to_string();
    let err = validate(&original.replace(
        "\"models/all-MiniLM-L6-v2/tokenizer.json\"",
        &format!("{tokenizer:?}"),
    ));
    let expected = format!(
        "stancepipe: error: {}: stage \"classify\": key \"head\": models/heads/sentence \
         not found (resolved against {folder}, the config file's folder)",
        copy.display()
    );
    assert_eq!(err.trim_end(), expected);
}

/// An error in a value given with `--set` is blamed on `--set`, with the
/// key, not on the config file.
#[test]
fn set_errors_are_blamed_on_the_command_line() {
    let cases = [
        (
            "summarize.max_sentencs=2",
            "--set summarize.max_sentencs: stage \"summarize\": key \"max_sentencs\": unknown field",
        ),
        (
            "summarize.num_beams=many",
            "--set summarize.num_beams: stage \"summarize\": key \"num_beams\": invalid type",
        ),
        (
            "summarize.num_beams=0",
            "--set summarize.num_beams: stage \"summarize\": key \"num_beams\": must be at least 1",
        ),
        (
            "stance.backend=gpt",
            "--set stance.backend: stage \"stance\": key \"backend\": unknown backend \"gpt\"",
        ),
        (
            "run.batch_sise=3",
            "--set run.batch_sise: key \"run.batch_sise\": unknown field",
        ),
        (
            "run.batch_size=0",
            "--set run.batch_size: key \"run.batch_size\": must be at least 1",
        ),
    ];
    for (set, expected) in cases {
        let out = stancepipe(&["validate", "--set", set], None);
        assert_eq!(out.code, 2, "{set}: {}", out.stderr);
        assert!(
            out.stderr
                .starts_with(&format!("stancepipe: error: {expected}")),
            "{set}: {}",
            out.stderr
        );
        assert!(!out.stderr.contains("pipeline.toml"), "{}", out.stderr);
    }
    // A mistake of the file is still the file's, whatever --set gives.
    let (_dir, path) = write_config(&pipeline_with(&format!(
        "{}max_sentencs = 2\n",
        default_stages()
    )));
    let p = path.to_str().unwrap();
    let out = stancepipe(
        &["validate", "--config", p, "--set", "summarize.min_words=3"],
        None,
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.starts_with(&format!(
            "stancepipe: error: {p}: stage \"summarize\": key \"max_sentencs\""
        )),
        "{}",
        out.stderr
    );
}
