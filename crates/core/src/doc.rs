//! The document model. One [`Doc`] carries the original text and every
//! annotation the stages add; it is also the output record (serialized as
//! JSON). All offsets are byte offsets into [`Doc::text`], always on char
//! boundaries, so `&doc.text[s.start..s.end]` is the annotated text.

use crate::config::Company;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Version of the output schema (documented in `docs/output.md`). Bump it on
/// any change a reader of the JSON would notice.
pub const SCHEMA_VERSION: u32 = 4;

/// A half-open byte range `[start, end)` into the document text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Self {
        debug_assert!(start <= end);
        Span { start, end }
    }
    pub fn len(&self) -> usize {
        self.end - self.start
    }
    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }
    pub fn contains(&self, other: Span) -> bool {
        self.start <= other.start && other.end <= self.end
    }
}

/// Whether a sentence is running text or a structural line (a section
/// heading such as "II" or "Conclusion", a dateline). Labeling, stance and
/// summarization only use `Content` sentences.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum SentenceKind {
    #[default]
    Content,
    Heading,
}

/// The sentence label vocabulary every classify backend emits, so that
/// stance backends can read polarity without knowing the classifier.
pub mod labels {
    pub const POSITIVE: &str = "positive";
    pub const NEGATIVE: &str = "negative";
    pub const NEUTRAL: &str = "neutral";
    pub const ALL: [&str; 3] = [POSITIVE, NEGATIVE, NEUTRAL];
}

/// A label with its score and, when the backend has them, every class score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Label {
    pub label: String,
    pub score: f32,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub scores: BTreeMap<String, f32>,
}

impl Label {
    /// Signed polarity in [-1, 1]: P(positive) - P(negative) when the class
    /// scores are known, else +score / -score / 0 by the label.
    pub fn polarity(&self) -> f32 {
        match (
            self.scores.get(labels::POSITIVE),
            self.scores.get(labels::NEGATIVE),
        ) {
            (Some(p), Some(n)) => (p - n).clamp(-1.0, 1.0),
            _ => match self.label.as_str() {
                labels::POSITIVE => self.score,
                labels::NEGATIVE => -self.score,
                _ => 0.0,
            },
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sentence {
    #[serde(flatten)]
    pub span: Span,
    pub kind: SentenceKind,
    /// Index range into [`Doc::tokens`] of this sentence's subword tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens: Option<Span>,
    /// Set by the classify stage (content sentences only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<Label>,
}

impl Sentence {
    /// A sentence as segmentation finds it: no tokens, no label yet.
    pub fn new(span: Span, kind: SentenceKind) -> Self {
        Sentence {
            span,
            kind,
            tokens: None,
            label: None,
        }
    }
}

/// A subword token of the tokenizer named in the tokenize stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Token {
    #[serde(flatten)]
    pub span: Span,
    pub id: u32,
}

/// One occurrence of a company in the text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mention {
    #[serde(flatten)]
    pub span: Span,
    /// Index into [`Doc::sentences`] of the sentence holding the mention.
    pub sentence: usize,
    /// The configured alias that matched (the text itself is `text[start..end]`);
    /// for a reference, the reference word or phrase that matched.
    pub alias: String,
    /// A reference to the company by pronoun or description ("it", "the
    /// company") attached to it by the tokenize stage's reference rule, not
    /// its name.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reference: bool,
}

/// Where a tracked company came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    /// Named by the user: `pipeline.toml` or the input record's `companies`
    /// (`eval`: the gold entities).
    #[default]
    Configured,
    /// Found in the text by the tokenize stage's organization recognizer
    /// (`discover = true`).
    Discovered,
}

/// Every mention of one tracked company, in text order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entity {
    pub company: String,
    /// Configured or discovered.
    #[serde(default)]
    pub origin: Origin,
    /// A discovered company's surface forms as the text writes them (its
    /// name first); empty for a configured one, whose aliases are its config.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub forms: Vec<String>,
    pub mentions: Vec<Mention>,
}

impl Entity {
    /// A configured company with these mentions.
    pub fn new(company: impl Into<String>, mentions: Vec<Mention>) -> Entity {
        Entity {
            company: company.into(),
            origin: Origin::Configured,
            forms: Vec::new(),
            mentions,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StanceLabel {
    Favor,
    Against,
    None,
}

impl StanceLabel {
    pub const ALL: [StanceLabel; 3] = [StanceLabel::Favor, StanceLabel::Against, StanceLabel::None];
    pub fn as_str(self) -> &'static str {
        match self {
            StanceLabel::Favor => "favor",
            StanceLabel::Against => "against",
            StanceLabel::None => "none",
        }
    }
}

impl std::str::FromStr for StanceLabel {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "favor" => Ok(StanceLabel::Favor),
            "against" => Ok(StanceLabel::Against),
            "none" => Ok(StanceLabel::None),
            other => Err(format!(
                "unknown stance {other:?} (expected favor, against or none)"
            )),
        }
    }
}

/// The document-level stance toward one tracked company. Every tracked
/// company gets one entry, `none` when it is not mentioned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompanyStance {
    pub company: String,
    pub stance: StanceLabel,
    /// The decision's strength for `stance`, in [0, 1]: a probability of
    /// the learned decision (or the rule's strength), not calibrated
    /// (docs/output.md).
    pub score: f32,
    /// The sentences that support the label, strongest first, each with
    /// the readings of the company in it that counted.
    pub evidence: Vec<Evidence>,
    /// How many mentions the decision saw.
    pub mentions: usize,
}

/// One evidence sentence of a company's stance: why it counted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// Index into [`Doc::sentences`].
    pub sentence: usize,
    /// The sentence's polarity toward the company in [-1, 1] (its readings
    /// combined), as the decision used it.
    pub polarity: f32,
    /// The sentence's weight in the decision.
    pub weight: f32,
    /// The readings of the company in this sentence, in text order, at most
    /// [`MAX_READINGS`] (`mentions` counts them all); empty for backends that
    /// read whole sentences (`aggregate`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub readings: Vec<Reading>,
    /// How many mentions and references of the company the sentence holds.
    #[serde(default)]
    pub mentions: usize,
}

/// Most readings listed per evidence sentence: a run-on sentence naming a
/// company a thousand times is still one evidence entry of bounded size.
pub const MAX_READINGS: usize = 8;

/// What a stance model read at one mention (or reference) of a company.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reading {
    /// The mention or reference in the document's text.
    #[serde(flatten)]
    pub span: Span,
    /// Whether the span is a reference ("it", "the company"), not a name.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reference: bool,
    /// The model's label for the company at this span (favor/against/none).
    pub label: StanceLabel,
    /// Signed polarity in [-1, 1] that the decision used.
    pub polarity: f32,
    /// The reading's weight (the model's confidence).
    pub weight: f32,
}

impl CompanyStance {
    /// The evidence sentences' indices, strongest first.
    pub fn evidence_sentences(&self) -> Vec<usize> {
        self.evidence.iter().map(|e| e.sentence).collect()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SummaryMethod {
    Abstractive,
    Extractive,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub text: String,
    pub method: SummaryMethod,
    /// The model that wrote it, or `none` for model-free methods.
    pub model: String,
    /// For extractive summaries: the chosen sentence indices, in text order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sentences: Vec<usize>,
    /// Why this method was used when it is not the one configured (fallbacks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// What one stage did to this document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    /// The stage's `id` in `pipeline.toml`.
    pub stage: String,
    pub kind: String,
    pub backend: String,
    /// Model id or path, or `none`.
    pub model: String,
    /// Wall time of the stage's call on the batch this document was part of,
    /// in ms: stages work on whole batches, so a document's own share cannot
    /// be measured; divide by `batch_docs` for a mean.
    pub batch_ms: f64,
    /// How many documents that call processed.
    pub batch_docs: usize,
}

/// Why a document could not be processed. A document with an error is an
/// error record: later stages skip it, and it is still written out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DocError {
    /// The stage that failed, or `input` when the document could not be read.
    pub stage: String,
    pub message: String,
}

/// The unit that flows through the pipeline and is written out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Doc {
    pub schema_version: u32,
    pub id: String,
    /// Digest of the pipeline configuration that made this record (stages,
    /// their options, companies; not `[run]`): `--resume` warns when it
    /// continues a file made with another one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_digest: Option<String>,
    /// Where the document came from (file path, `path:line` for JSONL, `-`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    pub text: String,
    /// Companies tracked in this document only, beside the configured ones
    /// (a JSONL record's `companies`; `eval`'s gold entities of the
    /// document). Input only: never written (the entities and stances they
    /// get are). See [`Doc::company_names`].
    #[serde(default, skip_serializing)]
    pub companies: Vec<Company>,
    #[serde(default)]
    pub sentences: Vec<Sentence>,
    #[serde(default)]
    pub tokens: Vec<Token>,
    #[serde(default)]
    pub entities: Vec<Entity>,
    #[serde(default)]
    pub stance: Vec<CompanyStance>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<Summary>,
    #[serde(default)]
    pub provenance: Vec<Provenance>,
    /// What a stage did not do in full, and why (a per-document cap that
    /// applied, say); absent when everything was done.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<DocError>,
}

impl Doc {
    pub fn new(id: impl Into<String>, text: impl Into<String>) -> Self {
        Doc {
            schema_version: SCHEMA_VERSION,
            id: id.into(),
            config_digest: None,
            source: None,
            text: text.into(),
            companies: Vec::new(),
            sentences: Vec::new(),
            tokens: Vec::new(),
            entities: Vec::new(),
            stance: Vec::new(),
            summary: None,
            provenance: Vec::new(),
            notes: Vec::new(),
            error: None,
        }
    }

    /// A record for a document that could not be processed at all.
    pub fn failed(id: impl Into<String>, stage: &str, message: impl Into<String>) -> Self {
        let mut doc = Doc::new(id, String::new());
        doc.error = Some(DocError {
            stage: stage.to_string(),
            message: message.into(),
        });
        doc
    }

    /// A document made of the given sentences, one per line, already
    /// segmented: for tests and for callers that segment text themselves.
    pub fn from_sentences(id: impl Into<String>, parts: &[(&str, SentenceKind)]) -> Self {
        let mut text = String::new();
        let mut sentences = Vec::with_capacity(parts.len());
        for (part, kind) in parts {
            if !text.is_empty() {
                text.push('\n');
            }
            let start = text.len();
            text.push_str(part);
            sentences.push(Sentence {
                span: Span::new(start, text.len()),
                kind: *kind,
                tokens: None,
                label: None,
            });
        }
        let mut doc = Doc::new(id, text);
        doc.sentences = sentences;
        doc
    }

    /// The companies tracked in this document, by name: `configured` (in
    /// that order), then this document's own [`Doc::companies`] whose names
    /// are not among them, as [`crate::merge_companies`] merges them, then
    /// the companies the tokenize stage discovered (its entities with
    /// [`Origin::Discovered`]). The tokenize stage writes one entity per
    /// name, the stance stage one stance per name, in this order.
    pub fn company_names(&self, configured: &[String]) -> Vec<String> {
        let mut out = configured.to_vec();
        let discovered = self
            .entities
            .iter()
            .filter(|e| e.origin == Origin::Discovered)
            .map(|e| &e.company);
        for name in self.companies.iter().map(|c| &c.name).chain(discovered) {
            let name = name.trim();
            if !name.is_empty() && !out.iter().any(|x| x.eq_ignore_ascii_case(name)) {
                out.push(name.to_string());
            }
        }
        out
    }

    pub fn is_ok(&self) -> bool {
        self.error.is_none()
    }

    /// The text a span points at.
    pub fn slice(&self, span: Span) -> &str {
        &self.text[span.start..span.end]
    }

    /// Indices of the content (non-heading) sentences.
    pub fn content_sentences(&self) -> impl Iterator<Item = usize> + '_ {
        self.sentences
            .iter()
            .enumerate()
            .filter(|(_, s)| s.kind == SentenceKind::Content)
            .map(|(i, _)| i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doc_roundtrips_through_json() {
        let mut doc = Doc::new("d1", "Alipay fell. WeChat rose.");
        doc.sentences.push(Sentence {
            span: Span::new(0, 12),
            kind: SentenceKind::Content,
            tokens: None,
            label: Some(Label {
                label: "negative".into(),
                score: 0.8,
                scores: BTreeMap::new(),
            }),
        });
        doc.stance.push(CompanyStance {
            company: "Alipay".into(),
            stance: StanceLabel::Against,
            score: 0.7,
            evidence: vec![Evidence {
                sentence: 0,
                polarity: -0.8,
                weight: 1.0,
                readings: vec![],
                mentions: 1,
            }],
            mentions: 1,
        });
        let json = serde_json::to_string(&doc).unwrap();
        assert!(json.contains(&format!("\"schema_version\":{SCHEMA_VERSION}")));
        assert!(json.contains("\"stance\":\"against\""));
        assert!(json.contains("\"start\":0,\"end\":12"));
        let back: Doc = serde_json::from_str(&json).unwrap();
        assert_eq!(back, doc);
        assert_eq!(back.slice(back.sentences[0].span), "Alipay fell.");
    }

    #[test]
    fn own_companies_are_input_only_and_follow_the_configured_ones() {
        let mut doc = Doc::new("d", "Ant rose.");
        doc.companies = vec![
            Company::new("Ant", &[]),
            Company::new("alipay", &[]),
            Company::new(" Bolt ", &[]),
        ];
        let configured = ["Alipay".to_string()];
        assert_eq!(doc.company_names(&configured), ["Alipay", "Ant", "Bolt"]);
        let names: Vec<String> =
            crate::merge_companies(&[Company::new("Alipay", &[])], &doc.companies)
                .into_iter()
                .map(|c| c.name)
                .collect();
        assert_eq!(names, doc.company_names(&configured));
        let json = serde_json::to_string(&doc).unwrap();
        assert!(!json.contains("companies"), "{json}");
        let back: Doc = serde_json::from_str(
            r#"{"schema_version":2,"id":"d","text":"t","companies":[{"name":"Ant"}]}"#,
        )
        .unwrap();
        assert_eq!(back.companies, [Company::new("Ant", &[])]);
    }

    #[test]
    fn polarity_prefers_class_scores() {
        let mut l = Label {
            label: labels::NEGATIVE.into(),
            score: 0.6,
            scores: BTreeMap::new(),
        };
        assert_eq!(l.polarity(), -0.6);
        l.scores.insert(labels::POSITIVE.into(), 0.1);
        l.scores.insert(labels::NEGATIVE.into(), 0.6);
        assert!((l.polarity() + 0.5).abs() < 1e-6);
    }

    #[test]
    fn from_sentences_spans_point_at_the_parts() {
        let d = Doc::from_sentences(
            "d",
            &[
                ("I", SentenceKind::Heading),
                ("Alipay fell.", SentenceKind::Content),
            ],
        );
        assert_eq!(d.text, "I\nAlipay fell.");
        assert_eq!(d.slice(d.sentences[1].span), "Alipay fell.");
        assert_eq!(d.content_sentences().collect::<Vec<_>>(), vec![1]);
    }

    #[test]
    fn stance_label_parses_only_known_values() {
        assert_eq!("favor".parse::<StanceLabel>().unwrap(), StanceLabel::Favor);
        assert!("positive".parse::<StanceLabel>().is_err());
    }
}
