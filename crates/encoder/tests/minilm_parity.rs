//! all-MiniLM-L6-v2 through rust-bert against sentence-transformers 3.0.1
//! (tests/fixtures/minilm/embeddings.json, made by
//! scripts/fixtures/make_minilm_fixture.py): cosine >= 0.9999 per sentence.
//! The model comes from models/ (scripts/bootstrap.sh puts it there).

use stancepipe_core::{ModelRepo, ModelSource};
use stancepipe_encoder::SentenceEncoder;
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
