//! The `tokenize` stage through the registry: options, checks, build, run.

mod common;

use common::{minilm_tokenizer, seed_companies, SEED, SEED_MENTIONS};
use stancepipe_core::{
    Annotation, BackendConfig, BuildContext, Doc, Registry, SentenceKind, StageConfig,
};
use stancepipe_tokenize::{register, TokenizeConfig};
use std::path::PathBuf;

fn registry() -> Registry {
    let mut r = Registry::new();
    register(&mut r).unwrap();
    r
}

fn parse(options: &str) -> Result<Box<dyn StageConfig>, stancepipe_core::OptionError> {
    registry()
        .factory("tokenize", None)
        .unwrap()
        .parse(options.parse().unwrap())
}

fn ctx(base_dir: PathBuf) -> BuildContext {
    BuildContext {
        base_dir,
        companies: seed_companies(),
    }
}

#[test]
fn registered_as_default_rules_backend() {
    let r = registry();
    assert_eq!(r.default_backend("tokenize"), Some("rules"));
    let f = r.factory("tokenize", Some("rules")).unwrap();
    assert!(!f.description().is_empty());
    let mut again = r;
    assert!(register(&mut again).is_err());
}

#[test]
fn every_default_key_is_a_listed_option_and_every_option_parses() {
    let defaults = toml::Value::try_from(TokenizeConfig::default()).unwrap();
    let defaults = defaults.as_table().unwrap();
    let listed: Vec<&str> = TokenizeConfig::OPTIONS.iter().map(|(n, _)| *n).collect();
    for key in defaults.keys() {
        assert!(listed.contains(&key.as_str()), "option {key} is not listed");
    }
    for (name, help) in TokenizeConfig::OPTIONS {
        assert!(!help.is_empty() && !help.contains('\n'), "{name}");
        let sample = match *name {
            "tokenizer" => "tokenizer = \"tok.json\"",
            "abbreviations" => "abbreviations = [\"Rep\"]",
            "max_heading_words" => "max_heading_words = 3",
            "references" => "references = false",
            "reference_words" => "reference_words = [\"it\", \"the * giant\"]",
            "discover" => "discover = false",
            "recognizer" => "recognizer = \"models/heads/entities\"",
            "encoder" => "encoder = \"models/all-MiniLM-L6-v2\"",
            "discover_min_mentions" => "discover_min_mentions = 2",
            "read_bytes" => "read_bytes = 1000",
            other => panic!("no sample value for option {other}"),
        };
        parse(sample).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    let docs = registry().factory("tokenize", None).unwrap().options();
    let default_of = |n: &str| docs.iter().find(|d| d.name == n).unwrap().default.clone();
    assert_eq!(default_of("max_heading_words").as_deref(), Some("6"));
    assert_eq!(default_of("abbreviations").as_deref(), Some("[]"));
    assert_eq!(default_of("tokenizer"), None);
    assert_eq!(default_of("references").as_deref(), Some("false"));
    assert_eq!(default_of("discover").as_deref(), Some("false"));
    assert_eq!(default_of("discover_min_mentions").as_deref(), Some("1"));
    assert!(default_of("reference_words")
        .unwrap()
        .starts_with("[\"it\", \"its\""));
}

#[test]
fn unknown_or_mistyped_option_names_the_key() {
    let e = parse("tokeniser = \"tok.json\"").unwrap_err();
    assert_eq!(e.key, "tokeniser");
    assert!(e.message.contains("unknown field"), "{}", e.message);
    let e = parse("max_heading_words = \"six\"").unwrap_err();
    assert_eq!(e.key, "max_heading_words");
}

#[test]
fn missing_tokenizer_fails_check_with_the_resolved_path() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = parse("tokenizer = \"models/none/tokenizer.json\"").unwrap();
    assert_eq!(cfg.model().as_deref(), Some("models/none/tokenizer.json"));
    let e = cfg.check(&ctx(dir.path().to_path_buf())).unwrap_err();
    assert_eq!(e.key, "tokenizer");
    let resolved = dir.path().join("models/none/tokenizer.json");
    assert!(
        e.message.contains(&resolved.display().to_string()),
        "{}",
        e.message
    );
    let e = cfg
        .build(&ctx(dir.path().to_path_buf()))
        .err()
        .expect("build fails too");
    assert_eq!(e.key, "tokenizer");
}

#[test]
fn malformed_tokenizer_fails_build_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("tokenizer.json"), "{\"model\": [1, 2").unwrap();
    let cfg = parse("tokenizer = \"tokenizer.json\"").unwrap();
    cfg.check(&ctx(dir.path().to_path_buf())).unwrap();
    let e = cfg
        .build(&ctx(dir.path().to_path_buf()))
        .err()
        .expect("malformed file");
    assert_eq!(e.key, "tokenizer");
    let path = dir.path().join("tokenizer.json").display().to_string();
    assert!(e.message.contains(&path), "{}", e.message);
    assert!(e.message.len() > path.len() + 25, "{}", e.message);
}

#[test]
fn bad_abbreviation_is_rejected() {
    let cfg = parse("abbreviations = [\"et al\"]").unwrap();
    let e = cfg.check(&ctx(PathBuf::from("."))).unwrap_err();
    assert_eq!(e.key, "abbreviations");
}

#[test]
fn provides_tokens_only_with_a_tokenizer() {
    let plain = parse("").unwrap();
    assert!(plain.requires().is_empty());
    assert_eq!(
        plain.provides(),
        vec![Annotation::Sentences, Annotation::Mentions]
    );
    assert_eq!(plain.model(), None);
    let with = parse("tokenizer = \"t.json\"").unwrap();
    assert!(with.provides().contains(&Annotation::Tokens));
}

#[test]
fn stage_assigns_annotations_and_can_rerun() {
    let tok = minilm_tokenizer();
    let dir = tok.parent().unwrap().parent().unwrap().to_path_buf();
    let cfg = parse("tokenizer = \"all-MiniLM-L6-v2/tokenizer.json\"\nabbreviations = [\"Rep\"]")
        .unwrap();
    let stage = cfg.build(&ctx(dir)).unwrap();
    assert_eq!(stage.backend(), "rules");
    assert_eq!(stage.model(), Some(tok.display().to_string().as_str()));

    let mut docs = vec![
        Doc::new("seed", SEED),
        Doc::new("rep", "Ask Rep. Smith about WeChat Pay. He knows."),
        Doc::new("empty", ""),
    ];
    stage.process(&mut docs).unwrap();
    let first = docs.clone();
    stage.process(&mut docs).unwrap();
    assert_eq!(docs, first, "a rerun must assign, not append");

    let seed = &docs[0];
    assert_eq!(seed.sentences.len(), 66);
    assert_eq!(seed.content_sentences().count(), 61);
    assert!(seed.sentences.iter().all(|s| s.tokens.is_some()));
    assert!(!seed.tokens.is_empty());
    let counts: Vec<(&str, usize)> = seed
        .entities
        .iter()
        .map(|e| {
            let names = e.mentions.iter().filter(|m| !m.reference).count();
            (e.company.as_str(), names)
        })
        .collect();
    assert_eq!(counts, SEED_MENTIONS);

    let rep = &docs[1];
    assert_eq!(rep.sentences.len(), 2, "configured abbreviation is used");
    assert_eq!(rep.entities[1].mentions[0].alias, "WeChat Pay");

    let empty = &docs[2];
    assert!(empty.sentences.is_empty() && empty.tokens.is_empty());
    assert_eq!(empty.entities.len(), 7);
}

#[test]
fn references_option_and_bad_reference_words() {
    let build = |options: &str| {
        parse(options)
            .unwrap()
            .build(&ctx(PathBuf::from(".")))
            .unwrap()
    };
    let text = "Alipay fell. It lost users; the payment giant said so.";
    let refs = |options: &str| {
        let mut docs = vec![Doc::new("a", text)];
        build(options).process(&mut docs).unwrap();
        docs[0].entities[0]
            .mentions
            .iter()
            .filter(|m| m.reference)
            .map(|m| (text[m.span.start..m.span.end].to_string(), m.alias.clone()))
            .collect::<Vec<_>>()
    };
    let on = refs("references = true");
    assert_eq!(
        on,
        vec![
            ("It".to_string(), "it".to_string()),
            ("the payment giant".to_string(), "the * giant".to_string()),
        ]
    );
    assert!(refs("references = false").is_empty());
    assert!(refs("").is_empty(), "off by default");
    assert_eq!(
        refs("references = true\nreference_words = [\"The Payment  Giant\"]"),
        vec![(
            "the payment giant".to_string(),
            "the payment giant".to_string()
        )]
    );
    for bad in ["reference_words = [\"\"]", "reference_words = [\"the *\"]"] {
        let e = parse(bad)
            .unwrap()
            .check(&ctx(PathBuf::from(".")))
            .unwrap_err();
        assert_eq!(e.key, "reference_words", "{bad}");
    }
}

#[test]
fn stage_without_tokenizer_leaves_tokens_empty() {
    let stage = parse("max_heading_words = 0")
        .unwrap()
        .build(&ctx(PathBuf::from(".")))
        .unwrap();
    assert_eq!(stage.model(), None);
    let mut docs = vec![Doc::new("a", "II\nAlipay rose.")];
    docs[0].tokens.push(stancepipe_core::Token {
        span: stancepipe_core::Span::new(0, 1),
        id: 1,
    });
    stage.process(&mut docs).unwrap();
    assert!(docs[0].tokens.is_empty());
    assert!(docs[0].sentences.iter().all(|s| s.tokens.is_none()));
    // max_heading_words = 0: no headings.
    assert!(docs[0]
        .sentences
        .iter()
        .all(|s| s.kind == SentenceKind::Content));
}

#[test]
fn large_document_through_the_stage_scales() {
    let tok = minilm_tokenizer();
    let cfg = TokenizeConfig {
        tokenizer: Some(tok),
        ..TokenizeConfig::default()
    };
    let stage = cfg.build(&ctx(PathBuf::from("."))).unwrap();
    let k = 100;
    let big = vec![SEED; k].join("\n\n");
    let mut docs = vec![Doc::new("seed", SEED), Doc::new("big", big)];
    stage.process(&mut docs).unwrap();
    assert_eq!(docs[1].sentences.len(), k * docs[0].sentences.len());
    assert_eq!(docs[1].tokens.len(), k * docs[0].tokens.len());
    for (e, seed) in docs[1].entities.iter().zip(&docs[0].entities) {
        assert_eq!(e.mentions.len(), k * seed.mentions.len());
    }
}
