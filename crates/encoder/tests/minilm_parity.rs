//! all-MiniLM-L6-v2 through rust-bert against sentence-transformers 3.0.1
//! (tests/fixtures/minilm/embeddings.json, made by
//! scripts/fixtures/make_minilm_fixture.py): cosine >= 0.9999 per sentence.
//! The model comes from models/ (scripts/bootstrap.sh puts it there).

use stancepipe_core::{ModelRepo, ModelSource};
use stancepipe_encoder::{Embed, SentenceEncoder};
use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn cosine(a: &[f32], b: &[f64]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| *x as f64 * y).sum();
    let na: f64 = a.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|y| y.powi(2)).sum::<f64>().sqrt();
    dot / (na * nb)
}

#[test]
fn embeddings_match_sentence_transformers() {
    let dir = root().join("models/all-MiniLM-L6-v2");
    assert!(
        dir.join("model.safetensors").exists(),
        "{} is missing: run `bash scripts/bootstrap.sh` (make test does)",
        dir.display()
    );
    let fixture: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("tests/fixtures/minilm/embeddings.json")).unwrap(),
    )
    .unwrap();
    let repo = ModelRepo::open(ModelSource::Local(dir)).unwrap();
    let encoder = SentenceEncoder::load(&repo, tch::Device::Cpu).unwrap();
    assert_eq!(encoder.dim(), 384);

    let cases = fixture["sentences"].as_array().unwrap();
    assert!(cases.len() >= 20);
    let texts: Vec<&str> = cases.iter().map(|c| c["text"].as_str().unwrap()).collect();
    let got = encoder.embed(&texts).unwrap();
    assert_eq!(got.len(), texts.len());
    for (case, emb) in cases.iter().zip(&got) {
        let want: Vec<f64> = case["embedding"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        assert_eq!(emb.len(), want.len());
        let cos = cosine(emb, &want);
        assert!(cos >= 0.9999, "{:?}: cosine {cos}", case["text"]);
        let norm: f32 = emb.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!(
            (norm - 1.0).abs() < 1e-4,
            "normalized like the Normalize module"
        );
    }
}

fn max_abs_diff(a: &[Vec<f32>], b: &[Vec<f32>]) -> f32 {
    a.iter()
        .flatten()
        .zip(b.iter().flatten())
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// Fine-tunes on `texts` as both train and dev, with a dev score that rises
/// every epoch so that the last epoch is kept.
fn tune_on(
    base: &std::sync::Arc<SentenceEncoder>,
    repo: &ModelRepo,
    texts: &[&str],
    labels: &[usize],
    params: stancepipe_encoder::TuneParams,
) -> stancepipe_encoder::tuned::Tuned {
    let owned: Vec<String> = texts.iter().map(|t| t.to_string()).collect();
    let ex = stancepipe_encoder::tuned::Examples {
        texts: &owned,
        labels,
        per: 1,
    };
    let calls = std::cell::Cell::new(0.0);
    let score = |_: &[usize], _: &[usize]| {
        calls.set(calls.get() + 1.0);
        calls.get()
    };
    stancepipe_encoder::tuned::fine_tune(
        base.clone(),
        repo,
        3,
        (&ex, &ex),
        params,
        score,
        &|_, _, _| {},
    )
    .unwrap()
}

/// The split forward pass of `TunedEncoder` (rust-bert's BERT parts, mean
/// pooling, normalization) is the base encoder's when the top layers are
/// untouched; fine-tuning changes them, and the saved float16 top layers
/// load back to (nearly) the same embeddings.
#[test]
fn tuned_encoder_matches_base_and_roundtrips() {
    use stancepipe_encoder::tuned::TOP_FILE;
    use stancepipe_encoder::{Adapt, Pooling, Spec, TuneParams, TunedEncoder};
    use std::sync::Arc;

    let repo = ModelRepo::open(ModelSource::Local(root().join("models/all-MiniLM-L6-v2"))).unwrap();
    let base = Arc::new(SentenceEncoder::load(&repo, tch::Device::Cpu).unwrap());
    let texts = [
        "Shares of << Acme >> fell sharply after the profit warning.",
        "<< Beta Corp >> raised its dividend for the tenth year.",
        "The report mentions << Gamma >> once.",
        "short",
    ];
    let want = base.embed(&texts).unwrap();
    // The layers rebuilt in tch (whole, or with untrained LoRA adapters on
    // every layer) compute what rust-bert's encoder computes.
    let lora = Spec {
        layers: 6,
        adapt: Adapt::Lora(4),
        pooling: Pooling::Mean,
    };
    for spec in [Spec::top(1), Spec::top(2), lora] {
        let split = TunedEncoder::load(base.clone(), &repo, spec, None).unwrap();
        let got = split.embed(&texts).unwrap();
        assert!(max_abs_diff(&got, &want) < 1e-5, "{spec:?}");
    }
    assert!(TunedEncoder::load(base.clone(), &repo, Spec::top(7), None).is_err());
    let a = TunedEncoder::load(base.clone(), &repo, Spec::top(1), None).unwrap();
    let b = TunedEncoder::load(base.clone(), &repo, Spec::top(1), None).unwrap();
    let c = TunedEncoder::load(base.clone(), &repo, Spec::top(2), None).unwrap();
    assert!(
        a.shares_bottom_with(&b) && a.shares_bottom_with(&c),
        "one frozen base model per weights file, whatever the split"
    );

    let params = TuneParams {
        epochs: 1,
        batch: 2,
        lr_encoder: 1e-3,
        ..Default::default()
    };
    let tuned = tune_on(&base, &repo, &texts, &[1, 0, 2, 2], params);
    assert_eq!(
        tuned.history,
        vec![1.0, 2.0],
        "epoch 0 (head only) and epoch 1"
    );
    assert_eq!(tuned.epoch, 1);
    let tuned_emb = tuned.encoder.embed(&texts).unwrap();
    let dir = tempfile::tempdir().unwrap();
    tuned.save(dir.path()).unwrap();
    let loaded = TunedEncoder::load(
        base.clone(),
        &repo,
        Spec::top(1),
        Some(&dir.path().join(TOP_FILE)),
    )
    .unwrap();
    let reloaded = loaded.embed(&texts).unwrap();
    assert!(
        max_abs_diff(&reloaded, &tuned_emb) < 2e-3,
        "float16 round trip"
    );
    assert!(
        max_abs_diff(&tuned_emb, &want) > 1e-4,
        "fine-tuning moved the top layer"
    );
    let size = std::fs::metadata(dir.path().join(TOP_FILE)).unwrap().len();
    assert!(size < 5_000_000, "one layer in float16 is {size} bytes");
}

/// LoRA on every layer: only the adapters train and are saved (a small
/// file), and they load back to the trained embeddings.
#[test]
fn lora_adapters_train_save_and_reload() {
    use stancepipe_encoder::tuned::TOP_FILE;
    use stancepipe_encoder::{Adapt, TuneParams, TunedEncoder};
    use std::sync::Arc;

    let repo = ModelRepo::open(ModelSource::Local(root().join("models/all-MiniLM-L6-v2"))).unwrap();
    let base = Arc::new(SentenceEncoder::load(&repo, tch::Device::Cpu).unwrap());
    let texts = [
        "<< Acme >> fell.",
        "<< Beta >> rose sharply.",
        "Gamma was flat.",
    ];
    let want = base.embed(&texts).unwrap();
    let params = TuneParams {
        layers: 6,
        adapt: Adapt::Lora(4),
        epochs: 1,
        batch: 3,
        lr_encoder: 1e-2,
        ..Default::default()
    };
    let tuned = tune_on(&base, &repo, &texts, &[1, 0, 2], params);
    assert_eq!(tuned.epoch, 1);
    let trained = tuned.encoder.embed(&texts).unwrap();
    assert!(
        max_abs_diff(&trained, &want) > 1e-4,
        "the adapters changed the encoder"
    );
    let dir = tempfile::tempdir().unwrap();
    tuned.save(dir.path()).unwrap();
    let size = std::fs::metadata(dir.path().join(TOP_FILE)).unwrap().len();
    assert!(
        size < 1_000_000,
        "rank-4 adapters on 6 layers: {size} bytes"
    );
    let names = tch::Tensor::read_safetensors(dir.path().join(TOP_FILE)).unwrap();
    assert_eq!(names.len(), 6 * 6 * 2, "A and B for six maps in six layers");
    assert!(names.iter().all(|(n, _)| n.contains("lora_")));
    let reloaded = TunedEncoder::load(
        base.clone(),
        &repo,
        params.spec(),
        Some(&dir.path().join(TOP_FILE)),
    )
    .unwrap()
    .embed(&texts)
    .unwrap();
    assert!(
        max_abs_diff(&reloaded, &trained) < 2e-3,
        "float16 round trip"
    );
}

/// Span pooling (target features `marked-span`): the sentence embedding,
/// then the normalized mean of the marked target's own tokens; `span`
/// features keep the second part alone.
#[test]
fn span_pooling_adds_the_target_tokens_mean() {
    use stancepipe_encoder::{features, Pooling, Spec, TuneParams, TunedEncoder};
    use std::sync::Arc;

    let repo = ModelRepo::open(ModelSource::Local(root().join("models/all-MiniLM-L6-v2"))).unwrap();
    let base = Arc::new(SentenceEncoder::load(&repo, tch::Device::Cpu).unwrap());
    let pooled = |pooling| {
        let spec = Spec {
            pooling,
            ..Spec::top(1)
        };
        TunedEncoder::load(base.clone(), &repo, spec, None).unwrap()
    };
    let span = pooled(Pooling::MeanAndTarget);
    assert_eq!(span.dim(), 2 * base.dim());
    let text = "Unlike Alipay, WeChat kept its focus and grew.";
    let at = |w: &str| {
        let s = text.find(w).unwrap();
        features::mark(text, s, s + w.len())
    };
    let (a, w) = (at("Alipay"), at("WeChat"));
    let texts = [a.as_str(), w.as_str(), text];
    let got = span.embed(&texts).unwrap();
    let want = base.embed(&texts).unwrap();
    let d = base.dim();
    for (g, e) in got.iter().zip(&want) {
        let diff = g[..d]
            .iter()
            .zip(e)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f32::max);
        assert!(diff < 1e-5, "the first half is the sentence embedding");
    }
    let dist = |x: &[f32], y: &[f32]| x.iter().zip(y).map(|(a, b)| (a - b).powi(2)).sum::<f32>();
    assert!(
        dist(&got[0][d..], &got[1][d..]) > 10.0 * dist(&got[0][..d], &got[1][..d]),
        "the two targets of one sentence differ mostly in their span half"
    );
    // Target-only pooling (`span` features) is the span half alone.
    let only = pooled(Pooling::Target);
    assert_eq!(only.dim(), d);
    for (o, g) in only.embed(&texts).unwrap().iter().zip(&got) {
        let diff = o
            .iter()
            .zip(&g[d..])
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f32::max);
        assert!(diff < 1e-5, "target-only pooling is the span half");
    }
    // No markers: the span half falls back to every token.
    let diff = got[2][..d]
        .iter()
        .zip(&got[2][d..])
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max);
    assert!(diff < 1e-6);

    // Fine-tuning with span pooling trains on the same features.
    let params = TuneParams {
        epochs: 1,
        batch: 2,
        pooling: Pooling::MeanAndTarget,
        ..Default::default()
    };
    let tuned = tune_on(&base, &repo, &texts, &[1, 0, 2], params);
    assert_eq!(tuned.encoder.embed(&texts).unwrap()[0].len(), 2 * d);
}
