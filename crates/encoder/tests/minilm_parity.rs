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

/// The split forward pass of `TunedEncoder` (rust-bert's BERT parts, mean
/// pooling, normalization) is the base encoder's when the top layers are
/// untouched; fine-tuning changes them, and the saved float16 top layers
/// load back to (nearly) the same embeddings.
#[test]
fn tuned_encoder_matches_base_and_roundtrips() {
    use stancepipe_encoder::tuned::{fine_tune, Examples, TOP_FILE};
    use stancepipe_encoder::{TuneParams, TunedEncoder};
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
    for layers in [1, 2] {
        let split = TunedEncoder::load(base.clone(), &repo, layers, None).unwrap();
        let got = split.embed(&texts).unwrap();
        assert!(max_abs_diff(&got, &want) < 1e-5, "{layers} layer(s)");
    }
    assert!(TunedEncoder::load(base.clone(), &repo, 7, None).is_err());
    let a = TunedEncoder::load(base.clone(), &repo, 1, None).unwrap();
    let b = TunedEncoder::load(base.clone(), &repo, 1, None).unwrap();
    let c = TunedEncoder::load(base.clone(), &repo, 2, None).unwrap();
    assert!(
        a.shares_bottom_with(&b),
        "one frozen bottom per model and split"
    );
    assert!(!a.shares_bottom_with(&c));

    let owned: Vec<String> = texts.iter().map(|t| t.to_string()).collect();
    let labels = [1usize, 0, 2, 2];
    let ex = Examples {
        texts: &owned,
        labels: &labels,
        per: 1,
    };
    let params = TuneParams {
        epochs: 1,
        batch: 2,
        lr_encoder: 1e-3,
        ..Default::default()
    };
    // A dev score that rises every epoch, so the last epoch is kept.
    let calls = std::cell::Cell::new(0.0);
    let score = |_: &[usize], _: &[usize]| {
        calls.set(calls.get() + 1.0);
        calls.get()
    };
    let tuned = fine_tune(
        base.clone(),
        &repo,
        3,
        (&ex, &ex),
        params,
        score,
        &|_, _, _| {},
    )
    .unwrap();
    assert_eq!(
        tuned.history,
        vec![1.0, 2.0],
        "epoch 0 (head only) and epoch 1"
    );
    assert_eq!(tuned.epoch, 1);
    let tuned_emb = tuned.encoder.embed(&texts).unwrap();
    let dir = tempfile::tempdir().unwrap();
    tuned.save(dir.path()).unwrap();
    let loaded =
        TunedEncoder::load(base.clone(), &repo, 1, Some(&dir.path().join(TOP_FILE))).unwrap();
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
