//! The `target-sentiment` backend: the sentiment toward each mention, from a
//! head trained on FinEntity + NewsMTSC (`stancepipe train target`) over the
//! encoder's view of the mention's sentence with the mention marked (plus a
//! window around it, or the mention's own token states, as the head was
//! trained: `TargetFeatures`), with the encoder's tuned layers or LoRA
//! adapters when the head has them.
//!
//! Document-level rule ([`crate::decide`]): each mention gets a polarity
//! from its class probabilities ([`mention_polarity`]; by default the head's
//! label: +p, -p or 0 for neutral) and weight = the head's confidence (its
//! top class probability). A sentence's evidence is the weight-averaged polarity
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
use stancepipe_encoder::{features, Embed, Head, TargetFeatures};
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
    pub mention_polarity: MentionPolarity,
}

/// How one mention's class probabilities become its polarity in [-1, 1].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MentionPolarity {
    /// The head's decision: +p(positive) when positive is the most likely
    /// class, -p(negative) when negative is, 0 when neutral is. A single
    /// mention then gets exactly the head's label (its measured figures).
    Label,
    /// p(positive) - p(negative): every mention leans a little, so many
    /// weakly-leaning neutral mentions can outweigh a few clear ones.
    Expected,
}

/// One mention's (polarity, weight) from its class probabilities `p`, with
/// `pos` / `neg` the positions of the positive and negative classes. The
/// weight is the head's confidence (its largest probability).
pub fn mention_polarity(
    p: &[f32],
    pos: Option<usize>,
    neg: Option<usize>,
    how: MentionPolarity,
) -> (f32, f32) {
    let weight = p.iter().copied().fold(0.0f32, f32::max);
    let prob = |i: Option<usize>| i.map_or(0.0, |i| p[i]);
    let polarity = match how {
        MentionPolarity::Expected => prob(pos) - prob(neg),
        MentionPolarity::Label => {
            let best = p.iter().position(|&x| x == weight);
            if best.is_some() && best == pos {
                weight
            } else if best.is_some() && best == neg {
                -weight
            } else {
                0.0
            }
        }
    };
    (polarity, weight)
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
            mention_polarity: MentionPolarity::Label,
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
        let kind = head.manifest.target_kind();
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
        ("mention_polarity", "\"label\": the head's class, +p / -p / 0 for neutral; \"expected\": p(positive) - p(negative)"),
    ];
}

struct TargetSentiment {
    encoder: Arc<dyn Embed>,
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
        let per = self.kind.texts_per_example();
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
            let (polarity, weight) = mention_polarity(p, pos, neg, self.cfg.mention_polarity);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_polarity_follows_the_most_likely_class() {
        let (pos, neg) = (Some(0), Some(1));
        let leaning_neutral = [0.35, 0.05, 0.6];
        assert_eq!(
            mention_polarity(&leaning_neutral, pos, neg, MentionPolarity::Label),
            (0.0, 0.6)
        );
        let (e, w) = mention_polarity(&leaning_neutral, pos, neg, MentionPolarity::Expected);
        assert!((e - 0.3).abs() < 1e-6 && w == 0.6);
        assert_eq!(
            mention_polarity(&[0.2, 0.7, 0.1], pos, neg, MentionPolarity::Label),
            (-0.7, 0.7)
        );
        assert_eq!(
            mention_polarity(&[0.5, 0.2, 0.3], pos, neg, MentionPolarity::Label),
            (0.5, 0.5)
        );
    }

    #[test]
    fn mention_polarity_option_parses_and_rejects_unknown_values() {
        let cfg: TargetSentimentConfig =
            stancepipe_core::parse_options("mention_polarity = \"expected\"".parse().unwrap())
                .unwrap();
        assert_eq!(cfg.mention_polarity, MentionPolarity::Expected);
        assert_eq!(
            TargetSentimentConfig::default().mention_polarity,
            MentionPolarity::Label
        );
        let bad = stancepipe_core::parse_options::<TargetSentimentConfig>(
            "mention_polarity = \"mean\"".parse().unwrap(),
        );
        assert!(bad.is_err());
    }
}
