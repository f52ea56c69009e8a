//! Shared fixtures: the seed document, its companies, the MiniLM tokenizer.

#![allow(dead_code)]

use stancepipe_core::{Company, Sentence};
use std::path::PathBuf;

pub const SEED: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../seeds/000_1c9edd206bcbed3f.txt"
));

/// The companies the seed document is about, in config order.
pub fn seed_companies() -> Vec<Company> {
    let c = |name: &str, aliases: &[&str]| Company {
        name: name.into(),
        aliases: aliases.iter().map(|s| s.to_string()).collect(),
        case_sensitive: false,
        case_insensitive: false,
    };
    vec![
        c("Alipay", &[]),
        c("WeChat", &["WeChat", "WeChat Pay"]),
        c("JD Pay", &[]),
        c("Ant Group", &[]),
        c("Alibaba", &[]),
        c("Meituan", &[]),
        c("Vipshop", &[]),
    ]
}

/// Mentions per company in the seed, counted independently with a regex
/// (alias at non-alphanumeric boundaries, case-insensitive, "WeChat Pay"
/// counted once).
pub const SEED_MENTIONS: [(&str, usize); 7] = [
    ("Alipay", 46),
    ("WeChat", 24),
    ("JD Pay", 2),
    ("Ant Group", 1),
    ("Alibaba", 3),
    ("Meituan", 1),
    ("Vipshop", 1),
];

/// `all-MiniLM-L6-v2`'s tokenizer, placed by `scripts/bootstrap.sh`.
pub fn minilm_tokenizer() -> PathBuf {
    let path = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../models/all-MiniLM-L6-v2/tokenizer.json"
    ));
    assert!(
        path.is_file(),
        "{} is missing: run `bash scripts/bootstrap.sh` from the repository root",
        path.display()
    );
    path
}

pub fn sentences(text: &str) -> Vec<Sentence> {
    stancepipe_tokenize::segment(text)
        .into_iter()
        .map(|(span, kind)| Sentence::new(span, kind))
        .collect()
}
