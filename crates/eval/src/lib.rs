//! Evaluation: gold-corpus readers and the metrics the field uses.
//!
//! - [`gold`]: the documented gold JSONL format (`seeds/README.md`).
//! - [`metrics`]: per-class precision / recall / F1, macro-F1, accuracy and
//!   the confusion matrix, plus SemEval-2016's F_avg for stance.
//! - [`corpus`]: gold corpora from the gold format and the labeled data sets.
//! - [`score`]: one pipeline's output against a gold corpus (stance, sentence
//!   labels, ROUGE) with [`bootstrap`] intervals; [`report`] renders it.
//! - [`rouge`] / [`porter`]: ROUGE as Google's rouge-score computes it.
//! - [`score_stance`]: scores pipeline output against gold entities. An
//!   entity the pipeline did not label counts as an error, not as skipped.

pub mod bootstrap;
pub mod corpus;
pub mod datasets;
pub mod gold;
pub mod html;
pub mod metrics;
pub mod porter;
pub mod report;
pub mod rouge;
pub mod score;

pub use datasets::{DataError, LabeledText, PersentDoc, Split, StanceExample, TargetExample};
pub use gold::{read_gold, GoldDoc, GoldEntity, GoldError};
pub use metrics::ClassReport;

use stancepipe_core::{Doc, StanceLabel};

/// The predicted label for a missing document or entity: it matches no gold
/// label, so it is always counted wrong.
pub const MISSING: &str = "missing";

/// Stance gold vs prediction pairs, one per gold entity, in gold order.
pub fn stance_pairs(gold: &[GoldDoc], predicted: &[Doc]) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    for g in gold {
        let doc = predicted.iter().find(|d| d.id == g.id && d.is_ok());
        for e in &g.entities {
            let Some(gold_label) = e.stance else { continue };
            let pred = score::predicted_stance(doc, &e.name);
            pairs.push((gold_label.as_str().to_string(), pred.to_string()));
        }
    }
    pairs
}

/// A stance report over the three stance classes.
pub fn score_stance(gold: &[GoldDoc], predicted: &[Doc]) -> ClassReport {
    let classes: Vec<&str> = StanceLabel::ALL.iter().map(|s| s.as_str()).collect();
    ClassReport::new(&classes, &stance_pairs(gold, predicted))
}

#[cfg(test)]
mod tests {
    use super::*;
    use stancepipe_core::CompanyStance;

    #[test]
    fn missing_entities_count_as_errors() {
        let gold: Vec<GoldDoc> = gold::parse_gold(
            r#"{"id":"d","entities":[{"name":"A","stance":"favor"},{"name":"B","stance":"against"}]}
{"id":"gone","entities":[{"name":"A","stance":"none"}]}"#,
        )
        .unwrap();
        let mut doc = Doc::new("d", "");
        doc.stance.push(CompanyStance {
            company: "A".into(),
            stance: StanceLabel::Favor,
            score: 1.0,
            evidence: vec![],
            mentions: 1,
        });
        let r = score_stance(&gold, &[doc]);
        assert_eq!(r.support, 3);
        assert!((r.accuracy - 1.0 / 3.0).abs() < 1e-9);
        assert_eq!(r.class("favor").unwrap().f1, 1.0);
        assert_eq!(r.class("against").unwrap().recall, 0.0);
    }
}
