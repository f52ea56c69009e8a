//! `stance/target-sentiment` with the committed head (models/heads/target,
//! trained by `stancepipe train target`) over all-MiniLM-L6-v2 (placed in
//! models/ by scripts/bootstrap.sh).

use stancepipe_core::{
    parse_options, BuildContext, Company, Doc, Entity, Mention, SentenceKind, Span, StageConfig,
    StanceLabel,
};
use stancepipe_stance::target::{TargetModel, TargetSentimentConfig};
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
                    reference: false,
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
    assert!(stance[1].evidence_sentences().iter().all(|&i| i == 2 || i == 3));
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

/// The default heads form an ensemble: its class probabilities are the mean
/// of what each head says alone, and the heads do differ.
#[test]
fn ensemble_probabilities_are_the_mean_of_its_heads() {
    let heads = TargetSentimentConfig::default().head;
    assert!(heads.len() > 1, "the default is an ensemble: {heads:?}");
    let companies = ["Acme", "Globex"];
    let docs = vec![doc(
        &[
            "Acme's profit rose, while Globex warned of weaker demand.",
            "Globex is based in Ohio and Acme in Texas.",
            "Investors punished Acme after the recall.",
        ],
        &companies,
    )];
    let c = ctx(&companies);
    let encoder = "models/all-MiniLM-L6-v2";
    let all = TargetModel::load(encoder, &heads, &c).unwrap();
    let (mentions, mean) = all.read(&docs, 4).unwrap();
    assert_eq!(mentions.len(), 5, "Acme three times, Globex twice");
    assert_eq!(all.labels().len(), 3);
    let alone: Vec<Vec<Vec<f32>>> = heads
        .iter()
        .map(|h| {
            let one = TargetModel::load(encoder, std::slice::from_ref(h), &c).unwrap();
            let (m, p) = one.read(&docs, 4).unwrap();
            assert_eq!(m, mentions);
            p
        })
        .collect();
    let mut spread = 0.0f32;
    for (i, p) in mean.iter().enumerate() {
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-4);
        for (k, &x) in p.iter().enumerate() {
            let each: Vec<f32> = alone.iter().map(|a| a[i][k]).collect();
            let avg = each.iter().sum::<f32>() / each.len() as f32;
            assert!(
                (x - avg).abs() < 1e-5,
                "mention {i} class {k}: {x} vs {avg}"
            );
            let (lo, hi) = each
                .iter()
                .fold((1.0f32, 0.0f32), |(l, h), &v| (l.min(v), h.max(v)));
            spread = spread.max(hi - lo);
        }
    }
    assert!(spread > 1e-3, "the heads should not all agree exactly");
}

#[test]
fn ensemble_heads_must_share_their_labels() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let committed = root.join("models/heads/target");
    let dir = std::env::temp_dir().join(format!("stancepipe-labels-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for f in ["head.safetensors", "encoder-top.safetensors"] {
        std::fs::copy(committed.join(f), dir.join(f)).unwrap();
    }
    let mut manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(committed.join("manifest.json")).unwrap())
            .unwrap();
    manifest["labels"].as_array_mut().unwrap().swap(0, 1);
    std::fs::write(dir.join("manifest.json"), manifest.to_string()).unwrap();
    let result = TargetModel::load(
        "models/all-MiniLM-L6-v2",
        &[committed, dir.clone()],
        &ctx(&[]),
    );
    std::fs::remove_dir_all(&dir).unwrap();
    let e = result.err().expect("mismatched labels must be refused");
    assert_eq!(e.key, "head");
    assert!(e.message.contains("share their labels"), "{}", e.message);
}
