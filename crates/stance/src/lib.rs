//! Document-level stance toward each tracked company: favor, against or none,
//! with a confidence and the sentences that support it.
//!
//! The `aggregate` backend is a transparent baseline built on the sentence
//! labels of the classify stage. For each company of the configuration, in
//! configuration order, then each of the document's own companies
//! ([`Doc::companies`], [`Doc::company_names`]) (every company gets exactly one [`CompanyStance`],
//! also when the document never mentions it):
//!
//! 1. **Evidence sentences**: the distinct *content* sentences holding at
//!    least one mention of the company (from [`Doc::entities`]) and carrying
//!    a label. A sentence that mentions the company twice counts once;
//!    mentions in headings are counted in `mentions` but are not evidence.
//! 2. `n` = number of evidence sentences, `m` = mean of their
//!    [`Label::polarity`](stancepipe_core::Label::polarity) (in [-1, 1]).
//! 3. **Label**: if `n < min(min_mentions, c)` (or `n = 0`), with `c` the
//!    document's number of content sentences, the company is only mentioned
//!    in passing: `none`. (A company named in every content sentence of a
//!    short document, a headline say, is its subject, not a passing
//!    mention.) Otherwise `favor` if `m >= threshold`,
//!    `against` if `m <= -threshold` (and `m` is not 0, so `threshold = 0`
//!    does not turn a flat document into favor), else `none`.
//! 4. **Score**: strength `s = min(|m|, 1) * n / (n + 1)`: the mean polarity,
//!    shrunk toward 0 when there are few evidence sentences (one sentence
//!    keeps half of it, four keep 80%). `favor`/`against` score `s`; `none`
//!    scores `1 - s`, so an unmentioned company is `none` with score 1 and a
//!    passing but glowing mention is a less certain `none`. Scores are
//!    heuristic confidences, not calibrated probabilities.
//! 5. **Evidence**: for `favor`, the evidence sentences with positive
//!    polarity, most positive first; for `against`, those with negative
//!    polarity, most negative first; for `none`, those closest to neutral
//!    (smallest `|polarity|`) first, or nothing when there are none. Ties keep
//!    text order; at most `max_evidence` sentences.
//!
//! Known limitation: a sentence's polarity is credited to every company it
//! mentions. "Unlike Alipay, WeChat succeeded" is positive, so it counts for
//! Alipay too; contrastive and comparative sentences need a target-aware
//! model, which later backends will provide.

pub mod document;
pub mod nli;
pub mod target;

use serde::{Deserialize, Serialize};
use stancepipe_core::{
    par_each_doc, Annotation, BackendConfig, BuildContext, CompanyStance, Doc, Evidence,
    OptionError, Registry, RegistryError, SentenceKind, Stage, StageConfig, StageError,
    StanceLabel,
};
use std::collections::BTreeMap;

/// Options of the `aggregate` backend.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AggregateConfig {
    /// Fewer evidence sentences than this means "mentioned in passing".
    pub min_mentions: usize,
    /// Mean polarity needed for favor (>= threshold) or against (<= -threshold).
    pub threshold: f64,
    /// Most evidence sentences reported per company.
    pub max_evidence: usize,
}

impl Default for AggregateConfig {
    fn default() -> Self {
        AggregateConfig {
            min_mentions: 2,
            threshold: 0.1,
            max_evidence: 3,
        }
    }
}

impl StageConfig for AggregateConfig {
    fn requires(&self) -> Vec<Annotation> {
        vec![
            Annotation::Sentences,
            Annotation::Mentions,
            Annotation::SentenceLabels,
        ]
    }

    fn provides(&self) -> Vec<Annotation> {
        vec![Annotation::Stance]
    }

    fn check(&self, _ctx: &BuildContext) -> Result<(), OptionError> {
        if !(self.threshold.is_finite() && (0.0..=1.0).contains(&self.threshold)) {
            return Err(OptionError::new(
                "threshold",
                format!("threshold must be in [0, 1], got {}", self.threshold),
            ));
        }
        if self.max_evidence < 1 {
            return Err(OptionError::new(
                "max_evidence",
                "max_evidence must be at least 1",
            ));
        }
        Ok(())
    }

    fn build(&self, ctx: &BuildContext) -> Result<Box<dyn Stage>, OptionError> {
        self.check(ctx)?;
        Ok(Box::new(AggregateStance {
            companies: ctx.companies.iter().map(|c| c.name.clone()).collect(),
            config: self.clone(),
        }))
    }
}

impl BackendConfig for AggregateConfig {
    const KIND: &'static str = "stance";
    const BACKEND: &'static str = "aggregate";
    const DESCRIPTION: &'static str =
        "mean sentence polarity over the sentences mentioning each company (model-free)";
    const OPTIONS: &'static [(&'static str, &'static str)] = &[
        ("min_mentions", MIN_MENTIONS_HELP),
        (
            "threshold",
            "mean sentence polarity needed for favor (>= threshold) or against (<= -threshold), in [0, 1]",
        ),
        (
            "max_evidence",
            "most evidence sentences listed per company, at least 1",
        ),
    ];
}

/// The running `aggregate` backend.
pub struct AggregateStance {
    /// Tracked company names, in configuration order.
    companies: Vec<String>,
    config: AggregateConfig,
}

impl AggregateStance {
    /// The stance toward every tracked company, in configuration order,
    /// then the document's own companies ([`Doc::company_names`]).
    pub fn stances(&self, doc: &Doc) -> Result<Vec<CompanyStance>, String> {
        let content = content_sentences(doc);
        doc.company_names(&self.companies)
            .iter()
            .map(|c| self.stance(doc, c, content))
            .collect()
    }

    /// `content`: the document's content sentences ([`content_sentences`]).
    fn stance(&self, doc: &Doc, company: &str, content: usize) -> Result<CompanyStance, String> {
        let cfg = &self.config;
        // Evidence sentence -> polarity; a BTreeMap dedupes and keeps text order.
        let mut evidence: BTreeMap<usize, f32> = BTreeMap::new();
        let mut mentions = 0;
        for entity in doc.entities.iter().filter(|e| e.company == company) {
            mentions += entity.mentions.len();
            for m in &entity.mentions {
                let s = doc.sentences.get(m.sentence).ok_or_else(|| {
                    format!(
                        "a mention of {company} points at sentence {} but the document has {} sentences",
                        m.sentence,
                        doc.sentences.len()
                    )
                })?;
                if s.kind != SentenceKind::Content {
                    continue;
                }
                if let Some(label) = &s.label {
                    evidence.insert(m.sentence, label.polarity());
                }
            }
        }

        let weighted = evidence.into_iter().map(|(i, p)| (i, (p, 1.0))).collect();
        Ok(decide(
            company,
            &weighted,
            mentions,
            content,
            Rule {
                min_mentions: cfg.min_mentions,
                threshold: cfg.threshold,
                max_evidence: cfg.max_evidence,
            },
        ))
    }
}

/// The document-level decision, shared by every stance backend.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rule {
    pub min_mentions: usize,
    pub threshold: f64,
    pub max_evidence: usize,
}

/// What every backend's `min_mentions` option means ([`decide`] applies it).
pub(crate) const MIN_MENTIONS_HELP: &str = "fewer distinct content sentences mentioning a company than this gives `none` (mentioned in passing), unless the document has fewer content sentences and the company is in all of them";

/// The number of content sentences of `doc` (headings aside): the length
/// against which [`decide`] judges a mention to be in passing.
pub fn content_sentences(doc: &Doc) -> usize {
    doc.sentences
        .iter()
        .filter(|s| s.kind == SentenceKind::Content)
        .count()
}

/// Decides a company's stance from its evidence sentences: sentence index ->
/// (polarity in [-1, 1], weight > 0), in a document of `content_sentences`
/// ([`content_sentences`]). `m` is the weighted mean polarity and `n` the
/// number of evidence sentences; the rest is the rule in the crate
/// documentation (with weight 1 everywhere for `aggregate`).
pub fn decide(
    company: &str,
    evidence: &BTreeMap<usize, (f32, f32)>,
    mentions: usize,
    content_sentences: usize,
    rule: Rule,
) -> CompanyStance {
    let n = evidence.len();
    let total_weight: f64 = evidence.values().map(|&(_, w)| f64::from(w)).sum();
    let mean = if n == 0 || total_weight <= 0.0 {
        0.0
    } else {
        evidence
            .values()
            .map(|&(p, w)| f64::from(p) * f64::from(w))
            .sum::<f64>()
            / total_weight
    };
    let strength = mean.abs().min(1.0) * n as f64 / (n as f64 + 1.0);
    let stance = if in_passing(n, content_sentences, rule.min_mentions) {
        StanceLabel::None
    } else if mean > 0.0 && mean >= rule.threshold {
        StanceLabel::Favor
    } else if mean < 0.0 && mean <= -rule.threshold {
        StanceLabel::Against
    } else {
        StanceLabel::None
    };
    let score = match stance {
        StanceLabel::None => 1.0 - strength,
        _ => strength,
    } as f32;

    CompanyStance {
        company: company.to_string(),
        stance,
        score,
        evidence: rank_evidence(evidence, stance, rule.max_evidence),
        mentions,
    }
}

/// Whether a company found in `n` distinct content sentences of a document
/// of `content_sentences` is only mentioned in passing: in fewer sentences
/// than `min_mentions`, unless the document has fewer content sentences
/// than that and the company is in them all.
pub fn in_passing(n: usize, content_sentences: usize, min_mentions: usize) -> bool {
    n == 0 || n < min_mentions.min(content_sentences.max(1))
}

/// The evidence sentences that support `stance`, strongest first (ties in
/// text order), at most `max`: for favor those with positive polarity, for
/// against those with negative polarity, for none those closest to neutral.
pub fn rank_evidence(
    evidence: &BTreeMap<usize, (f32, f32)>,
    stance: StanceLabel,
    max: usize,
) -> Vec<Evidence> {
    let polarities = evidence.iter().map(|(&i, &(p, _))| (i, p));
    let mut ranked: Vec<(usize, f32)> = match stance {
        StanceLabel::Favor => polarities.filter(|&(_, p)| p > 0.0).collect(),
        StanceLabel::Against => polarities.filter(|&(_, p)| p < 0.0).collect(),
        StanceLabel::None => polarities.collect(),
    };
    // Stable sorts: ties keep text order.
    match stance {
        StanceLabel::Favor => ranked.sort_by(|a, b| b.1.total_cmp(&a.1)),
        StanceLabel::Against => ranked.sort_by(|a, b| a.1.total_cmp(&b.1)),
        StanceLabel::None => ranked.sort_by(|a, b| a.1.abs().total_cmp(&b.1.abs())),
    }
    ranked.truncate(max);
    ranked
        .into_iter()
        .map(|(i, p)| Evidence {
            sentence: i,
            polarity: p,
            weight: evidence[&i].1,
            readings: Vec::new(),
            mentions: 0,
        })
        .collect()
}

impl Stage for AggregateStance {
    fn backend(&self) -> &str {
        AggregateConfig::BACKEND
    }

    fn process(&self, docs: &mut [Doc]) -> Result<(), StageError> {
        par_each_doc(docs, |doc| {
            doc.stance = self.stances(doc)?;
            Ok(())
        })
    }
}

/// Registers every stance backend; `aggregate` (the default) first.
pub fn register(registry: &mut Registry) -> Result<(), RegistryError> {
    registry.register::<AggregateConfig>()?;
    registry.register::<target::TargetSentimentConfig>()?;
    registry.register::<nli::NliStanceConfig>()
}

#[cfg(test)]
mod tests {
    use super::*;
    use stancepipe_core::{labels, Company, Entity, Label, Mention, Span};

    /// A sentence: its text, kind, polarity (None = unlabelled) and the
    /// companies it mentions.
    struct S<'a>(&'a str, SentenceKind, Option<f32>, &'a [&'a str]);

    fn content<'a>(text: &'a str, polarity: f32, companies: &'a [&'a str]) -> S<'a> {
        S(text, SentenceKind::Content, Some(polarity), companies)
    }

    /// Labels as the lexicon classifier writes them.
    fn label(c: f32) -> Label {
        let name = if c >= 0.05 {
            labels::POSITIVE
        } else if c <= -0.05 {
            labels::NEGATIVE
        } else {
            labels::NEUTRAL
        };
        let scores = BTreeMap::from([
            (labels::POSITIVE.to_string(), c.max(0.0)),
            (labels::NEGATIVE.to_string(), (-c).max(0.0)),
            (labels::NEUTRAL.to_string(), 1.0 - c.abs()),
        ]);
        Label {
            label: name.into(),
            score: scores[name],
            scores,
        }
    }

    fn doc(sentences: &[S]) -> Doc {
        let parts: Vec<(&str, SentenceKind)> = sentences
            .iter()
            .map(|S(t, kind, _, _)| (*t, *kind))
            .collect();
        let mut d = Doc::from_sentences("d", &parts);
        let mut entities: Vec<Entity> = Vec::new();
        for (i, S(t, _, polarity, companies)) in sentences.iter().enumerate() {
            d.sentences[i].label = polarity.map(label);
            let start = d.sentences[i].span.start;
            for c in *companies {
                let at = start + t.find(c).expect("company named in its sentence");
                let mention = Mention {
                    span: Span::new(at, at + c.len()),
                    sentence: i,
                    alias: c.to_string(),
                    reference: false,
                };
                match entities.iter_mut().find(|e| e.company == *c) {
                    Some(e) => e.mentions.push(mention),
                    None => entities.push(Entity::new(c.to_string(), vec![mention])),
                }
            }
        }
        d.entities = entities;
        d
    }

    fn ctx(companies: &[&str]) -> BuildContext {
        BuildContext {
            base_dir: Default::default(),
            companies: companies
                .iter()
                .map(|c| Company {
                    name: c.to_string(),
                    aliases: vec![],
                    case_sensitive: false,
                    case_insensitive: false,
                })
                .collect(),
        }
    }

    fn run_with(cfg: &AggregateConfig, companies: &[&str], d: Doc) -> Vec<CompanyStance> {
        let stage = cfg.build(&ctx(companies)).unwrap();
        let mut docs = vec![d];
        stage.process(&mut docs).unwrap();
        docs.remove(0).stance
    }

    fn run(companies: &[&str], d: Doc) -> Vec<CompanyStance> {
        run_with(&AggregateConfig::default(), companies, d)
    }

    fn close(a: f32, b: f64) -> bool {
        (f64::from(a) - b).abs() < 1e-5
    }

    #[test]
    fn favor_against_and_none() {
        let d = doc(&[
            content("WeChat grew fast.", 0.6, &["WeChat"]),
            content("Alipay lost users.", -0.5, &["Alipay"]),
            content("WeChat launched a great product.", 0.4, &["WeChat"]),
            content("Alipay faces a lawsuit.", -0.3, &["Alipay"]),
            content("JD reported results.", 0.05, &["JD"]),
            content("JD is headquartered in Beijing.", -0.05, &["JD"]),
        ]);
        let s = run(&["WeChat", "Alipay", "JD"], d);
        assert_eq!(s[0].stance, StanceLabel::Favor);
        assert_eq!(s[1].stance, StanceLabel::Against);
        assert_eq!(s[2].stance, StanceLabel::None);
        // s = |m| * n / (n + 1) with n = 2.
        assert!(close(s[0].score, 0.5 * 2.0 / 3.0), "{:?}", s[0]);
        assert!(close(s[1].score, 0.4 * 2.0 / 3.0), "{:?}", s[1]);
        // m = 0 for JD: none with full confidence.
        assert!(close(s[2].score, 1.0), "{:?}", s[2]);
        assert_eq!(s[0].evidence_sentences(), [0, 2]);
        assert_eq!(s[1].evidence_sentences(), [1, 3]);
        assert_eq!(s[0].mentions, 2);
    }

    #[test]
    fn threshold_separates_weak_opinions() {
        let d = || {
            doc(&[
                content("WeChat did fine.", 0.16, &["WeChat"]),
                content("WeChat did okay.", 0.06, &["WeChat"]),
            ])
        };
        // m = 0.11 reaches the default threshold of 0.1.
        assert_eq!(run(&["WeChat"], d())[0].stance, StanceLabel::Favor);
        let strict = AggregateConfig {
            threshold: 0.2,
            ..AggregateConfig::default()
        };
        let s = run_with(&strict, &["WeChat"], d());
        assert_eq!(s[0].stance, StanceLabel::None);
        assert!(close(s[0].score, 1.0 - 0.11 * 2.0 / 3.0), "{:?}", s[0]);
        // none lists the sentences closest to neutral first.
        assert_eq!(s[0].evidence_sentences(), [1, 0]);
    }

    #[test]
    fn passing_mention_is_none() {
        let d = doc(&[
            content(
                "Alipay had a wonderful, record-breaking year.",
                0.9,
                &["Alipay"],
            ),
            content("Markets were calm.", 0.0, &[]),
        ]);
        let s = run(&["Alipay"], d);
        assert_eq!(s[0].stance, StanceLabel::None);
        assert_eq!(s[0].mentions, 1);
        assert_eq!(s[0].evidence_sentences(), [0]);
        // A glowing passing mention lowers the confidence in none.
        assert!(close(s[0].score, 1.0 - 0.9 / 2.0), "{:?}", s[0]);
    }

    #[test]
    fn the_subject_of_a_short_document_is_not_a_passing_mention() {
        // A headline: one content sentence, one mention, under the default
        // min_mentions (2).
        let headline = doc(&[content(
            "Alipay shares jump after record profits.",
            0.8,
            &["Alipay"],
        )]);
        assert_eq!(run(&["Alipay"], headline)[0].stance, StanceLabel::Favor);
        // Headings do not count as content: the company is in the one
        // content sentence there is.
        let titled = doc(&[
            S("Alipay results", SentenceKind::Heading, None, &["Alipay"]),
            content("Alipay lost money again.", -0.7, &["Alipay"]),
        ]);
        let s = run(&["Alipay"], titled);
        assert_eq!((s[0].stance, s[0].mentions), (StanceLabel::Against, 2));
        // Two content sentences, the company in one of them: in passing.
        let two = doc(&[
            content("Alipay lost money again.", -0.7, &["Alipay"]),
            content("Markets were calm.", 0.0, &[]),
        ]);
        assert_eq!(run(&["Alipay"], two)[0].stance, StanceLabel::None);
        // A document with no content sentence gives nothing a stance.
        let empty = doc(&[S("Alipay", SentenceKind::Heading, None, &["Alipay"])]);
        assert_eq!(run(&["Alipay"], empty)[0].stance, StanceLabel::None);
    }

    #[test]
    fn decide_needs_min_mentions_only_of_a_document_that_has_them() {
        let one = BTreeMap::from([(0, (-0.9, 1.0))]);
        let rule = Rule {
            min_mentions: 3,
            threshold: 0.15,
            max_evidence: 1,
        };
        let label = |content| decide("A", &one, 1, content, rule).stance;
        assert_eq!(label(1), StanceLabel::Against);
        assert_eq!(label(2), StanceLabel::None);
        assert_eq!(label(60), StanceLabel::None);
        let three = BTreeMap::from([(0, (-0.9, 1.0)), (4, (-0.5, 1.0)), (9, (0.0, 1.0))]);
        assert_eq!(
            decide("A", &three, 3, 60, rule).stance,
            StanceLabel::Against
        );
        assert_eq!(decide("A", &three, 3, 2, rule).stance, StanceLabel::Against);
    }

    #[test]
    fn min_mentions_one_takes_a_single_sentence() {
        let d = doc(&[content("Alipay had a wonderful year.", 0.9, &["Alipay"])]);
        let cfg = AggregateConfig {
            min_mentions: 1,
            ..AggregateConfig::default()
        };
        let s = run_with(&cfg, &["Alipay"], d);
        assert_eq!(s[0].stance, StanceLabel::Favor);
        assert!(close(s[0].score, 0.45), "{:?}", s[0]);
    }

    #[test]
    fn one_entry_per_company_in_config_order() {
        let d = doc(&[
            content("Alipay fell.", -0.5, &["Alipay"]),
            content("Alipay fell again.", -0.5, &["Alipay"]),
            content("Meituan rose.", 0.5, &["Meituan"]),
        ]);
        // JD is tracked but absent from doc.entities; Meituan is in the
        // document but not tracked.
        let s = run(&["JD", "Alipay", "WeChat"], d);
        let names: Vec<&str> = s.iter().map(|c| c.company.as_str()).collect();
        assert_eq!(names, ["JD", "Alipay", "WeChat"]);
        for absent in [&s[0], &s[2]] {
            assert_eq!(absent.stance, StanceLabel::None);
            assert_eq!(absent.mentions, 0);
            assert_eq!(absent.score, 1.0);
            assert!(absent.evidence.is_empty());
        }
        assert_eq!(s[1].stance, StanceLabel::Against);
    }

    #[test]
    fn a_documents_own_companies_get_a_stance_after_the_configured_ones() {
        let mut d = doc(&[
            content("Ant fell hard.", -0.6, &["Ant"]),
            content("Ant lost again.", -0.5, &["Ant"]),
        ]);
        d.companies = vec![Company::new("Ant", &[]), Company::new("alipay", &[])];
        let s = run(&["Alipay"], d);
        let names: Vec<&str> = s.iter().map(|c| c.company.as_str()).collect();
        assert_eq!(names, ["Alipay", "Ant"]);
        assert_eq!(s[1].stance, StanceLabel::Against);
        assert_eq!(s[1].mentions, 2);
    }

    #[test]
    fn no_companies_means_no_stance() {
        let mut d = doc(&[content("Alipay fell.", -0.5, &["Alipay"])]);
        d.stance = vec![CompanyStance {
            company: "stale".into(),
            stance: StanceLabel::Favor,
            score: 1.0,
            evidence: vec![],
            mentions: 9,
        }];
        assert!(run(&[], d).is_empty());
    }

    #[test]
    fn evidence_is_strongest_first_and_capped() {
        let d = doc(&[
            content("WeChat a.", 0.2, &["WeChat"]),
            content("WeChat b.", 0.8, &["WeChat"]),
            content("WeChat c.", -0.1, &["WeChat"]),
            content("WeChat d.", 0.5, &["WeChat"]),
            content("WeChat e.", 0.8, &["WeChat"]),
            content("WeChat f.", 0.3, &["WeChat"]),
        ]);
        let s = run(&["WeChat"], d);
        assert_eq!(s[0].stance, StanceLabel::Favor);
        // Ties (b and e) keep text order; the negative sentence never supports favor.
        assert_eq!(s[0].evidence_sentences(), [1, 4, 3]);
        let cfg = AggregateConfig {
            max_evidence: 10,
            ..AggregateConfig::default()
        };
        let d = doc(&[
            content("WeChat a.", -0.2, &["WeChat"]),
            content("WeChat b.", 0.1, &["WeChat"]),
            content("WeChat c.", -0.9, &["WeChat"]),
        ]);
        let s = run_with(&cfg, &["WeChat"], d);
        assert_eq!(s[0].stance, StanceLabel::Against);
        assert_eq!(s[0].evidence_sentences(), [2, 0]);
    }

    #[test]
    fn repeated_mentions_and_headings() {
        let d = doc(&[
            S("WeChat Wins", SentenceKind::Heading, None, &["WeChat"]),
            // Two mentions, one sentence: counted once as evidence.
            S(
                "WeChat beat rivals and WeChat Pay grew.",
                SentenceKind::Content,
                Some(0.6),
                &["WeChat", "WeChat"],
            ),
            content("WeChat expanded abroad.", 0.4, &["WeChat"]),
            // Unlabelled content sentences are not evidence either.
            S(
                "WeChat was founded in 2011.",
                SentenceKind::Content,
                None,
                &["WeChat"],
            ),
        ]);
        let s = run(&["WeChat"], d);
        assert_eq!(s[0].mentions, 5);
        assert_eq!(s[0].stance, StanceLabel::Favor);
        // n = 2 (the heading, the repeat and the unlabelled one do not count), m = 0.5.
        assert!(close(s[0].score, 0.5 * 2.0 / 3.0), "{:?}", s[0]);
        assert_eq!(s[0].evidence_sentences(), [1, 2]);
    }

    #[test]
    fn contrastive_sentence_counts_for_both_companies() {
        // The documented limitation: the baseline cannot tell that the
        // praise is for WeChat only.
        let d = doc(&[
            content(
                "Unlike Alipay, WeChat succeeded brilliantly.",
                0.7,
                &["Alipay", "WeChat"],
            ),
            content(
                "Unlike Alipay, WeChat kept its users happy.",
                0.6,
                &["Alipay", "WeChat"],
            ),
        ]);
        let s = run(&["Alipay", "WeChat"], d);
        assert_eq!(s[0].stance, StanceLabel::Favor);
        assert_eq!(s[1].stance, StanceLabel::Favor);
    }

    #[test]
    fn rerun_assigns() {
        let stage = AggregateConfig::default().build(&ctx(&["WeChat"])).unwrap();
        let mut docs = vec![doc(&[content("WeChat rose.", 0.5, &["WeChat"])])];
        stage.process(&mut docs).unwrap();
        let first = docs[0].stance.clone();
        stage.process(&mut docs).unwrap();
        assert_eq!(docs[0].stance, first);
        assert_eq!(docs[0].stance.len(), 1);
    }

    #[test]
    fn dangling_mention_fails_only_that_document() {
        let stage = AggregateConfig::default().build(&ctx(&["WeChat"])).unwrap();
        let good = doc(&[content("WeChat rose.", 0.5, &["WeChat"])]);
        let mut bad = good.clone();
        bad.entities[0].mentions[0].sentence = 7;
        let mut docs = vec![good, bad];
        match stage.process(&mut docs) {
            Err(StageError::Docs(errs)) => {
                assert_eq!(errs.len(), 1);
                assert_eq!(errs[0].0, 1);
                assert!(errs[0].1.contains("sentence 7"), "{}", errs[0].1);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(docs[0].stance.len(), 1);
    }

    #[test]
    fn check_names_the_bad_key() {
        let c = BuildContext::default();
        let cfg = AggregateConfig {
            threshold: 1.5,
            ..AggregateConfig::default()
        };
        assert_eq!(cfg.check(&c).unwrap_err().key, "threshold");
        let cfg = AggregateConfig {
            threshold: f64::NAN,
            ..AggregateConfig::default()
        };
        assert_eq!(cfg.check(&c).unwrap_err().key, "threshold");
        let cfg = AggregateConfig {
            max_evidence: 0,
            ..AggregateConfig::default()
        };
        assert_eq!(cfg.check(&c).unwrap_err().key, "max_evidence");
        assert_eq!(cfg.build(&c).err().unwrap().key, "max_evidence");
        AggregateConfig::default().check(&c).unwrap();
    }

    #[test]
    fn every_option_is_documented() {
        let documented: Vec<&str> = AggregateConfig::OPTIONS.iter().map(|(k, _)| *k).collect();
        let table = toml::Value::try_from(AggregateConfig::default()).unwrap();
        let keys: Vec<&String> = table.as_table().unwrap().keys().collect();
        assert_eq!(keys.len(), documented.len());
        for key in keys {
            assert!(documented.contains(&key.as_str()), "{key} not in OPTIONS");
        }
    }

    #[test]
    fn registers_aggregate_as_the_default() {
        let mut r = Registry::new();
        register(&mut r).unwrap();
        assert_eq!(r.default_backend("stance"), Some("aggregate"));
        let f = r.factory("stance", None).unwrap();
        let cfg = f.parse("threshold = 0.2".parse().unwrap()).unwrap();
        assert_eq!(
            cfg.requires(),
            [
                Annotation::Sentences,
                Annotation::Mentions,
                Annotation::SentenceLabels
            ]
        );
        assert_eq!(cfg.provides(), [Annotation::Stance]);
        let defaults: Vec<_> = f
            .options()
            .into_iter()
            .map(|o| o.default.unwrap())
            .collect();
        assert_eq!(defaults, ["2", "0.1", "3"]);
    }
}
