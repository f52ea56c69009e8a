//! `train_target` end to end on a tiny labeled set written in the real
//! formats (FinEntity JSON, NewsMTSC JSONL): each requested feature kind is
//! trained, the best on dev is kept, and the head directory it leaves loads
//! in the stance stage's loader. Needs all-MiniLM-L6-v2 in models/ (the
//! bootstrap puts it there).

use stancepipe_core::{BuildContext, ModelRepo, ModelSource};
use stancepipe_encoder::tuned::TOP_FILE;
use stancepipe_encoder::{
    stage, Adapt, Embed, SentenceEncoder, TargetFeatures, TrainParams, TuneParams,
};
use stancepipe_train::{train_target, DataDir, Encoder, Fit, TargetSetup, TargetSource};
use std::path::{Path, PathBuf};
use std::sync::Arc;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

const SENTENCES: [(&str, &str); 6] = [
    ("{} shares jumped after record profits.", "Positive"),
    ("{} beat expectations and raised its outlook.", "Positive"),
    ("{} shares plunged after a profit warning.", "Negative"),
    ("{} cut jobs as losses widened.", "Negative"),
    ("{} will report results on Tuesday.", "Neutral"),
    ("{} is based in Ohio.", "Neutral"),
];
const NAMES: [&str; 5] = ["Acme", "Globex", "Initech", "Umbrella", "Hooli"];

/// `n` examples cycling through sentences and names, as (text, start, end, label).
fn examples(n: usize) -> Vec<(String, usize, usize, &'static str)> {
    (0..n)
        .map(|i| {
            let (t, label) = SENTENCES[i % SENTENCES.len()];
            let name = NAMES[i % NAMES.len()];
            (t.replace("{}", name), 0, name.len(), label)
        })
        .collect()
}

fn write_data(dir: &Path) {
    std::fs::create_dir_all(dir.join("finentity")).unwrap();
    std::fs::create_dir_all(dir.join("newsmtsc")).unwrap();
    let fe: Vec<serde_json::Value> = examples(40)
        .into_iter()
        .map(|(text, s, e, label)| {
            serde_json::json!({"content": text, "annotations": [
                {"start": s, "end": e, "value": &text[s..e], "tag": label, "label": label}]})
        })
        .collect();
    std::fs::write(
        dir.join("finentity/FinEntity.json"),
        serde_json::to_string(&fe).unwrap(),
    )
    .unwrap();
    let code = |l: &str| match l {
        "Negative" => 2.0,
        "Neutral" => 4.0,
        _ => 6.0,
    };
    let jsonl = |n: usize| -> String {
        examples(n)
            .into_iter()
            .map(|(text, s, e, label)| {
                serde_json::json!({"sentence_normalized": text, "targets": [
                    {"from": s, "to": e, "mention": &text[s..e], "polarity": code(label)}]})
                .to_string()
                    + "\n"
            })
            .collect()
    };
    for (f, n) in [
        ("train.jsonl", 40),
        ("devtest_mt.jsonl", 6),
        ("devtest_rw.jsonl", 6),
    ] {
        std::fs::write(dir.join("newsmtsc").join(f), jsonl(n)).unwrap();
    }
}

#[test]
fn keeps_the_best_feature_kind_and_leaves_a_loadable_head() {
    let model = root().join("models/all-MiniLM-L6-v2");
    assert!(
        model.join("model.safetensors").exists(),
        "{} is missing: run `bash scripts/bootstrap.sh` (make test does)",
        model.display()
    );
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    write_data(&data);
    let repo = ModelRepo::open(ModelSource::Local(model.clone())).unwrap();
    let base = Arc::new(SentenceEncoder::load(&repo, tch::Device::Cpu).unwrap());
    let enc = Encoder {
        base: base.clone(),
        repo: &repo,
    };
    let ctx = BuildContext {
        base_dir: root(),
        companies: Vec::new(),
    };
    let model_id = model.to_string_lossy().to_string();

    // Frozen encoder, two feature kinds: both scored, the better kept.
    let out = tmp.path().join("frozen");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join(TOP_FILE), b"stale").unwrap();
    let fit = Fit::Frozen(TrainParams {
        epochs: 30,
        ..Default::default()
    });
    let kinds = [TargetFeatures::Marked, TargetFeatures::MarkedSpan];
    let m = train_target(
        &enc,
        &DataDir(data.clone()),
        &out,
        fit,
        &TargetSetup {
            candidates: &kinds,
            contrast_pairs: 0,
            sources: &TargetSource::ALL,
        },
        "test",
        &|_, _, _| {},
    )
    .unwrap();
    // Both sources: 32 + 32 training and 4 + 4 dev examples (index % 10),
    // and every test set's source was trained on.
    let sizes = &m.training["data"]["sizes"];
    assert_eq!(
        (sizes["train"].as_u64(), sizes["dev"].as_u64()),
        (Some(64), Some(8))
    );
    let tests = m.training["test"].as_array().unwrap();
    assert_eq!(tests.len(), 3);
    assert!(
        tests.iter().all(|t| t["source_trained_on"] == true),
        "{tests:?}"
    );
    let scores = &m.training["target_features_dev_macro_f1"];
    let (marked, span) = (
        scores["marked"].as_f64().unwrap(),
        scores["marked-span"].as_f64().unwrap(),
    );
    let chosen = m.target_features.unwrap();
    assert_eq!(
        chosen == TargetFeatures::MarkedSpan,
        span > marked,
        "{scores}"
    );
    assert!(
        !out.join(TOP_FILE).exists(),
        "a frozen head drops stale tuned layers"
    );
    assert!(
        !out.join("candidates").exists(),
        "the candidates' folders are removed"
    );
    let (encoder, head) = stage::load(&model_id, &out, "target-sentiment", &ctx).unwrap();
    assert_eq!(
        head.manifest.input_dim,
        encoder.dim() * chosen.texts_per_example()
    );

    // LoRA on all six layers with span pooling: only the adapters are saved.
    let out = tmp.path().join("lora");
    let fit = Fit::Tuned(TuneParams {
        layers: 6,
        adapt: Adapt::Lora(2),
        epochs: 1,
        batch: 8,
        ..Default::default()
    });
    let m = train_target(
        &enc,
        &DataDir(data),
        &out,
        fit,
        &TargetSetup {
            candidates: &[TargetFeatures::MarkedSpan],
            contrast_pairs: 4,
            sources: &[TargetSource::FinEntity],
        },
        "test",
        &|_, _, _| {},
    )
    .unwrap();
    assert_eq!((m.tuned_layers, m.lora_rank), (6, 2));
    // The contrast pairs are recorded apart from the real examples.
    let data_rec = &m.training["data"];
    assert_eq!(data_rec["contrast_pairs"], 4);
    assert_eq!(data_rec["sizes"]["train_contrast"], 8);
    // FinEntity alone: its train and dev parts only; NewsMTSC's test sets
    // are still scored, marked as a source not trained on.
    assert_eq!(data_rec["sources"], serde_json::json!(["finentity"]));
    assert_eq!(
        (
            data_rec["sizes"]["train"].as_u64(),
            data_rec["sizes"]["dev"].as_u64()
        ),
        (Some(32), Some(4))
    );
    let seen: Vec<(String, bool)> = m.training["test"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["set"].as_str().unwrap().to_string(),
                t["source_trained_on"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("finentity-test".to_string(), true),
            ("newsmtsc-devtest_mt".to_string(), false),
            ("newsmtsc-devtest_rw".to_string(), false)
        ]
    );
    assert!(m.training["dev_contrastive"]["n"].as_u64().is_some());
    assert_eq!(m.input_dim, 2 * base.dim());
    let saved = tch::Tensor::read_safetensors(out.join(TOP_FILE)).unwrap();
    assert_eq!(saved.len(), 6 * 6 * 2);
    assert!(saved.iter().all(|(n, _)| n.contains("lora_")));
    assert!(!out.join("candidates").exists());
    let (encoder, head) = stage::load(&model_id, &out, "target-sentiment", &ctx).unwrap();
    assert!(encoder.id().contains("rank-2 adapters"), "{}", encoder.id());
    let x = encoder.embed(&["<< Acme >> shares jumped."]).unwrap();
    let p = head.predict(&x);
    assert!((p[0].iter().sum::<f32>() - 1.0).abs() < 1e-4);
}

#[test]
fn refuses_to_train_on_no_source() {
    let model = root().join("models/all-MiniLM-L6-v2");
    let repo = ModelRepo::open(ModelSource::Local(model)).unwrap();
    let base = Arc::new(SentenceEncoder::load(&repo, tch::Device::Cpu).unwrap());
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    write_data(&data);
    let out = tmp.path().join("head");
    let err = train_target(
        &Encoder { base, repo: &repo },
        &DataDir(data),
        &out,
        Fit::Frozen(TrainParams::default()),
        &TargetSetup {
            candidates: &[TargetFeatures::Marked],
            contrast_pairs: 0,
            sources: &[],
        },
        "test",
        &|_, _, _| {},
    )
    .unwrap_err();
    assert!(err.contains("no sources"), "{err}");
    assert!(!out.exists(), "nothing is written");
}
