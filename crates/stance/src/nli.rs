//! The `zero-shot-nli` backend: stance from an NLI model (e.g.
//! `facebook/bart-large-mnli`, for users who have it). Each content sentence
//! mentioning a company is the premise for two hypotheses (configurable),
//! "The author is in favor of {company}." and "The author is against
//! {company}."; the sentence's polarity is P(favor) - P(against) and its
//! weight the larger of the two. The company's stance then follows
//! [`crate::decide`], as for the other backends.

use crate::{content_sentences, decide, Rule};
use serde::{Deserialize, Serialize};
use stancepipe_core::{
    Annotation, BackendConfig, BuildContext, Doc, OptionError, SentenceKind, Stage, StageConfig,
    StageError,
};
use stancepipe_encoder::nli::NliModel;
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NliStanceConfig {
    pub model: String,
    pub favor_hypothesis: String,
    pub against_hypothesis: String,
    pub min_mentions: usize,
    pub threshold: f64,
    pub max_evidence: usize,
}

impl Default for NliStanceConfig {
    fn default() -> Self {
        NliStanceConfig {
            model: "facebook/bart-large-mnli".into(),
            favor_hypothesis: "The author is in favor of {company}.".into(),
            against_hypothesis: "The author is against {company}.".into(),
            min_mentions: 3,
            threshold: 0.15,
            max_evidence: 3,
        }
    }
}

impl StageConfig for NliStanceConfig {
    fn requires(&self) -> Vec<Annotation> {
        vec![Annotation::Sentences, Annotation::Mentions]
    }
    fn provides(&self) -> Vec<Annotation> {
        vec![Annotation::Stance]
    }
    fn model(&self) -> Option<String> {
        Some(self.model.clone())
    }
    fn check(&self, ctx: &BuildContext) -> Result<(), OptionError> {
        for (key, h) in [
            ("favor_hypothesis", &self.favor_hypothesis),
            ("against_hypothesis", &self.against_hypothesis),
        ] {
            if !h.contains("{company}") {
                return Err(OptionError::new(key, "must contain {company}"));
            }
        }
        if !(0.0..=1.0).contains(&self.threshold) {
            return Err(OptionError::new("threshold", "must be in [0, 1]"));
        }
        if self.max_evidence == 0 {
            return Err(OptionError::new("max_evidence", "must be at least 1"));
        }
        stancepipe_encoder::nli::check_model(&self.model, ctx)
    }
    fn build(&self, ctx: &BuildContext) -> Result<Box<dyn Stage>, OptionError> {
        let model = stancepipe_encoder::nli::load_model(&self.model, ctx)?;
        Ok(Box::new(NliStance {
            model,
            companies: ctx.companies.iter().map(|c| c.name.clone()).collect(),
            cfg: self.clone(),
        }))
    }
}

impl BackendConfig for NliStanceConfig {
    const KIND: &'static str = "stance";
    const BACKEND: &'static str = "zero-shot-nli";
    const DESCRIPTION: &'static str =
        "stance from an NLI model (e.g. facebook/bart-large-mnli): favor/against hypotheses per mentioning sentence";
    const OPTIONS: &'static [(&'static str, &'static str)] = &[
        ("model", "NLI model directory or hub id (BART architecture)"),
        ("favor_hypothesis", "hypothesis for favor; {company} is replaced by the company name"),
        ("against_hypothesis", "hypothesis for against; {company} is replaced by the company name"),
        ("min_mentions", crate::MIN_MENTIONS_HELP),
        ("threshold", "weighted mean of P(favor) - P(against) needed for favor (>=) or against (<= -threshold)"),
        ("max_evidence", "most evidence sentences listed per company, at least 1"),
    ];
}

struct NliStance {
    model: NliModel,
    companies: Vec<String>,
    cfg: NliStanceConfig,
}

impl NliStance {
    fn stances(&self, doc: &Doc) -> Result<Vec<stancepipe_core::CompanyStance>, String> {
        let rule = Rule {
            min_mentions: self.cfg.min_mentions,
            threshold: self.cfg.threshold,
            max_evidence: self.cfg.max_evidence,
        };
        let content = content_sentences(doc);
        let tracked = doc.company_names(&self.companies);
        let mut out = Vec::with_capacity(tracked.len());
        for c in &tracked {
            let mut sentences: Vec<usize> = Vec::new();
            let mut mentions = 0;
            for e in doc.entities.iter().filter(|e| &e.company == c) {
                mentions += e.mentions.len();
                for m in &e.mentions {
                    let ok = doc
                        .sentences
                        .get(m.sentence)
                        .is_some_and(|s| s.kind == SentenceKind::Content);
                    if ok && !sentences.contains(&m.sentence) {
                        sentences.push(m.sentence);
                    }
                }
            }
            let premises: Vec<&str> = sentences
                .iter()
                .map(|&i| doc.slice(doc.sentences[i].span))
                .collect();
            let favor = self.cfg.favor_hypothesis.replace("{company}", c);
            let against = self.cfg.against_hypothesis.replace("{company}", c);
            let scores = self
                .model
                .entailment(&premises, &[favor.as_str(), against.as_str()])?;
            let evidence: BTreeMap<usize, (f32, f32)> = sentences
                .iter()
                .zip(scores)
                .map(|(&i, s)| (i, (s[0] - s[1], s[0].max(s[1]))))
                .collect();
            out.push(decide(c, &evidence, mentions, content, rule));
        }
        Ok(out)
    }
}

impl Stage for NliStance {
    fn backend(&self) -> &str {
        NliStanceConfig::BACKEND
    }
    fn model(&self) -> Option<&str> {
        Some(self.model.id())
    }
    fn process(&self, docs: &mut [Doc]) -> Result<(), StageError> {
        let mut errors = Vec::new();
        for (i, doc) in docs.iter_mut().enumerate() {
            match self.stances(doc) {
                Ok(s) => doc.stance = s,
                Err(e) => errors.push((i, e)),
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(StageError::Docs(errors))
        }
    }
}
