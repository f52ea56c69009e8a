//! The document-level decision learned from document labels: how the
//! readings of a company's mentions become one label for the document.
//!
//! [`features`] summarizes a company's readings (class probabilities per
//! mention, with the position of each mention's sentence) into a fixed
//! vector: overall and confidence-weighted polarity, the share of positive
//! and negative readings, the polarity of the lead (first three content
//! sentences) and of the conclusion (last three), how central the company is
//! (share of content sentences naming it), how often it is named, and the
//! strongest positive and negative readings. An [`Aggregator`] is a
//! multinomial logistic regression over those features, fitted on PerSenT's
//! train part and chosen on its dev part by `stancepipe train document`
//! (docs/quality.md); the stage applies it when its `aggregator` option
//! names one, and [`crate::decide`]'s rule otherwise.

use serde::{Deserialize, Serialize};
use stancepipe_core::StanceLabel;
use std::path::Path;

/// One reading of a company: the position of its sentence among the
/// document's content sentences and the class probabilities
/// `(positive, negative, neutral)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MentionProbs {
    pub rank: usize,
    pub pos: f32,
    pub neg: f32,
    pub neu: f32,
}

/// The names of [`features`]' entries, in order (recorded in the fitted
/// file so that a file from another version is refused).
pub const FEATURES: [&str; 11] = [
    "mean_polarity",
    "confidence_weighted_label",
    "share_positive",
    "share_negative",
    "lead_polarity",
    "conclusion_polarity",
    "centrality",
    "log_mentions",
    "max_positive",
    "max_negative",
    "mean_neutral",
];

/// Content sentences at each end counted as the lead and the conclusion.
const ENDS: usize = 3;

/// The feature vector of one company's readings in a document of `content`
/// content sentences (all zeros when there are no readings).
pub fn features(readings: &[MentionProbs], content: usize) -> Vec<f32> {
    let n = readings.len();
    if n == 0 {
        return vec![0.0; FEATURES.len()];
    }
    let nf = n as f32;
    let pol = |r: &MentionProbs| r.pos - r.neg;
    let is = |r: &MentionProbs, c: usize| {
        let p = [r.pos, r.neg, r.neu];
        let best = (0..3).fold(0, |b, i| if p[i] > p[b] { i } else { b });
        best == c
    };
    let mean_of = |f: &dyn Fn(&MentionProbs) -> bool| {
        let sel: Vec<f32> = readings.iter().filter(|r| f(r)).map(pol).collect();
        if sel.is_empty() {
            0.0
        } else {
            sel.iter().sum::<f32>() / sel.len() as f32
        }
    };
    // The previous rule's mention polarity: the head's label times its confidence.
    let (wsum, wpol) = readings.iter().fold((0.0, 0.0), |(w, p), r| {
        let conf = r.pos.max(r.neg).max(r.neu);
        let signed = if is(r, 0) {
            conf
        } else if is(r, 1) {
            -conf
        } else {
            0.0
        };
        (w + conf, p + conf * signed)
    });
    let mut sentences: Vec<usize> = readings.iter().map(|r| r.rank).collect();
    sentences.sort_unstable();
    sentences.dedup();
    vec![
        readings.iter().map(pol).sum::<f32>() / nf,
        if wsum > 0.0 { wpol / wsum } else { 0.0 },
        readings.iter().filter(|r| is(r, 0)).count() as f32 / nf,
        readings.iter().filter(|r| is(r, 1)).count() as f32 / nf,
        mean_of(&|r| r.rank < ENDS),
        mean_of(&|r| r.rank + ENDS >= content),
        sentences.len() as f32 / content.max(1) as f32,
        (1.0 + nf).ln(),
        readings.iter().map(|r| r.pos).fold(0.0, f32::max),
        readings.iter().map(|r| r.neg).fold(0.0, f32::max),
        readings.iter().map(|r| r.neu).sum::<f32>() / nf,
    ]
}

/// A fitted document-level decision: standardization, then a linear map to
/// one logit per label.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Aggregator {
    pub features: Vec<String>,
    pub mean: Vec<f32>,
    pub scale: Vec<f32>,
    pub labels: Vec<StanceLabel>,
    /// One row of weights per label.
    pub weights: Vec<Vec<f32>>,
    pub bias: Vec<f32>,
    /// How it was fitted and how it measured (free-form).
    #[serde(default)]
    pub fitted: serde_json::Value,
}

impl Aggregator {
    /// Reads a fitted aggregator; the error says what is wrong with the file.
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let a: Aggregator =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        a.validate()
            .map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(a)
    }

    fn validate(&self) -> Result<(), String> {
        if self.features != FEATURES {
            return Err(format!(
                "fitted on features {:?}, this version computes {:?}: refit it",
                self.features, FEATURES
            ));
        }
        let f = FEATURES.len();
        let k = self.labels.len();
        let shapes_ok = self.mean.len() == f
            && self.scale.len() == f
            && self.bias.len() == k
            && self.weights.len() == k
            && self.weights.iter().all(|w| w.len() == f);
        if !shapes_ok || k == 0 {
            return Err("weights do not match the features and labels".into());
        }
        Ok(())
    }

    /// Label probabilities (softmax of the logits), in `labels` order.
    pub fn probabilities(&self, features: &[f32]) -> Vec<f32> {
        let x: Vec<f32> = features
            .iter()
            .zip(self.mean.iter().zip(&self.scale))
            .map(|(v, (m, s))| (v - m) / if *s > 0.0 { *s } else { 1.0 })
            .collect();
        let logits: Vec<f32> = self
            .weights
            .iter()
            .zip(&self.bias)
            .map(|(w, b)| b + w.iter().zip(&x).map(|(a, b)| a * b).sum::<f32>())
            .collect();
        let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let exp: Vec<f32> = logits.iter().map(|l| (l - max).exp()).collect();
        let sum: f32 = exp.iter().sum();
        exp.iter().map(|e| e / sum).collect()
    }

    /// The likeliest label and its probability.
    pub fn decide(&self, features: &[f32]) -> (StanceLabel, f32) {
        let p = self.probabilities(features);
        let best = (0..p.len()).fold(0, |b, i| if p[i] > p[b] { i } else { b });
        (self.labels[best], p[best])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(rank: usize, pos: f32, neg: f32) -> MentionProbs {
        MentionProbs {
            rank,
            pos,
            neg,
            neu: 1.0 - pos - neg,
        }
    }

    #[test]
    fn features_summarize_the_readings() {
        assert_eq!(features(&[], 10), vec![0.0; FEATURES.len()]);
        let f = features(&[r(0, 0.8, 0.1), r(5, 0.1, 0.7), r(9, 0.2, 0.2)], 10);
        assert_eq!(f.len(), FEATURES.len());
        assert!((f[0] - (0.7 - 0.6 + 0.0) / 3.0).abs() < 1e-6);
        assert!((f[2] - 1.0 / 3.0).abs() < 1e-6, "one positive of three");
        assert!((f[3] - 1.0 / 3.0).abs() < 1e-6, "one negative of three");
        assert!((f[4] - 0.7).abs() < 1e-6, "lead: the first sentence");
        assert!((f[5] - 0.0).abs() < 1e-6, "conclusion: sentence 9, neutral");
        assert!((f[6] - 0.3).abs() < 1e-6, "three of ten sentences");
        assert!((f[8] - 0.8).abs() < 1e-6 && (f[9] - 0.7).abs() < 1e-6);
    }

    #[test]
    fn aggregator_applies_standardization_and_weights() {
        let n = FEATURES.len();
        let mut favor = vec![0.0; n];
        favor[0] = 5.0;
        let a = Aggregator {
            features: FEATURES.iter().map(|s| s.to_string()).collect(),
            mean: vec![0.0; n],
            scale: vec![1.0; n],
            labels: vec![StanceLabel::Favor, StanceLabel::Against, StanceLabel::None],
            weights: vec![
                favor.clone(),
                favor.iter().map(|w| -w).collect(),
                vec![0.0; n],
            ],
            bias: vec![0.0, 0.0, 0.5],
            fitted: serde_json::Value::Null,
        };
        assert!(a.validate().is_ok());
        let mut f = vec![0.0; n];
        assert_eq!(a.decide(&f).0, StanceLabel::None);
        f[0] = 0.5;
        assert_eq!(a.decide(&f).0, StanceLabel::Favor);
        f[0] = -0.5;
        assert_eq!(a.decide(&f).0, StanceLabel::Against);
        let p = a.probabilities(&f);
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        let mut stale = a.clone();
        stale.features.pop();
        assert!(stale.validate().unwrap_err().contains("refit"));
    }
}
