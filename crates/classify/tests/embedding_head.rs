//! `classify/embedding-head` with the committed head (models/heads/sentence,
//! trained by `stancepipe train stance`) over all-MiniLM-L6-v2 (placed in
//! models/ by scripts/bootstrap.sh), configured as a pipeline would.

use stancepipe_classify::embedding::EmbeddingHeadConfig;
use stancepipe_core::{labels, parse_options, BuildContext, Doc, SentenceKind, StageConfig};
use std::path::PathBuf;

fn ctx() -> BuildContext {
    BuildContext {
        base_dir: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.."),
        companies: vec![],
    }
}

#[test]
fn labels_financial_sentences() {
    let cfg: EmbeddingHeadConfig = parse_options(toml::Table::new()).unwrap();
    cfg.check(&ctx())
        .expect("run `bash scripts/bootstrap.sh` to place the MiniLM model");
    let stage = cfg.build(&ctx()).unwrap();
    assert_eq!(stage.backend(), "embedding-head");
    let mut docs = vec![Doc::from_sentences(
        "d",
        &[
            ("Results", SentenceKind::Heading),
            ("Operating profit rose to EUR 13.1 mn from EUR 8.7 mn in the corresponding period in 2007.", SentenceKind::Content),
            ("The company reported a net loss and cut 300 jobs as sales fell sharply.", SentenceKind::Content),
            ("The annual general meeting will be held in Helsinki on 20 April.", SentenceKind::Content),
        ],
    )];
    stage.process(&mut docs).unwrap();
    let s = &docs[0].sentences;
    assert!(s[0].label.is_none(), "headings are not labeled");
    let label = |i: usize| s[i].label.as_ref().unwrap();
    assert_eq!(label(1).label, labels::POSITIVE, "{:?}", label(1));
    assert_eq!(label(2).label, labels::NEGATIVE, "{:?}", label(2));
    assert_eq!(label(3).label, labels::NEUTRAL, "{:?}", label(3));
    for i in 1..4 {
        let l = label(i);
        let sum: f32 = l.scores.values().sum();
        assert!((sum - 1.0).abs() < 1e-4);
        assert_eq!(l.score, l.scores[&l.label]);
    }
}

#[test]
fn missing_head_is_named_at_validation() {
    let cfg: EmbeddingHeadConfig =
        parse_options("head = \"models/heads/nope\"".parse().unwrap()).unwrap();
    let e = cfg.check(&ctx()).unwrap_err();
    assert_eq!(e.key, "head");
    assert!(
        e.message.contains("models/heads/nope/manifest.json"),
        "{}",
        e.message
    );
}
