//! `stance/target-sentiment` with the committed one-pass head
//! (models/heads/stance, trained by `stancepipe train stance`) over
//! all-MiniLM-L6-v2 (placed in models/ by scripts/bootstrap.sh), and
//! ensembles of marked heads trained here on the spot.

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
                case_insensitive: false,
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
        d.entities.push(Entity::new(c.to_string(), mentions));
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
    assert!(stance[1]
        .evidence_sentences()
        .iter()
        .all(|&i| i == 2 || i == 3));
    assert_eq!(stance[2].mentions, 1);
}

#[test]
fn head_of_the_wrong_task_is_rejected() {
    let cfg: TargetSentimentConfig =
        parse_options("head = \"models/heads/sentence\"".parse().unwrap()).unwrap();
    let e = cfg.build(&ctx(&[])).err().unwrap();
    assert_eq!(e.key, "head");
    assert!(e.message.contains("target-sentiment"), "{}", e.message);
}

/// The committed head reads LoRA adapters: validation requires their file,
/// and names it.
#[test]
fn tuned_head_without_its_layers_is_rejected_at_validation() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let committed = root.join("models/heads/stance");
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(committed.join("manifest.json")).unwrap())
            .unwrap();
    assert!(manifest["tuned_layers"].as_u64().unwrap() > 0);
    let dir = tempfile::tempdir().unwrap();
    for f in ["manifest.json", "head.safetensors"] {
        std::fs::copy(committed.join(f), dir.path().join(f)).unwrap();
    }
    let cfg: TargetSentimentConfig = parse_options(
        format!("head = {:?}", dir.path().display().to_string())
            .parse()
            .unwrap(),
    )
    .unwrap();
    let e = cfg.check(&ctx(&[])).err().unwrap();
    assert_eq!(e.key, "head");
    assert!(
        e.message.contains("encoder-top.safetensors"),
        "{}",
        e.message
    );
}

/// One pass per sentence: every mention of a sentence is read from the same
/// encoder pass, and reading a mention with its neighbours or alone gives
/// the same probabilities (nothing of one mention leaks into another's
/// features but the shared sentence). A second read of the same sentences
/// runs the encoder on nothing new.
#[test]
fn mentions_of_a_sentence_share_one_pass() {
    let companies = ["Acme", "Globex"];
    let c = ctx(&companies);
    let heads = TargetSentimentConfig::default().head;
    let model = TargetModel::load("models/all-MiniLM-L6-v2", &heads, &c).unwrap();
    let sentences = [
        "Acme's profit rose, while Globex warned of weaker demand.",
        "Globex is based in Ohio and Acme in Texas.",
        "Investors punished Acme after the recall.",
    ];
    let both = vec![doc(&sentences, &companies)];
    let before = stancepipe_encoder::states::pass_counts();
    let (mentions, probs) = model.read(&both, 4).unwrap();
    let after = stancepipe_encoder::states::pass_counts();
    assert_eq!(mentions.len(), 5, "Acme three times, Globex twice");
    assert!(
        after.0 - before.0 <= 3,
        "at most one pass per sentence: {before:?} -> {after:?}"
    );
    // Acme alone, then Globex alone: the same probabilities, from the cache.
    for (k, company) in companies.iter().enumerate() {
        let one = vec![doc(&sentences, &[company])];
        let (m, p) = model.read(&one, 4).unwrap();
        let expected: Vec<&Vec<f32>> = mentions
            .iter()
            .zip(&probs)
            .filter(|(r, _)| r.company == companies[k])
            .map(|(_, p)| p)
            .collect();
        assert_eq!(m.len(), expected.len());
        for (a, b) in p.iter().zip(expected) {
            for (x, y) in a.iter().zip(b) {
                assert!((x - y).abs() < 1e-6, "{company}: {a:?} vs {b:?}");
            }
        }
    }
    let last = stancepipe_encoder::states::pass_counts();
    assert!(
        last.1 > after.1,
        "the second reads were served from the cache"
    );
    // The two mentions of the first sentence differ (target-aware).
    assert_ne!(probs[0], probs[3], "Acme and Globex in one sentence");
}

/// A marked target head trained here in a moment on the frozen encoder
/// (random features, so only its shape and labels matter), saved to `dir`.
fn tiny_marked_head(dir: &std::path::Path, labels: [&str; 3], seed: i64) {
    use stancepipe_encoder::{Head, Manifest, TargetFeatures, TrainParams};
    let manifest = Manifest {
        task: "target-sentiment".into(),
        labels: labels.iter().map(|s| s.to_string()).collect(),
        input_dim: 384,
        hidden: 0,
        encoder: "models/all-MiniLM-L6-v2".into(),
        target_features: Some(TargetFeatures::Marked),
        tuned_layers: 0,
        lora_rank: 0,
        one_pass: false,
        context_tokens: 0,
        attend_tokens: 0,
        encoder_top: None,
        training: serde_json::Value::Null,
    };
    let x: Vec<Vec<f32>> = (0..30)
        .map(|i| {
            (0..384)
                .map(|j| (((i * 7 + j * 13 + seed as usize) % 17) as f32) / 17.0 - 0.5)
                .collect()
        })
        .collect();
    let y: Vec<usize> = (0..30).map(|i| i % 3).collect();
    let params = TrainParams {
        epochs: 5,
        seed,
        ..TrainParams::default()
    };
    let (head, _, _) = Head::train(manifest, &x, &y, (&x, &y), params, |_, _| 0.0);
    head.save(dir).unwrap();
}

/// Several marked heads form an ensemble: its class probabilities are the
/// mean of what each head says alone.
#[test]
fn ensemble_probabilities_are_the_mean_of_its_heads() {
    let dirs: Vec<tempfile::TempDir> = (0..2).map(|_| tempfile::tempdir().unwrap()).collect();
    for (i, d) in dirs.iter().enumerate() {
        tiny_marked_head(d.path(), ["positive", "negative", "neutral"], 13 + i as i64);
    }
    let heads: Vec<PathBuf> = dirs.iter().map(|d| d.path().to_path_buf()).collect();
    let companies = ["Acme", "Globex"];
    let docs = vec![doc(
        &["Acme's profit rose, while Globex warned of weaker demand."],
        &companies,
    )];
    let c = ctx(&companies);
    let encoder = "models/all-MiniLM-L6-v2";
    let all = TargetModel::load(encoder, &heads, &c).unwrap();
    let (mentions, mean) = all.read(&docs, 4).unwrap();
    assert_eq!(mentions.len(), 2);
    let alone: Vec<Vec<Vec<f32>>> = heads
        .iter()
        .map(|h| {
            let one = TargetModel::load(encoder, std::slice::from_ref(h), &c).unwrap();
            let (m, p) = one.read(&docs, 4).unwrap();
            assert_eq!(m, mentions);
            p
        })
        .collect();
    for (i, p) in mean.iter().enumerate() {
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-4);
        for (k, &x) in p.iter().enumerate() {
            let avg = alone.iter().map(|a| a[i][k]).sum::<f32>() / alone.len() as f32;
            assert!(
                (x - avg).abs() < 1e-5,
                "mention {i} class {k}: {x} vs {avg}"
            );
        }
    }
}

#[test]
fn ensemble_heads_must_share_their_labels_and_be_marked() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    tiny_marked_head(a.path(), ["positive", "negative", "neutral"], 1);
    tiny_marked_head(b.path(), ["negative", "positive", "neutral"], 2);
    let load = |heads: &[PathBuf]| TargetModel::load("models/all-MiniLM-L6-v2", heads, &ctx(&[]));
    let e = load(&[a.path().into(), b.path().into()])
        .err()
        .expect("mismatched labels must be refused");
    assert_eq!(e.key, "head");
    assert!(e.message.contains("share their labels"), "{}", e.message);
    // The one-pass head reads mentions alone, not in an ensemble.
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let e = load(&[a.path().into(), root.join("models/heads/stance")])
        .err()
        .expect("a one-pass head in an ensemble must be refused");
    assert!(e.message.contains("one-pass"), "{}", e.message);
}
