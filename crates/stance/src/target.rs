//! The `target-sentiment` backend: the sentiment toward each mention, from a
//! head trained on FinEntity + NewsMTSC (`stancepipe train target`) over
//! frozen sentence embeddings of the mention's sentence with the mention
//! marked (and, when the head was trained so, a window around it).
//!
//! Document-level rule ([`crate::decide`]): each mention gets polarity
//! P(positive) - P(negative) and weight = the head's confidence (its top
//! class probability). A sentence's evidence is the weight-averaged polarity
//! of the company's mentions in it, weighted by their mean confidence; the
//! company's stance comes from the weighted mean over its evidence sentences,
//! with `none` when it appears in fewer than `min_mentions` content sentences
//! (mentioned in passing) or when the mean is within ±`threshold`.

use crate::{decide, Rule};
use serde::{Deserialize, Serialize};
use stancepipe_core::{
    labels, Annotation, BackendConfig, BuildContext, Doc, OptionError, Stage, StageConfig,
    StageError,
};
use stancepipe_encoder::{features, Head, SentenceEncoder, TargetFeatures};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TargetSentimentConfig {
    pub encoder: String,
    pub head: PathBuf,
    pub min_mentions: usize,
    pub threshold: f64,
    pub max_evidence: usize,
    pub batch_size: usize,
}

impl Default for TargetSentimentConfig {
    fn default() -> Self {
        TargetSentimentConfig {
            encoder: "models/all-MiniLM-L6-v2".into(),
            head: PathBuf::from("models/heads/target"),
            min_mentions: 3,
            threshold: 0.15,
            max_evidence: 3,
            batch_size: 64,
        }
    }
}

const TASK: &str = "target-sentiment";

impl StageConfig for TargetSentimentConfig {
    fn requires(&self) -> Vec<Annotation> {
        vec![Annotation::Sentences, Annotation::Mentions]
    }
    fn provides(&self) -> Vec<Annotation> {
        vec![Annotation::Stance]
    }
    fn model(&self) -> Option<String> {
        Some(format!("{} + {}", self.encoder, self.head.display()))
    }
    fn check(&self, ctx: &BuildContext) -> Result<(), OptionError> {
        if !(0.0..=1.0).contains(&self.threshold) {
            return Err(OptionError::new("threshold", "must be in [0, 1]"));
        }
        if self.max_evidence == 0 {
            return Err(OptionError::new("max_evidence", "must be at least 1"));
        }
        if self.batch_size == 0 {
            return Err(OptionError::new("batch_size", "must be at least 1"));
        }
        stancepipe_encoder::stage::check(&self.encoder, &self.head, ctx)
    }
    fn build(&self, ctx: &BuildContext) -> Result<Box<dyn Stage>, OptionError> {
        let (encoder, head) =
            stancepipe_encoder::stage::load(&self.encoder, &self.head, TASK, ctx)?;
        let kind = head
            .manifest
            .target_features
            .unwrap_or(TargetFeatures::Marked);
        Ok(Box::new(TargetSentiment {
            model: format!("{} + {}", encoder.id(), self.head.display()),
            encoder,
            head,
            kind,
            companies: ctx.companies.iter().map(|c| c.name.clone()).collect(),
            cfg: self.clone(),
        }))
    }
}

impl BackendConfig for TargetSentimentConfig {
    const KIND: &'static str = "stance";
    const BACKEND: &'static str = "target-sentiment";
    const DESCRIPTION: &'static str =
        "sentiment toward each mention (head trained on FinEntity + NewsMTSC over MiniLM), weighed per company";
    const OPTIONS: &'static [(&'static str, &'static str)] = &[
        ("encoder", "sentence-transformers model directory or hub id (relative to the config file)"),
        ("head", "directory with manifest.json + head.safetensors from `stancepipe train target`"),
        ("min_mentions", "fewer distinct content sentences mentioning a company than this gives `none` (mentioned in passing)"),
        ("threshold", "confidence-weighted mean polarity needed for favor (>=) or against (<= -threshold), in [0, 1]"),
        ("max_evidence", "most evidence sentences listed per company, at least 1"),
        ("batch_size", "texts embedded at once"),
    ];
}

struct TargetSentiment {
    encoder: Arc<SentenceEncoder>,
    head: Head,
    kind: TargetFeatures,
    model: String,
    companies: Vec<String>,
    cfg: TargetSentimentConfig,
}

/// Per sentence: (sum of weight * polarity, sum of weight, mentions).
type SentenceSums = (f32, f32, f32);

/// One mention to classify: (doc, company, sentence).
struct Item {
    doc: usize,
    company: String,
    sentence: usize,
}

impl Stage for TargetSentiment {
    fn backend(&self) -> &str {
        TargetSentimentConfig::BACKEND
    }
    fn model(&self) -> Option<&str> {
        Some(&self.model)
    }
    fn process(&self, docs: &mut [Doc]) -> Result<(), StageError> {
        let mut items = Vec::new();
        let mut texts = Vec::new();
        for (d, doc) in docs.iter().enumerate() {
            for m in features::mention_inputs(doc, self.kind) {
                texts.extend(m.texts);
                items.push(Item {
                    doc: d,
                    company: m.company.to_string(),
                    sentence: m.sentence,
                });
            }
        }
        let per = match self.kind {
            TargetFeatures::Marked => 1,
            TargetFeatures::MarkedWindow => 2,
        };
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let embedded = self
            .encoder
            .embed_many(&refs, self.cfg.batch_size, &|_| {})
            .map_err(StageError::Batch)?;
        let x: Vec<Vec<f32>> = embedded.chunks(per).map(|c| c.concat()).collect();
        let probs = self.head.predict(&x);
        let index = |l: &str| self.head.manifest.labels.iter().position(|x| x == l);
        let (pos, neg) = (index(labels::POSITIVE), index(labels::NEGATIVE));

        let mut acc: BTreeMap<(usize, &str), BTreeMap<usize, SentenceSums>> = BTreeMap::new();
        for (item, p) in items.iter().zip(&probs) {
            let polarity = pos.map_or(0.0, |i| p[i]) - neg.map_or(0.0, |i| p[i]);
            let weight = p.iter().copied().fold(0.0f32, f32::max);
            let e = acc
                .entry((item.doc, item.company.as_str()))
                .or_default()
                .entry(item.sentence)
                .or_insert((0.0, 0.0, 0.0));
            e.0 += weight * polarity;
            e.1 += weight;
            e.2 += 1.0;
        }
        let rule = Rule {
            min_mentions: self.cfg.min_mentions,
            threshold: self.cfg.threshold,
            max_evidence: self.cfg.max_evidence,
        };
        for (d, doc) in docs.iter_mut().enumerate() {
            doc.stance = self
                .companies
                .iter()
                .map(|c| {
                    let mentions = doc
                        .entities
                        .iter()
                        .filter(|e| &e.company == c)
                        .map(|e| e.mentions.len())
                        .sum();
                    let evidence: BTreeMap<usize, (f32, f32)> = acc
                        .get(&(d, c.as_str()))
                        .map(|m| {
                            m.iter()
                                .map(|(&s, &(wp, w, n))| {
                                    (s, (if w > 0.0 { wp / w } else { 0.0 }, w / n))
                                })
                                .collect()
                        })
                        .unwrap_or_default();
                    decide(c, &evidence, mentions, rule)
                })
                .collect();
        }
        Ok(())
    }
}
