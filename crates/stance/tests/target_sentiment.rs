//! `stance/target-sentiment` with the committed head (models/heads/target,
//! trained by `stancepipe train target`) over all-MiniLM-L6-v2 (placed in
//! models/ by scripts/bootstrap.sh).

use stancepipe_core::{
    parse_options, BuildContext, Company, Doc, Entity, Mention, SentenceKind, Span, StageConfig,
    StanceLabel,
};
use stancepipe_stance::target::TargetSentimentConfig;
use std::path::PathBuf;

fn ctx(companies: &[&str]) -> BuildContext {
    BuildContext {
        base_dir: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.."),
        companies: companies
            .iter()
            .map(|c| Company {
                name: c.to_string(),
                aliases: vec![],
                case_sensitive: false,
            })
            .collect(),
    }
}

/// A document of `sentences`, with every occurrence of each company marked.
fn doc(sentences: &[&str], companies: &[&str]) -> Doc {
    let parts: Vec<(&str, SentenceKind)> = sentences
        .iter()
        .map(|s| (*s, SentenceKind::Content))
        .collect();
    let mut d = Doc::from_sentences("d", &parts);
    for c in companies {
        let mut mentions = Vec::new();
        for (i, s) in d.sentences.iter().enumerate() {
            let text = &d.text[s.span.start..s.span.end];
            for (at, _) in text.match_indices(c) {
                let start = s.span.start + at;
                mentions.push(Mention {
                    span: Span::new(start, start + c.len()),
                    sentence: i,
                    alias: c.to_string(),
                });
            }
        }
        d.entities.push(Entity {
            company: c.to_string(),
            mentions,
        });
    }
    d
}

#[test]
fn stance_toward_each_company_from_its_mentions() {
    let companies = ["Acme", "Globex", "Initech"];
    let cfg: TargetSentimentConfig = parse_options("min_mentions = 2".parse().unwrap()).unwrap();
    cfg.check(&ctx(&companies))
        .expect("run `bash scripts/bootstrap.sh` to place the MiniLM model");
    let stage = cfg.build(&ctx(&companies)).unwrap();
    assert_eq!(stage.backend(), "target-sentiment");
    let mut docs = vec![doc(
        &[
            "Acme's quarterly profit soared 40% and the company raised its full-year forecast.",
            "Analysts praised Acme for its strong sales growth and record margins.",
            "Globex shares plunged after the company reported a heavy loss and cut 2,000 jobs.",
            "Regulators fined Globex for fraud, and its chief executive resigned in disgrace.",
            "Initech is based in Austin.",
        ],
        &companies,
    )];
    stage.process(&mut docs).unwrap();
    let stance = &docs[0].stance;
    assert_eq!(stance.len(), 3);
    assert_eq!(stance[0].company, "Acme");
    assert_eq!(stance[0].stance, StanceLabel::Favor, "{:?}", stance[0]);
    assert_eq!(stance[1].stance, StanceLabel::Against, "{:?}", stance[1]);
    assert_eq!(
        stance[2].stance,
        StanceLabel::None,
        "one passing mention: {:?}",
        stance[2]
    );
    assert_eq!(stance[0].evidence.len(), 2);
    assert!(stance[1].evidence.iter().all(|&i| i == 2 || i == 3));
    assert_eq!(stance[2].mentions, 1);
}

#[test]
fn head_of_the_wrong_task_is_rejected() {
    let cfg: TargetSentimentConfig =
        parse_options("head = \"models/heads/sentiment\"".parse().unwrap()).unwrap();
    let e = cfg.build(&ctx(&[])).err().unwrap();
    assert_eq!(e.key, "head");
    assert!(e.message.contains("target-sentiment"), "{}", e.message);
}

/// The committed target head was trained with tuned encoder layers (LoRA
/// adapters on all six): validation requires their file, and names it.
#[test]
fn tuned_head_without_its_layers_is_rejected_at_validation() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let committed = root.join("models/heads/target");
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(committed.join("manifest.json")).unwrap())
            .unwrap();
    assert!(manifest["tuned_layers"].as_u64().unwrap() > 0);
    let dir = std::env::temp_dir().join(format!("stancepipe-tuned-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for f in ["manifest.json", "head.safetensors"] {
        std::fs::copy(committed.join(f), dir.join(f)).unwrap();
    }
    let cfg: TargetSentimentConfig = parse_options(
        format!("head = {:?}", dir.display().to_string())
            .parse()
            .unwrap(),
    )
    .unwrap();
    let e = cfg.check(&ctx(&[])).err().unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(e.key, "head");
    assert!(
        e.message.contains("encoder-top.safetensors"),
        "{}",
        e.message
    );
}
