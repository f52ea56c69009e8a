//! The `zero-shot-nli` backend: sentence labels from an NLI model (e.g.
//! `facebook/bart-large-mnli`, for users who have it). Each content sentence
//! is the premise; each label gives a hypothesis through `template`. The
//! label's score is its entailment score normalized over the labels, and the
//! sentence gets the best label.

use serde::{Deserialize, Serialize};
use stancepipe_core::{
    labels, Annotation, BackendConfig, BuildContext, Doc, Label, OptionError, SentenceKind, Stage,
    StageConfig, StageError,
};
use stancepipe_encoder::nli::NliModel;
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NliClassifyConfig {
    pub model: String,
    /// Labels, each with the word put into `template` for it.
    pub labels: BTreeMap<String, String>,
    pub template: String,
}

impl Default for NliClassifyConfig {
    fn default() -> Self {
        NliClassifyConfig {
            model: "facebook/bart-large-mnli".into(),
            labels: [
                (labels::POSITIVE, "positive"),
                (labels::NEGATIVE, "negative"),
                (labels::NEUTRAL, "neutral"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
            template: "The sentiment of this text is {}.".into(),
        }
    }
}

impl StageConfig for NliClassifyConfig {
    fn requires(&self) -> Vec<Annotation> {
        vec![Annotation::Sentences]
    }
    fn provides(&self) -> Vec<Annotation> {
        vec![Annotation::SentenceLabels]
    }
    fn model(&self) -> Option<String> {
        Some(self.model.clone())
    }
    fn check(&self, ctx: &BuildContext) -> Result<(), OptionError> {
        if !self.template.contains("{}") {
            return Err(OptionError::new(
                "template",
                "must contain {} (where the label word goes)",
            ));
        }
        if self.labels.len() < 2 {
            return Err(OptionError::new("labels", "needs at least two labels"));
        }
        stancepipe_encoder::nli::check_model(&self.model, ctx)
    }
    fn build(&self, ctx: &BuildContext) -> Result<Box<dyn Stage>, OptionError> {
        let model = stancepipe_encoder::nli::load_model(&self.model, ctx)?;
        let (names, hypotheses) = self
            .labels
            .iter()
            .map(|(name, word)| (name.clone(), self.template.replace("{}", word)))
            .unzip();
        Ok(Box::new(NliClassify {
            model,
            names,
            hypotheses,
        }))
    }
}

impl BackendConfig for NliClassifyConfig {
    const KIND: &'static str = "classify";
    const BACKEND: &'static str = "zero-shot-nli";
    const DESCRIPTION: &'static str = "sentence labels from an NLI model (e.g. facebook/bart-large-mnli), one hypothesis per label";
    const OPTIONS: &'static [(&'static str, &'static str)] = &[
        ("model", "NLI model directory or hub id (BART architecture)"),
        (
            "labels",
            "table: label -> the word put into `template` for it",
        ),
        ("template", "hypothesis; {} is replaced by the label's word"),
    ];
}

struct NliClassify {
    model: NliModel,
    names: Vec<String>,
    hypotheses: Vec<String>,
}

impl Stage for NliClassify {
    fn backend(&self) -> &str {
        NliClassifyConfig::BACKEND
    }
    fn model(&self) -> Option<&str> {
        Some(self.model.id())
    }
    fn process(&self, docs: &mut [Doc]) -> Result<(), StageError> {
        let hyps: Vec<&str> = self.hypotheses.iter().map(String::as_str).collect();
        for doc in docs.iter_mut() {
            let at: Vec<usize> = doc.content_sentences().collect();
            let premises: Vec<&str> = at
                .iter()
                .map(|&i| doc.slice(doc.sentences[i].span))
                .collect();
            let scores = self
                .model
                .entailment(&premises, &hyps)
                .map_err(StageError::Batch)?;
            for s in doc.sentences.iter_mut() {
                s.label = None;
            }
            for (i, row) in at.into_iter().zip(scores) {
                let total: f32 = row.iter().sum::<f32>().max(f32::EPSILON);
                let probs: Vec<f32> = row.iter().map(|x| x / total).collect();
                let best = probs
                    .iter()
                    .enumerate()
                    .max_by(|a, b| a.1.total_cmp(b.1))
                    .map_or(0, |(k, _)| k);
                if doc.sentences[i].kind == SentenceKind::Content {
                    doc.sentences[i].label = Some(Label {
                        label: self.names[best].clone(),
                        score: probs[best],
                        scores: self.names.iter().cloned().zip(probs).collect(),
                    });
                }
            }
        }
        Ok(())
    }
}
