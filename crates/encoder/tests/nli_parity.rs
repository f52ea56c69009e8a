//! The NLI wrapper against `transformers` 4.44.2 on a tiny random-weight
//! BartForSequenceClassification (tests/fixtures/models/bart-nli-tiny):
//! entailment-vs-contradiction scores within 1e-4 for every pair.

use stancepipe_core::{ModelRepo, ModelSource};
use stancepipe_encoder::nli::NliModel;
use std::path::PathBuf;

#[test]
fn entailment_scores_match_transformers() {
    let dir =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/models/bart-nli-tiny");
    let reference: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("reference.json")).unwrap())
            .unwrap();
    let model = NliModel::load(
        &ModelRepo::open(ModelSource::Local(dir)).unwrap(),
        tch::Device::Cpu,
    )
    .unwrap();
    let pairs = reference["pairs"].as_array().unwrap();
    assert!(pairs.len() >= 8);
    for p in pairs {
        let premise = p["premise"].as_str().unwrap();
        let hypothesis = p["hypothesis"].as_str().unwrap();
        let got = model.entailment(&[premise], &[hypothesis]).unwrap()[0][0];
        let want = p["entailment_vs_contradiction_softmax"][1]
            .as_f64()
            .unwrap() as f32;
        assert!(
            (got - want).abs() <= 1e-4,
            "{premise:?} / {hypothesis:?}: {got} vs {want}"
        );
    }
    // Several premises and hypotheses in one call keep their order.
    let premises: Vec<&str> = pairs
        .iter()
        .map(|p| p["premise"].as_str().unwrap())
        .collect();
    let hyps: Vec<&str> = pairs
        .iter()
        .map(|p| p["hypothesis"].as_str().unwrap())
        .collect();
    let all = model.entailment(&premises[..2], &hyps[..3]).unwrap();
    for (i, row) in all.iter().enumerate() {
        for (j, got) in row.iter().enumerate() {
            let single = model.entailment(&[premises[i]], &[hyps[j]]).unwrap()[0][0];
            assert!((got - single).abs() <= 1e-4);
        }
    }
}
