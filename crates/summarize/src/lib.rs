//! Document summaries: the `summarize` stage kind.
//!
//! - `rust-bert`: abstractive summaries from a BART / T5 / Pegasus model
//!   ([`abstractive`], [`seq2seq`]), with an honest extractive fallback.
//!
//! Two model-free backends build summaries from the document's own content
//! sentences:
//!
//! - `extractive` (the default): centroid-based sentence selection (Radev et
//!   al.'s MEAD idea) with maximal marginal relevance (Carbonell & Goldstein)
//!   against repetition; see [`extractive_summary`]. It is exposed as a
//!   function because model backends (abstractive) fall back to it when
//!   their model cannot summarize a document.
//! - `lead`: the first sentences, the standard news baseline any summarizer
//!   should beat.
//!
//! Both use content sentences only (headings and datelines are not prose),
//! give a document without content sentences an empty summary rather than an
//! error, and list the chosen sentences in text order.

pub mod abstractive;
mod decoder;
mod encoder;
mod generate;
pub mod seq2seq;
mod t5;
mod weights;

use serde::{Deserialize, Serialize};
use stancepipe_core::{
    par_each_doc, Annotation, BackendConfig, BuildContext, Doc, OptionError, Registry,
    RegistryError, Stage, StageConfig, StageError, Summary, SummaryMethod,
};
use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

/// Only the best-scoring sentences take part in redundancy control, so that
/// a document with tens of thousands of sentences costs O(n log n), not O(n²).
const MMR_CANDIDATES: usize = 50;
/// A candidate at least this similar (cosine) to a chosen sentence is never
/// chosen too, whatever `redundancy` says: MMR's penalty alone lets a very
/// central sentence's duplicate through.
const DUPLICATE_COSINE: f64 = 0.9;

/// Options of the `extractive` backend.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExtractiveConfig {
    /// Most sentences in the summary.
    pub max_sentences: usize,
    /// Sentences with fewer words are not chosen (fragments, captions).
    pub min_words: usize,
    /// Weight of the prior favoring early sentences (news puts the point first).
    pub position_weight: f64,
    /// MMR λ: weight of relevance against novelty (1 = relevance only).
    pub redundancy: f64,
}

impl Default for ExtractiveConfig {
    fn default() -> Self {
        ExtractiveConfig {
            max_sentences: 3,
            min_words: 6,
            position_weight: 0.1,
            redundancy: 0.7,
        }
    }
}

/// Options of the `lead` backend.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LeadConfig {
    /// How many leading content sentences form the summary.
    pub max_sentences: usize,
}

impl Default for LeadConfig {
    fn default() -> Self {
        LeadConfig { max_sentences: 3 }
    }
}

fn check_max_sentences(n: usize) -> Result<(), OptionError> {
    if n < 1 {
        return Err(OptionError::new(
            "max_sentences",
            "max_sentences must be at least 1",
        ));
    }
    Ok(())
}

impl StageConfig for ExtractiveConfig {
    fn requires(&self) -> Vec<Annotation> {
        vec![Annotation::Sentences]
    }

    fn provides(&self) -> Vec<Annotation> {
        vec![Annotation::Summary]
    }

    fn check(&self, _ctx: &BuildContext) -> Result<(), OptionError> {
        check_max_sentences(self.max_sentences)?;
        if !(self.redundancy.is_finite() && (0.0..=1.0).contains(&self.redundancy)) {
            return Err(OptionError::new(
                "redundancy",
                format!("redundancy must be in [0, 1], got {}", self.redundancy),
            ));
        }
        if !(self.position_weight.is_finite() && self.position_weight >= 0.0) {
            return Err(OptionError::new(
                "position_weight",
                format!(
                    "position_weight must be a number >= 0, got {}",
                    self.position_weight
                ),
            ));
        }
        Ok(())
    }

    fn build(&self, ctx: &BuildContext) -> Result<Box<dyn Stage>, OptionError> {
        self.check(ctx)?;
        Ok(Box::new(ExtractiveSummarizer {
            config: self.clone(),
        }))
    }
}

impl BackendConfig for ExtractiveConfig {
    const KIND: &'static str = "summarize";
    const BACKEND: &'static str = "extractive";
    const DESCRIPTION: &'static str =
        "central sentences by TF-IDF centroid similarity, without repeats (model-free)";
    const OPTIONS: &'static [(&'static str, &'static str)] = &[
        ("max_sentences", "most sentences in the summary, at least 1"),
        (
            "min_words",
            "sentences with fewer words are not chosen (unless no sentence has enough)",
        ),
        (
            "position_weight",
            "weight (>= 0) of the prior favoring earlier sentences; 0 ignores position",
        ),
        (
            "redundancy",
            "MMR lambda in [0, 1]: weight of relevance against novelty; 1 = relevance only",
        ),
    ];
}

impl StageConfig for LeadConfig {
    fn requires(&self) -> Vec<Annotation> {
        vec![Annotation::Sentences]
    }

    fn provides(&self) -> Vec<Annotation> {
        vec![Annotation::Summary]
    }

    fn check(&self, _ctx: &BuildContext) -> Result<(), OptionError> {
        check_max_sentences(self.max_sentences)
    }

    fn build(&self, ctx: &BuildContext) -> Result<Box<dyn Stage>, OptionError> {
        self.check(ctx)?;
        Ok(Box::new(LeadSummarizer {
            max_sentences: self.max_sentences,
        }))
    }
}

impl BackendConfig for LeadConfig {
    const KIND: &'static str = "summarize";
    const BACKEND: &'static str = "lead";
    const DESCRIPTION: &'static str = "the first content sentences (baseline)";
    const OPTIONS: &'static [(&'static str, &'static str)] = &[(
        "max_sentences",
        "how many leading content sentences, at least 1",
    )];
}

/// The running `extractive` backend.
pub struct ExtractiveSummarizer {
    config: ExtractiveConfig,
}

/// The running `lead` backend.
pub struct LeadSummarizer {
    max_sentences: usize,
}

/// Fails when a content sentence's span does not point into the text: the
/// summary functions would silently treat it as empty.
fn check_spans(doc: &Doc) -> Result<(), String> {
    for i in doc.content_sentences() {
        let span = doc.sentences[i].span;
        if doc.text.get(span.start..span.end).is_none() {
            return Err(format!(
                "sentence {i} has span {}..{} outside the text ({} bytes) or off a char boundary",
                span.start,
                span.end,
                doc.text.len()
            ));
        }
    }
    Ok(())
}

impl Stage for ExtractiveSummarizer {
    fn backend(&self) -> &str {
        ExtractiveConfig::BACKEND
    }

    fn process(&self, docs: &mut [Doc]) -> Result<(), StageError> {
        par_each_doc(docs, |doc| {
            check_spans(doc)?;
            doc.summary = Some(extractive_summary(doc, &self.config));
            Ok(())
        })
    }
}

impl Stage for LeadSummarizer {
    fn backend(&self) -> &str {
        LeadConfig::BACKEND
    }

    fn process(&self, docs: &mut [Doc]) -> Result<(), StageError> {
        par_each_doc(docs, |doc| {
            check_spans(doc)?;
            doc.summary = Some(lead_summary(doc, self.max_sentences));
            Ok(())
        })
    }
}

/// Registers every summarize backend; `extractive` (the default) first.
pub fn register(registry: &mut Registry) -> Result<(), RegistryError> {
    registry.register::<ExtractiveConfig>()?;
    registry.register::<LeadConfig>()?;
    registry.register::<abstractive::RustBertConfig>()
}

/// The trimmed text of sentence `i` ("" for a span off the text).
fn sentence_text(doc: &Doc, i: usize) -> &str {
    let span = doc.sentences[i].span;
    doc.text.get(span.start..span.end).unwrap_or("").trim()
}

fn summary(doc: &Doc, mut chosen: Vec<usize>) -> Summary {
    chosen.sort_unstable();
    let text = chosen
        .iter()
        .map(|&i| sentence_text(doc, i))
        .collect::<Vec<_>>()
        .join(" ");
    Summary {
        text,
        method: SummaryMethod::Extractive,
        model: "none".into(),
        sentences: chosen,
        note: None,
    }
}

/// The first `max_sentences` non-empty content sentences.
pub fn lead_summary(doc: &Doc, max_sentences: usize) -> Summary {
    let chosen = doc
        .content_sentences()
        .filter(|&i| !sentence_text(doc, i).is_empty())
        .take(max_sentences)
        .collect();
    summary(doc, chosen)
}

const STOPWORDS: &[&str] = &[
    "a",
    "about",
    "above",
    "after",
    "again",
    "against",
    "all",
    "also",
    "am",
    "an",
    "and",
    "any",
    "are",
    "as",
    "at",
    "be",
    "because",
    "been",
    "before",
    "being",
    "below",
    "between",
    "both",
    "but",
    "by",
    "can",
    "could",
    "did",
    "do",
    "does",
    "doing",
    "down",
    "during",
    "each",
    "few",
    "for",
    "from",
    "further",
    "had",
    "has",
    "have",
    "having",
    "he",
    "her",
    "here",
    "hers",
    "herself",
    "him",
    "himself",
    "his",
    "how",
    "i",
    "if",
    "in",
    "into",
    "is",
    "it",
    "its",
    "itself",
    "just",
    "me",
    "more",
    "most",
    "my",
    "myself",
    "no",
    "nor",
    "not",
    "now",
    "of",
    "off",
    "on",
    "once",
    "only",
    "or",
    "other",
    "our",
    "ours",
    "ourselves",
    "out",
    "over",
    "own",
    "said",
    "same",
    "she",
    "should",
    "so",
    "some",
    "such",
    "than",
    "that",
    "the",
    "their",
    "theirs",
    "them",
    "themselves",
    "then",
    "there",
    "these",
    "they",
    "this",
    "those",
    "through",
    "to",
    "too",
    "under",
    "until",
    "up",
    "very",
    "was",
    "we",
    "were",
    "what",
    "when",
    "where",
    "which",
    "while",
    "who",
    "whom",
    "why",
    "will",
    "with",
    "would",
    "you",
    "your",
    "yours",
    "yourself",
    "yourselves",
];

fn is_stopword(word: &str) -> bool {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| STOPWORDS.iter().copied().collect())
        .contains(word)
}

/// Whitespace-separated tokens holding a letter or digit.
fn word_count(text: &str) -> usize {
    text.split_whitespace()
        .filter(|w| w.chars().any(char::is_alphanumeric))
        .count()
}

/// A sparse, L2-normalized TF-IDF vector sorted by term id.
type Vector = Vec<(u32, f64)>;

fn dot(a: &Vector, b: &Vector) -> f64 {
    let (mut i, mut j, mut sum) = (0, 0, 0.0);
    while i < a.len() && j < b.len() {
        match a[i].0.cmp(&b[j].0) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                sum += a[i].1 * b[j].1;
                i += 1;
                j += 1;
            }
        }
    }
    sum
}

/// Term counts of every content sentence, and the number of sentences each
/// term occurs in. Terms are lowercased runs of letters and digits, at least
/// two characters long, minus stopwords.
fn count_terms(doc: &Doc, content: &[usize]) -> (Vec<Vec<(u32, u32)>>, Vec<u32>) {
    let mut vocab: HashMap<String, u32> = HashMap::new();
    let mut df: Vec<u32> = Vec::new();
    let mut lower = String::new();
    let mut counts: Vec<Vec<(u32, u32)>> = Vec::with_capacity(content.len());
    for &i in content {
        let mut tf: Vec<(u32, u32)> = Vec::new();
        for word in sentence_text(doc, i).split(|c: char| !c.is_alphanumeric()) {
            if word.chars().nth(1).is_none() {
                continue;
            }
            lower.clear();
            lower.extend(word.chars().flat_map(char::to_lowercase));
            if is_stopword(&lower) {
                continue;
            }
            let id = match vocab.get(lower.as_str()) {
                Some(&id) => id,
                None => {
                    let id = df.len() as u32;
                    vocab.insert(lower.clone(), id);
                    df.push(0);
                    id
                }
            };
            tf.push((id, 1));
        }
        tf.sort_unstable_by_key(|&(id, _)| id);
        tf.dedup_by(|b, a| {
            if a.0 == b.0 {
                a.1 += b.1;
                true
            } else {
                false
            }
        });
        for &(id, _) in &tf {
            df[id as usize] += 1;
        }
        counts.push(tf);
    }
    (counts, df)
}

/// Picks the sentences that best represent the document.
///
/// 1. Every content sentence becomes a TF-IDF vector: term weight
///    `(1 + ln tf) * (ln((1 + N) / (1 + df)) + 1)`, with `N` the number of
///    content sentences and `df` how many of them hold the term, so words the
///    whole document repeats weigh less than its distinctive ones. Vectors
///    are L2-normalized.
/// 2. The centroid is the mean of those vectors: what the document is about.
///    A sentence's relevance is its cosine to the centroid plus
///    `position_weight * (1 - k / N)`, `k` being its rank among the content
///    sentences (0 for the first).
/// 3. Sentences with fewer than `min_words` words are skipped (unless no
///    sentence has that many, so that short documents still get a summary).
/// 4. Maximal marginal relevance picks `max_sentences` sentences, one at a
///    time, maximizing `λ * relevance - (1 - λ) * max cosine to the chosen
///    ones` with `λ = redundancy`, among the 50 most
///    relevant sentences still open. A sentence with the same text as a
///    chosen one, or a cosine of at least 0.9 to one, is dropped, and the
///    pool is refilled from the ranking.
///
/// Cost: linear in the document's words plus a sort of the sentences (the
/// refill compares a sentence with at most `max_sentences` chosen ones), so
/// a 5 MB document takes well under a second.
pub fn extractive_summary(doc: &Doc, opts: &ExtractiveConfig) -> Summary {
    let content: Vec<usize> = doc
        .content_sentences()
        .filter(|&i| !sentence_text(doc, i).is_empty())
        .collect();
    if content.is_empty() || opts.max_sentences == 0 {
        return summary(doc, Vec::new());
    }
    let n = content.len();
    let (counts, df) = count_terms(doc, &content);
    let idf: Vec<f64> = df
        .iter()
        .map(|&d| ((1.0 + n as f64) / (1.0 + f64::from(d))).ln() + 1.0)
        .collect();

    let vectors: Vec<Vector> = counts
        .into_iter()
        .map(|tf| {
            let mut v: Vector = tf
                .into_iter()
                .map(|(id, c)| (id, (1.0 + f64::from(c).ln()) * idf[id as usize]))
                .collect();
            let norm = v.iter().map(|(_, w)| w * w).sum::<f64>().sqrt();
            if norm > 0.0 {
                v.iter_mut().for_each(|(_, w)| *w /= norm);
            }
            v
        })
        .collect();

    let mut centroid = vec![0.0f64; idf.len()];
    for v in &vectors {
        for &(id, w) in v {
            centroid[id as usize] += w;
        }
    }
    let norm = centroid.iter().map(|w| w * w).sum::<f64>().sqrt();
    let relevance: Vec<f64> = vectors
        .iter()
        .enumerate()
        .map(|(k, v)| {
            let cosine = if norm > 0.0 {
                v.iter()
                    .map(|&(id, w)| w * centroid[id as usize])
                    .sum::<f64>()
                    / norm
            } else {
                0.0
            };
            cosine + opts.position_weight * (1.0 - k as f64 / n as f64)
        })
        .collect();

    // Positions into `content`, best first; ties prefer earlier sentences.
    let long_enough: Vec<usize> = (0..n)
        .filter(|&k| word_count(sentence_text(doc, content[k])) >= opts.min_words)
        .collect();
    let mut order = if long_enough.is_empty() {
        (0..n).collect()
    } else {
        long_enough
    };
    order.sort_by(|&a, &b| relevance[b].total_cmp(&relevance[a]).then(a.cmp(&b)));

    let lambda = opts.redundancy;
    let pool_size = MMR_CANDIDATES.max(opts.max_sentences);
    let mut chosen: Vec<usize> = Vec::new();
    // Open candidates with their highest cosine to any chosen sentence.
    let mut pool: Vec<(usize, f64)> = Vec::with_capacity(pool_size);
    let mut next = order.iter().copied();
    // Compares a candidate with the chosen sentences: None for a duplicate.
    let novelty = |k: usize, chosen: &[usize]| -> Option<f64> {
        let text = sentence_text(doc, content[k]);
        let mut max_sim = 0.0f64;
        for &c in chosen {
            let sim = dot(&vectors[k], &vectors[c]);
            if sim >= DUPLICATE_COSINE || sentence_text(doc, content[c]) == text {
                return None;
            }
            max_sim = max_sim.max(sim);
        }
        Some(max_sim)
    };
    while chosen.len() < opts.max_sentences {
        // Refill the pool from the ranking, so that a document whose best
        // sentences are all one repeated line still gets a full summary.
        while pool.len() < pool_size {
            let Some(k) = next.next() else { break };
            if let Some(sim) = novelty(k, &chosen) {
                pool.push((k, sim));
            }
        }
        let mut best: Option<(usize, f64)> = None;
        for (p, &(k, max_sim)) in pool.iter().enumerate() {
            let mmr = lambda * relevance[k] - (1.0 - lambda) * max_sim;
            // Strictly greater: ties keep the more relevant (earlier) candidate.
            match best {
                Some((_, b)) if mmr <= b => {}
                _ => best = Some((p, mmr)),
            }
        }
        let Some((p, _)) = best else { break };
        let (k, _) = pool.remove(p);
        chosen.push(k);
        pool.retain_mut(|(other, max_sim)| match novelty(*other, &[k]) {
            Some(sim) => {
                *max_sim = max_sim.max(sim);
                true
            }
            None => false,
        });
    }
    summary(doc, chosen.into_iter().map(|k| content[k]).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use stancepipe_core::{Sentence, SentenceKind, Span};

    fn doc(parts: &[(&str, SentenceKind)]) -> Doc {
        Doc::from_sentences("d", parts)
    }

    fn content(parts: &[&str]) -> Doc {
        doc(&parts
            .iter()
            .map(|p| (*p, SentenceKind::Content))
            .collect::<Vec<_>>())
    }

    fn extractive(max_sentences: usize) -> ExtractiveConfig {
        ExtractiveConfig {
            max_sentences,
            ..ExtractiveConfig::default()
        }
    }

    const ON_TOPIC: &[&str] = &[
        "Alipay expanded its mobile payment services across rural China this year.",
        "The weather in the mountains was cold and snowy during the holiday week.",
        "Mobile payment competition between Alipay and WeChat Pay intensified this year.",
        "Analysts expect Alipay mobile payment volumes in China to keep growing.",
        "WeChat Pay answered with lower merchant fees for mobile payment in China.",
    ];

    #[test]
    fn central_sentences_beat_an_off_topic_one() {
        let s = extractive_summary(&content(ON_TOPIC), &extractive(3));
        assert_eq!(s.sentences.len(), 3);
        assert!(!s.sentences.contains(&1), "{:?}", s.sentences);
        assert!(!s.text.contains("weather"), "{}", s.text);
        assert_eq!(s.method, SummaryMethod::Extractive);
        assert_eq!(s.model, "none");
        assert_eq!(s.note, None);
    }

    #[test]
    fn output_is_in_text_order_and_joined_by_spaces() {
        // By relevance alone the two last sentences are the most central.
        let opts = ExtractiveConfig {
            max_sentences: 2,
            position_weight: 0.0,
            redundancy: 1.0,
            ..ExtractiveConfig::default()
        };
        let d = content(&[
            "Shares of the retailer fell sharply after the earnings warning today.",
            "The weather in the mountains was cold and snowy during the holiday week.",
            "Alipay and WeChat Pay compete for mobile payment users across China.",
            "Mobile payment users in China choose between Alipay and WeChat Pay apps.",
        ]);
        let s = extractive_summary(&d, &opts);
        assert_eq!(s.sentences, [2, 3]);
        assert_eq!(
            s.text,
            "Alipay and WeChat Pay compete for mobile payment users across China. \
             Mobile payment users in China choose between Alipay and WeChat Pay apps."
        );
    }

    #[test]
    fn duplicates_are_not_both_chosen() {
        let dup = "Alipay mobile payment volumes in China grew strongly this year.";
        let mut parts = ON_TOPIC.to_vec();
        parts.insert(2, dup);
        parts.push(dup);
        for redundancy in [0.7, 1.0] {
            let opts = ExtractiveConfig {
                max_sentences: 4,
                redundancy,
                ..ExtractiveConfig::default()
            };
            let s = extractive_summary(&content(&parts), &opts);
            assert_eq!(s.sentences.len(), 4, "{s:?}");
            assert_eq!(s.text.matches(dup).count(), 1, "{}", s.text);
        }
    }

    #[test]
    fn max_sentences_is_respected() {
        for n in [1, 2, 4] {
            let s = extractive_summary(&content(ON_TOPIC), &extractive(n));
            assert_eq!(s.sentences.len(), n);
        }
        let s = extractive_summary(&content(ON_TOPIC), &extractive(10));
        assert_eq!(s.sentences, [0, 1, 2, 3, 4]);
    }

    #[test]
    fn short_sentences_are_skipped_unless_all_are_short() {
        let d = content(&[
            "Alipay payments.",
            "Alipay mobile payments grew in China this year.",
            "Payments in China.",
        ]);
        let s = extractive_summary(&d, &extractive(2));
        assert_eq!(s.sentences, [1]);
        let d = content(&["Alipay fell.", "WeChat rose."]);
        let s = extractive_summary(&d, &extractive(3));
        assert_eq!(s.sentences, [0, 1]);
        assert_eq!(s.text, "Alipay fell. WeChat rose.");
    }

    #[test]
    fn headings_are_never_chosen() {
        let d = doc(&[
            (
                "Alipay Mobile Payment China Growth This Year",
                SentenceKind::Heading,
            ),
            (ON_TOPIC[0], SentenceKind::Content),
            (ON_TOPIC[2], SentenceKind::Content),
            (
                "Alipay Mobile Payment Results In China",
                SentenceKind::Heading,
            ),
            (ON_TOPIC[3], SentenceKind::Content),
        ]);
        let s = extractive_summary(&d, &extractive(5));
        assert_eq!(s.sentences, [1, 2, 4]);
        let s = lead_summary(&d, 2);
        assert_eq!(s.sentences, [1, 2]);
    }

    #[test]
    fn empty_document_gets_an_empty_summary() {
        let heading_only = doc(&[("Conclusion", SentenceKind::Heading)]);
        for d in [Doc::new("e", ""), heading_only] {
            let stage = ExtractiveConfig::default()
                .build(&BuildContext::default())
                .unwrap();
            let mut docs = vec![d];
            stage.process(&mut docs).unwrap();
            let s = docs[0].summary.as_ref().unwrap();
            assert_eq!(s.text, "");
            assert!(s.sentences.is_empty());
            assert_eq!(s.method, SummaryMethod::Extractive);
        }
    }

    #[test]
    fn lead_takes_the_first_content_sentences() {
        let d = doc(&[
            ("Dateline", SentenceKind::Heading),
            ("First.", SentenceKind::Content),
            ("  ", SentenceKind::Content),
            ("Second.", SentenceKind::Content),
            ("Third.", SentenceKind::Content),
            ("Fourth.", SentenceKind::Content),
        ]);
        let stage = LeadConfig::default()
            .build(&BuildContext::default())
            .unwrap();
        assert_eq!(stage.backend(), "lead");
        let mut docs = vec![d];
        stage.process(&mut docs).unwrap();
        let s = docs[0].summary.as_ref().unwrap();
        assert_eq!(s.sentences, [1, 3, 4]);
        assert_eq!(s.text, "First. Second. Third.");
        assert_eq!(s.model, "none");
    }

    #[test]
    fn process_assigns_and_reports_bad_spans() {
        let stage = ExtractiveConfig::default()
            .build(&BuildContext::default())
            .unwrap();
        let mut bad = content(ON_TOPIC);
        bad.sentences[4].span = Span::new(0, 10_000);
        let mut docs = vec![content(ON_TOPIC), bad];
        match stage.process(&mut docs) {
            Err(StageError::Docs(errs)) => {
                assert_eq!(errs.len(), 1);
                assert_eq!(errs[0].0, 1);
                assert!(errs[0].1.contains("sentence 4"), "{}", errs[0].1);
            }
            other => panic!("{other:?}"),
        }
        let first = docs[0].summary.clone();
        let mut again = vec![docs.remove(0)];
        stage.process(&mut again).unwrap();
        assert_eq!(again[0].summary, first);
    }

    #[test]
    fn large_document_completes() {
        // 20,000 sentences over a 300-word vocabulary, with one line repeated.
        let words: Vec<String> = (0..300).map(|i| format!("term{i}")).collect();
        let mut text = String::new();
        let mut sentences = Vec::new();
        for s in 0..20_000usize {
            let start = text.len();
            if s % 7 == 0 {
                text.push_str("The repeated line about payments in China appears here again.");
            } else {
                for w in 0..12 {
                    text.push_str(&words[(s * 31 + w * 17 + s / 13) % 300]);
                    text.push(' ');
                }
                text.push('.');
            }
            sentences.push(Sentence {
                span: Span::new(start, text.len()),
                kind: SentenceKind::Content,
                tokens: None,
                label: None,
            });
            text.push(' ');
        }
        let mut d = Doc::new("big", text);
        d.sentences = sentences;
        let s = extractive_summary(&d, &ExtractiveConfig::default());
        assert_eq!(s.sentences.len(), 3);
        assert!(s.sentences.windows(2).all(|w| w[0] < w[1]));
        // The most central line is chosen once; its copies leave room for others.
        assert_eq!(s.text.matches("The repeated line").count(), 1, "{}", s.text);
    }

    #[test]
    fn check_names_the_bad_key() {
        let c = BuildContext::default();
        let e = ExtractiveConfig {
            max_sentences: 0,
            ..ExtractiveConfig::default()
        };
        assert_eq!(e.check(&c).unwrap_err().key, "max_sentences");
        let e = ExtractiveConfig {
            redundancy: 1.2,
            ..ExtractiveConfig::default()
        };
        assert_eq!(e.check(&c).unwrap_err().key, "redundancy");
        let e = ExtractiveConfig {
            position_weight: -0.5,
            ..ExtractiveConfig::default()
        };
        assert_eq!(e.check(&c).unwrap_err().key, "position_weight");
        assert_eq!(e.build(&c).err().unwrap().key, "position_weight");
        let l = LeadConfig { max_sentences: 0 };
        assert_eq!(l.check(&c).unwrap_err().key, "max_sentences");
        ExtractiveConfig::default().check(&c).unwrap();
        LeadConfig::default().check(&c).unwrap();
    }

    fn assert_documented<C: BackendConfig>() {
        let documented: Vec<&str> = C::OPTIONS.iter().map(|(k, _)| *k).collect();
        let table = toml::Value::try_from(C::default()).unwrap();
        let keys: Vec<&String> = table.as_table().unwrap().keys().collect();
        assert_eq!(keys.len(), documented.len(), "{}", C::BACKEND);
        for key in keys {
            assert!(documented.contains(&key.as_str()), "{key} not in OPTIONS");
        }
    }

    #[test]
    fn every_option_is_documented() {
        assert_documented::<ExtractiveConfig>();
        assert_documented::<LeadConfig>();
    }

    #[test]
    fn registers_extractive_as_the_default() {
        let mut r = Registry::new();
        register(&mut r).unwrap();
        assert_eq!(r.default_backend("summarize"), Some("extractive"));
        let f = r.factory("summarize", Some("lead")).unwrap();
        let cfg = f.parse("max_sentences = 5".parse().unwrap()).unwrap();
        assert_eq!(cfg.requires(), [Annotation::Sentences]);
        assert_eq!(cfg.provides(), [Annotation::Summary]);
        let defaults: Vec<_> = r
            .factory("summarize", None)
            .unwrap()
            .options()
            .into_iter()
            .map(|o| o.default.unwrap())
            .collect();
        assert_eq!(defaults, ["3", "6", "0.1", "0.7"]);
    }

    #[test]
    fn stopword_list_has_no_duplicates() {
        let set: HashSet<_> = STOPWORDS.iter().collect();
        assert_eq!(set.len(), STOPWORDS.len());
        assert!(is_stopword("the") && !is_stopword("alipay"));
    }
}
