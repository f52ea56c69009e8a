//! Natural language inference models (e.g. `facebook/bart-large-mnli`)
//! through rust-bert's zero-shot classification, for the `zero-shot-nli`
//! backends: how strongly a premise entails each hypothesis.
//!
//! Scores are rust-bert's multi-label zero-shot scores: for each (premise,
//! hypothesis) pair, the softmax over the contradiction and entailment logits
//! (the first and last class), taken at entailment. This is what the
//! `transformers` zero-shot pipeline computes with `multi_label=True`;
//! `crates/encoder/tests/nli_parity.rs` checks it on a tiny model.

use crate::{local, malformed};
use rust_bert::pipelines::common::{ModelResource, ModelType};
use rust_bert::pipelines::zero_shot_classification::{
    ZeroShotClassificationConfig, ZeroShotClassificationModel,
};
use stancepipe_core::{BuildContext, ModelError, ModelRepo, ModelSource, OptionError};
use std::sync::Mutex;

/// A loaded NLI model.
pub struct NliModel {
    id: String,
    model: Mutex<ZeroShotClassificationModel>,
}

/// Longest premise + hypothesis in tokens.
const MAX_LENGTH: usize = 512;

impl NliModel {
    /// Loads a BART-architecture NLI model (the family of bart-large-mnli).
    pub fn load(repo: &ModelRepo, device: tch::Device) -> Result<Self, ModelError> {
        let (config, json) = repo.config_json()?;
        let model_type = json
            .get("model_type")
            .and_then(|v| v.as_str())
            .unwrap_or_default();
        if model_type != "bart" {
            return Err(malformed(
                &config,
                format!("model_type {model_type:?}: only BART NLI models (such as facebook/bart-large-mnli) are supported"),
            ));
        }
        let weights = repo.file(&["model.safetensors", "rust_model.ot"])?;
        let vocab = repo.file(&["vocab.json"])?;
        let merges = repo.file(&["merges.txt"])?;
        let cfg = ZeroShotClassificationConfig {
            model_type: ModelType::Bart,
            model_resource: ModelResource::Torch(local(&weights)),
            config_resource: local(&config),
            vocab_resource: local(&vocab),
            merges_resource: Some(local(&merges)),
            lower_case: false,
            strip_accents: None,
            add_prefix_space: None,
            device,
            kind: None,
        };
        let model = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            ZeroShotClassificationModel::new(cfg)
        }))
        .map_err(|_| malformed(&weights, "rust-bert panicked while loading the model"))?
        .map_err(|e| malformed(&weights, e))?;
        Ok(NliModel {
            id: repo.id(),
            model: Mutex::new(model),
        })
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// For each premise, the entailment score of each hypothesis (in order).
    pub fn entailment(
        &self,
        premises: &[&str],
        hypotheses: &[&str],
    ) -> Result<Vec<Vec<f32>>, String> {
        if premises.is_empty() || hypotheses.is_empty() {
            return Ok(vec![Vec::new(); premises.len()]);
        }
        let model = self.model.lock().unwrap_or_else(|e| e.into_inner());
        // Hypotheses are given whole: the template returns them unchanged.
        let template = Box::new(|h: &str| h.to_string());
        let out = tch::no_grad(|| {
            model.predict_multilabel(premises, hypotheses, Some(template), MAX_LENGTH)
        })
        .map_err(|e| e.to_string())?;
        Ok(out
            .into_iter()
            .map(|labels| labels.into_iter().map(|l| l.score as f32).collect())
            .collect())
    }
}

/// Validation-time check of a stage's `model` option: a local directory must
/// hold `config.json` (a hub id is resolved when the stage is built).
pub fn check_model(spec: &str, ctx: &BuildContext) -> Result<(), OptionError> {
    if let ModelSource::Local(dir) = ModelSource::parse(spec, ctx) {
        if !dir.join("config.json").is_file() {
            return Err(OptionError::new(
                "model",
                format!(
                    "{} has no config.json (a Hugging Face model directory is expected)",
                    dir.display()
                ),
            ));
        }
    }
    Ok(())
}

/// Loads a stage's `model` option as an NLI model; errors name the option.
pub fn load_model(spec: &str, ctx: &BuildContext) -> Result<NliModel, OptionError> {
    let err = |e: ModelError| OptionError::new("model", e.to_string());
    let repo = ModelRepo::open(ModelSource::parse(spec, ctx)).map_err(err)?;
    NliModel::load(&repo, tch::Device::Cpu).map_err(err)
}
