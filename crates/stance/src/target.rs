//! The `target-sentiment` backend: the author's stance toward each mention
//! of a company. The default head (`stancepipe train stance`) is a one-pass
//! head: the unmarked sentence is encoded once (`StatesEncoder`, shared with
//! the classify stage through its cache) and each mention is read from that
//! pass as `[sentence mean, mean of the mention's own token states]`, so a
//! sentence naming two companies gives each its own reading at the cost of
//! one pass. Older heads (`stancepipe train target`) see the sentence with
//! the mention marked (`TargetFeatures`), one pass per mention; `head` may
//! list several of those (an ensemble, [`TargetModel`]) whose class
//! probabilities are averaged.
//!
//! Document-level rule ([`crate::decide`]): each mention gets a polarity
//! from its class probabilities ([`mention_polarity`]; by default the head's
//! label: +p, -p or 0 for neutral) and weight = the head's confidence (its
//! top class probability). A sentence's evidence is the weight-averaged polarity
//! of the company's mentions in it, weighted by their mean confidence; the
//! company's stance comes from the weighted mean over its evidence sentences,
//! with `none` when it appears in fewer than `min_mentions` content sentences
//! (mentioned in passing; a shorter document needs the company in all of its
//! content sentences) or when the mean is within ±`threshold`.

use crate::document::{self, Aggregator, MentionProbs};
use crate::{content_sentences, decide, in_passing, rank_evidence, Rule};
use serde::{Deserialize, Serialize};
use stancepipe_core::{
    labels, Annotation, BackendConfig, BuildContext, Doc, OptionError, Reading, Span, Stage,
    StageConfig, StageError, StanceLabel, MAX_READINGS,
};
use stancepipe_encoder::{features, Embed, Head, StatesEncoder, TargetFeatures};
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TargetSentimentConfig {
    pub encoder: String,
    /// One head directory, or several (an ensemble) whose class
    /// probabilities are averaged per mention.
    #[serde(deserialize_with = "one_or_more")]
    pub head: Vec<PathBuf>,
    pub min_mentions: usize,
    pub threshold: f64,
    pub max_evidence: usize,
    pub batch_size: usize,
    pub mention_polarity: MentionPolarity,
    /// A document-level decision fitted on document labels
    /// (`stancepipe train document`, [`crate::document`]); without one,
    /// the rule of [`crate::decide`] labels each company.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aggregator: Option<PathBuf>,
    /// Bytes of content sentences read per document by a one-pass head
    /// ([`stancepipe_encoder::READ_BYTES`]; the classify stage's option of
    /// the same name should match, so that the two share their passes).
    pub read_bytes: usize,
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

/// A path or a list of paths: `head = "a"` and `head = ["a", "b"]` both work.
fn one_or_more<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<PathBuf>, D::Error> {
    struct Paths;
    impl<'de> serde::de::Visitor<'de> for Paths {
        type Value = Vec<PathBuf>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a head directory or a list of head directories")
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(vec![PathBuf::from(v)])
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut seq: A,
        ) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some(p) = seq.next_element::<PathBuf>()? {
                out.push(p);
            }
            Ok(out)
        }
    }
    d.deserialize_any(Paths)
}

impl Default for TargetSentimentConfig {
    fn default() -> Self {
        TargetSentimentConfig {
            encoder: "models/all-MiniLM-L6-v2".into(),
            head: DEFAULT_HEADS.iter().map(PathBuf::from).collect(),
            min_mentions: 3,
            threshold: 0.15,
            max_evidence: 3,
            batch_size: 64,
            mention_polarity: MentionPolarity::Label,
            aggregator: None,
            read_bytes: stancepipe_encoder::READ_BYTES,
        }
    }
}

const TASK: &str = "target-sentiment";

/// The committed one-pass head (`stancepipe train stance`, docs/quality.md).
const DEFAULT_HEADS: [&str; 1] = ["models/heads/stance"];

/// One member of the ensemble: a head with the encoder it was trained over
/// (its own LoRA adapters, when it has them) and how it shows the target.
struct Member {
    encoder: Arc<dyn Embed>,
    head: Head,
    kind: TargetFeatures,
}

/// The target sentiment model of the stage: one head or an ensemble of
/// heads sharing their labels. Public so that developer tools read mentions
/// exactly as the stage does (`examples/mentions.rs`).
pub struct TargetModel {
    members: Vec<Member>,
    /// A one-pass head: every mention of a sentence read from one pass
    /// over the unmarked sentence, shared with the classify stage when both
    /// use the same encoder (`StatesEncoder`). `members` is empty then.
    one_pass: Option<(Arc<StatesEncoder>, Head)>,
}

/// What [`TargetModel::read_within`] returns: the mentions read, their class
/// probabilities, and (document, sentences cut or left out) for the
/// documents whose reading stopped at the budget.
pub type Readings = (Vec<MentionRef>, Vec<Vec<f32>>, Vec<(usize, usize)>);

/// Mentions whose features go through the head at once: bounds the memory
/// of a document with a huge number of mentions.
const PREDICT_CHUNK: usize = 4096;

/// One mention the model read: its document (index into the batch), company
/// and sentence.
#[derive(Debug, Clone, PartialEq)]
pub struct MentionRef {
    pub doc: usize,
    pub company: String,
    pub sentence: usize,
    /// The mention in the document's text.
    pub span: Span,
    /// A reference ("it", "the company"), not the company's name.
    pub reference: bool,
}

impl TargetModel {
    /// Loads every head of `heads` over `encoder`; they must be target heads
    /// with the same labels in the same order.
    pub fn load(encoder: &str, heads: &[PathBuf], ctx: &BuildContext) -> Result<Self, OptionError> {
        if let [one] = heads {
            if stancepipe_encoder::stage::is_one_pass(one, ctx) {
                let loaded = stancepipe_encoder::stage::load_one_pass(encoder, one, TASK, ctx)?;
                return Ok(TargetModel {
                    members: Vec::new(),
                    one_pass: Some(loaded),
                });
            }
        }
        let mut members: Vec<Member> = Vec::new();
        for path in heads {
            if stancepipe_encoder::stage::is_one_pass(path, ctx) {
                return Err(OptionError::new(
                    "head",
                    format!(
                        "{} is a one-pass head, which reads mentions alone, not in an ensemble",
                        path.display()
                    ),
                ));
            }
            let (encoder, head) = stancepipe_encoder::stage::load(encoder, path, TASK, ctx)?;
            if let Some(first) = members.first() {
                if first.head.manifest.labels != head.manifest.labels {
                    return Err(OptionError::new(
                        "head",
                        format!(
                            "{} has labels {:?} but {} has {:?}: the heads of an ensemble must share their labels",
                            path.display(),
                            head.manifest.labels,
                            heads[0].display(),
                            first.head.manifest.labels
                        ),
                    ));
                }
            }
            let kind = head.manifest.target_kind();
            members.push(Member {
                encoder,
                head,
                kind,
            });
        }
        if members.is_empty() {
            return Err(OptionError::new(
                "head",
                "needs at least one head directory",
            ));
        }
        Ok(TargetModel {
            members,
            one_pass: None,
        })
    }

    /// Output classes, in probability order.
    pub fn labels(&self) -> &[String] {
        match &self.one_pass {
            Some((_, head)) => &head.manifest.labels,
            None => &self.members[0].head.manifest.labels,
        }
    }

    /// The model as provenance names it.
    fn describe(&self, encoder: &str, heads: &str) -> String {
        match (&self.one_pass, self.members.as_slice()) {
            (Some((enc, _)), _) => {
                format!("{} + {heads} (one encoder pass per sentence)", enc.id())
            }
            (None, [one]) => format!("{} + {heads}", one.encoder.id()),
            (None, many) => format!(
                "{encoder} + {heads} (an ensemble of {} heads, each with its own encoder adapters)",
                many.len()
            ),
        }
    }

    /// Every content-sentence mention of `docs`, read from one pass per
    /// sentence: the sentence's states are pooled once for the sentence and
    /// once per mention (see `StatesEncoder`).
    fn read_one_pass(
        enc: &StatesEncoder,
        head: &Head,
        docs: &[Doc],
        batch_size: usize,
        read_bytes: usize,
    ) -> Result<Readings, StageError> {
        let mut items = Vec::new();
        // (doc, sentence) -> index into `texts`.
        let mut sentence_at: BTreeMap<(usize, usize), usize> = BTreeMap::new();
        let mut texts: Vec<&str> = Vec::new();
        let mut cuts = Vec::new();
        for (d, doc) in docs.iter().enumerate() {
            // The parts of sentences the classify stage reads too (same budget).
            let (read, cut) = stancepipe_encoder::read_budget(doc, read_bytes);
            if cut > 0 {
                cuts.push((d, cut));
            }
            let readable: HashMap<usize, usize> = read.into_iter().collect();
            for e in &doc.entities {
                for m in &e.mentions {
                    let (Some(s), Some(&len)) =
                        (doc.sentences.get(m.sentence), readable.get(&m.sentence))
                    else {
                        continue;
                    };
                    if !s.span.contains(m.span) || m.span.end > s.span.start + len {
                        continue;
                    }
                    sentence_at.entry((d, m.sentence)).or_insert_with(|| {
                        texts.push(&doc.text[s.span.start..s.span.start + len]);
                        texts.len() - 1
                    });
                    items.push(MentionRef {
                        doc: d,
                        company: e.company.clone(),
                        sentence: m.sentence,
                        span: m.span,
                        reference: m.reference,
                    });
                }
            }
        }
        let states = enc.states(&texts, batch_size).map_err(StageError::Batch)?;
        let means: Vec<Vec<f32>> = states.iter().map(|s| s.mean()).collect();
        let mut probs = Vec::with_capacity(items.len());
        for chunk in items.chunks(PREDICT_CHUNK) {
            let x: Vec<Vec<f32>> = chunk
                .iter()
                .map(|m| {
                    let t = sentence_at[&(m.doc, m.sentence)];
                    let start = docs[m.doc].sentences[m.sentence].span.start;
                    head.one_pass_features(
                        &states[t],
                        &means[t],
                        m.span.start - start,
                        m.span.end - start,
                    )
                })
                .collect();
            probs.extend(head.predict(&x));
        }
        Ok((items, probs, cuts))
    }

    /// Every content-sentence mention of `docs` with its class
    /// probabilities, averaged over the members.
    pub fn read(
        &self,
        docs: &[Doc],
        batch_size: usize,
    ) -> Result<(Vec<MentionRef>, Vec<Vec<f32>>), StageError> {
        self.read_within(docs, batch_size, usize::MAX)
            .map(|(items, probs, _)| (items, probs))
    }

    /// [`Self::read`], a one-pass model reading at most `read_bytes` of
    /// content sentences per document; also returns, per document whose
    /// reading was cut, how many sentences were cut or left out.
    pub fn read_within(
        &self,
        docs: &[Doc],
        batch_size: usize,
        read_bytes: usize,
    ) -> Result<Readings, StageError> {
        if let Some((enc, head)) = &self.one_pass {
            return Self::read_one_pass(enc, head, docs, batch_size, read_bytes);
        }
        self.read_ensemble(docs, batch_size)
            .map(|(items, probs)| (items, probs, Vec::new()))
    }

    /// Every content-sentence mention read by each member of an ensemble.
    fn read_ensemble(
        &self,
        docs: &[Doc],
        batch_size: usize,
    ) -> Result<(Vec<MentionRef>, Vec<Vec<f32>>), StageError> {
        // The mentions depend on the documents alone; their texts on how a
        // member shows the target, built once per way for the members sharing it.
        let mut items = Vec::new();
        let mut texts: Vec<(TargetFeatures, Vec<String>)> = Vec::new();
        for kind in self.members.iter().map(|m| m.kind) {
            if texts.iter().any(|(k, _)| *k == kind) {
                continue;
            }
            let first = texts.is_empty();
            let mut these = Vec::new();
            for (d, doc) in docs.iter().enumerate() {
                for input in features::mention_inputs(doc, kind) {
                    if first {
                        items.push(MentionRef {
                            doc: d,
                            company: input.company.to_string(),
                            sentence: input.sentence,
                            span: input.span,
                            reference: input.reference,
                        });
                    }
                    these.extend(input.texts);
                }
            }
            texts.push((kind, these));
        }
        let mut mean = vec![vec![0.0f32; self.labels().len()]; items.len()];
        for (kind, texts) in &texts {
            let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
            let per = kind.texts_per_example();
            for m in self.members.iter().filter(|m| m.kind == *kind) {
                let embedded = m
                    .encoder
                    .embed_many(&refs, batch_size, &|_| {})
                    .map_err(StageError::Batch)?;
                let x: Vec<Vec<f32>> = embedded.chunks(per).map(|c| c.concat()).collect();
                for (acc, p) in mean.iter_mut().zip(m.head.predict(&x)) {
                    acc.iter_mut().zip(p).for_each(|(a, b)| *a += b);
                }
            }
        }
        let n = self.members.len() as f32;
        mean.iter_mut().flatten().for_each(|a| *a /= n);
        Ok((items, mean))
    }
}

impl TargetSentimentConfig {
    /// The fitted document decision, if any (`aggregator = ""` means none,
    /// so that `--set stance.aggregator=` falls back to the rule).
    fn aggregator_path(&self) -> Option<&PathBuf> {
        self.aggregator
            .as_ref()
            .filter(|p| !p.as_os_str().is_empty())
    }
}

impl StageConfig for TargetSentimentConfig {
    fn requires(&self) -> Vec<Annotation> {
        vec![Annotation::Sentences, Annotation::Mentions]
    }
    fn provides(&self) -> Vec<Annotation> {
        vec![Annotation::Stance]
    }
    fn model(&self) -> Option<String> {
        Some(format!("{} + {}", self.encoder, heads_text(&self.head)))
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
        if self.read_bytes == 0 {
            return Err(OptionError::new("read_bytes", "must be at least 1"));
        }
        if self.head.is_empty() {
            return Err(OptionError::new(
                "head",
                "needs at least one head directory",
            ));
        }
        for head in &self.head {
            stancepipe_encoder::stage::check(&self.encoder, head, ctx)?;
        }
        if let Some(a) = self.aggregator_path() {
            Aggregator::load(&ctx.resolve(a)).map_err(|m| OptionError::new("aggregator", m))?;
        }
        Ok(())
    }
    fn build(&self, ctx: &BuildContext) -> Result<Box<dyn Stage>, OptionError> {
        let model = TargetModel::load(&self.encoder, &self.head, ctx)?;
        Ok(Box::new(TargetSentiment {
            // One head: the encoder as it runs (its adapters named). An
            // ensemble: each member brings its own adapters beside the same base.
            aggregator: match self.aggregator_path() {
                Some(a) => Some(
                    Aggregator::load(&ctx.resolve(a))
                        .map_err(|m| OptionError::new("aggregator", m))?,
                ),
                None => None,
            },
            model_id: model.describe(&self.encoder, &heads_text(&self.head)),
            model,
            companies: ctx.companies.iter().map(|c| c.name.clone()).collect(),
            cfg: self.clone(),
        }))
    }
}

impl BackendConfig for TargetSentimentConfig {
    const KIND: &'static str = "stance";
    const BACKEND: &'static str = "target-sentiment";
    const DESCRIPTION: &'static str =
        "the stance toward each mention, read from one encoder pass per sentence (a head trained on stance and target-sentiment sets over MiniLM with LoRA adapters; or marked heads, alone or averaged), weighed per company by a rule or a learned document decision";
    const OPTIONS: &'static [(&'static str, &'static str)] = &[
        ("encoder", "sentence-transformers model directory or hub id (relative to the config file)"),
        ("head", "directory with manifest.json + head.safetensors from `stancepipe train stance` (one pass per sentence) or `stancepipe train target` (marked; a list of those is an ensemble: class probabilities averaged)"),
        ("min_mentions", crate::MIN_MENTIONS_HELP),
        ("threshold", "confidence-weighted mean polarity needed for favor (>=) or against (<= -threshold), in [0, 1]"),
        ("max_evidence", "most evidence sentences listed per company, at least 1"),
        ("batch_size", "texts embedded at once"),
        ("mention_polarity", "\"label\": the head's class, +p / -p / 0 for neutral; \"expected\": p(positive) - p(negative)"),
        ("read_bytes", "most bytes of content sentences a one-pass head reads per document (mentions past them are not read, with a note); keep it equal to the classify stage's"),
        ("aggregator", "a document-level decision fitted on document labels (`stancepipe train document`, JSON); replaces threshold for companies not mentioned in passing; \"\" for the rule"),
    ];
}

/// Head directories as provenance shows them: `a` or `[a, b, c]`.
fn heads_text(heads: &[PathBuf]) -> String {
    let names: Vec<String> = heads.iter().map(|h| h.display().to_string()).collect();
    match names.as_slice() {
        [one] => one.clone(),
        _ => format!("[{}]", names.join(", ")),
    }
}

struct TargetSentiment {
    model: TargetModel,
    aggregator: Option<Aggregator>,
    model_id: String,
    companies: Vec<String>,
    cfg: TargetSentimentConfig,
}

impl Stage for TargetSentiment {
    fn backend(&self) -> &str {
        TargetSentimentConfig::BACKEND
    }
    fn model(&self) -> Option<&str> {
        Some(&self.model_id)
    }
    fn process(&self, docs: &mut [Doc]) -> Result<(), StageError> {
        let (items, probs, cuts) =
            self.model
                .read_within(docs, self.cfg.batch_size, self.cfg.read_bytes)?;
        for (d, cut) in cuts {
            docs[d].notes.push(stancepipe_encoder::budget_note(
                "stance",
                self.cfg.read_bytes,
                cut,
            ));
        }
        let labels = self.model.labels();
        let index = |l: &str| labels.iter().position(|x| x == l);
        let (pos, neg) = (index(labels::POSITIVE), index(labels::NEGATIVE));
        let neu = index(labels::NEUTRAL);
        let at = |p: &[f32], i: Option<usize>| i.map_or(0.0, |i| p[i]);
        // Each document's content sentences by position (for the aggregator).
        let ranks: Vec<HashMap<usize, usize>> = docs
            .iter()
            .map(|d| {
                d.content_sentences()
                    .enumerate()
                    .map(|(r, s)| (s, r))
                    .collect()
            })
            .collect();

        // Each document's tracked companies: the configured ones, then its own.
        let tracked: Vec<Vec<String>> = docs
            .iter()
            .map(|d| d.company_names(&self.companies))
            .collect();
        let mut acc: BTreeMap<(usize, &str), BTreeMap<usize, SentenceAcc>> = BTreeMap::new();
        for (item, p) in items.iter().zip(&probs) {
            let (polarity, weight) = mention_polarity(p, pos, neg, self.cfg.mention_polarity);
            let e = acc
                .entry((item.doc, item.company.as_str()))
                .or_default()
                .entry(item.sentence)
                .or_default();
            e.weighted += weight * polarity;
            e.weight += weight;
            e.count += 1;
            e.probs.push(MentionProbs {
                rank: ranks[item.doc].get(&item.sentence).copied().unwrap_or(0),
                pos: at(p, pos),
                neg: at(p, neg),
                neu: at(p, neu),
            });
            if e.readings.len() < MAX_READINGS {
                e.readings.push(Reading {
                    span: item.span,
                    reference: item.reference,
                    label: stance_of(p, labels),
                    polarity,
                    weight,
                });
            }
        }
        let rule = Rule {
            min_mentions: self.cfg.min_mentions,
            threshold: self.cfg.threshold,
            max_evidence: self.cfg.max_evidence,
        };
        for (d, doc) in docs.iter_mut().enumerate() {
            let content = content_sentences(doc);
            doc.stance = tracked[d]
                .iter()
                .map(|c| {
                    let mentions = doc
                        .entities
                        .iter()
                        .filter(|e| &e.company == c)
                        .map(|e| e.mentions.len())
                        .sum();
                    let mut sentences = acc.remove(&(d, c.as_str())).unwrap_or_default();
                    let evidence: BTreeMap<usize, (f32, f32)> =
                        sentences.iter().map(|(&s, a)| (s, a.decided())).collect();
                    let mut stance = decide(c, &evidence, mentions, content, rule);
                    if let Some(agg) = &self.aggregator {
                        if !in_passing(evidence.len(), content, rule.min_mentions) {
                            let probs: Vec<MentionProbs> =
                                sentences.values().flat_map(|a| a.probs.clone()).collect();
                            let (label, score) = agg.decide(&document::features(&probs, content));
                            stance.stance = label;
                            stance.score = score;
                            stance.evidence = rank_evidence(&evidence, label, rule.max_evidence);
                        }
                    }
                    for ev in &mut stance.evidence {
                        if let Some(a) = sentences.remove(&ev.sentence) {
                            ev.mentions = a.count;
                            ev.readings = a.readings;
                        }
                    }
                    stance
                })
                .collect();
        }
        Ok(())
    }
}

/// One sentence's readings of one company: sums for the decision and the
/// first [`MAX_READINGS`] readings for the output.
#[derive(Default)]
struct SentenceAcc {
    weighted: f32,
    weight: f32,
    count: usize,
    readings: Vec<Reading>,
    /// Every reading's class probabilities, for the aggregator.
    probs: Vec<MentionProbs>,
}

impl SentenceAcc {
    /// (polarity, weight) of the sentence: the weight-averaged polarity of
    /// its readings, weighted by their mean confidence.
    fn decided(&self) -> (f32, f32) {
        let p = if self.weight > 0.0 {
            self.weighted / self.weight
        } else {
            0.0
        };
        (p, self.weight / self.count.max(1) as f32)
    }
}

/// The stance label of the likeliest class (positive → favor, negative →
/// against, anything else → none).
fn stance_of(p: &[f32], labels: &[String]) -> StanceLabel {
    let best = p
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map(|(i, _)| labels[i].as_str());
    match best {
        Some(labels::POSITIVE) => StanceLabel::Favor,
        Some(labels::NEGATIVE) => StanceLabel::Against,
        _ => StanceLabel::None,
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
    fn head_is_one_directory_or_a_list() {
        let parse =
            |t: &str| stancepipe_core::parse_options::<TargetSentimentConfig>(t.parse().unwrap());
        assert_eq!(
            parse("head = \"a\"").unwrap().head,
            vec![PathBuf::from("a")]
        );
        assert_eq!(
            parse("head = [\"a\", \"b\"]").unwrap().head,
            vec![PathBuf::from("a"), PathBuf::from("b")]
        );
        let e = parse("head = 3").unwrap_err();
        assert_eq!(e.key, "head");
        assert!(
            e.message.contains("list of head directories"),
            "{}",
            e.message
        );
        let empty = parse("head = []").unwrap();
        let ctx = BuildContext {
            base_dir: ".".into(),
            companies: Vec::new(),
        };
        let e = empty.check(&ctx).unwrap_err();
        assert_eq!(e.key, "head");
        assert!(e.message.contains("at least one"), "{}", e.message);
        assert_eq!(heads_text(&[PathBuf::from("a")]), "a");
        assert_eq!(heads_text(&empty.head), "[]");
        assert_eq!(
            heads_text(&[PathBuf::from("a"), PathBuf::from("b")]),
            "[a, b]"
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
