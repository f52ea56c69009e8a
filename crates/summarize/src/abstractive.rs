//! The `rust-bert` summarize backend: abstractive summaries from an
//! encoder-decoder model (see [`crate::seq2seq`]).
//!
//! Long documents are split at sentence boundaries into chunks that fit the
//! model's window (counted with the model's own tokenizer), the chunks of a
//! whole batch of documents are summarized together, and the joined chunk
//! summaries are summarized again until one pass fits (map-reduce).
//!
//! When the model cannot be had and `fallback = "extractive"`, the stage
//! runs the extractive summarizer instead, warns once, and says so in each
//! summary's `note`: the output never claims an abstractive summary it did
//! not make.

use crate::seq2seq::{GenParams, GeneratorKind, Seq2Seq};
use crate::{extractive_summary, ExtractiveConfig};
use serde::{Deserialize, Serialize};
use stancepipe_core::{
    par_each_doc, Annotation, BackendConfig, BuildContext, Doc, ModelRepo, ModelSource,
    OptionError, Stage, StageConfig, StageError, Summary, SummaryMethod,
};

/// What to do when the model cannot be loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fallback {
    /// Fail the build, naming the model and why.
    #[default]
    None,
    /// Summarize extractively, with a warning and a note in each summary.
    Extractive,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RustBertConfig {
    pub model: String,
    pub fallback: Fallback,
    pub num_beams: i64,
    pub min_length: i64,
    pub max_length: i64,
    pub length_penalty: f64,
    pub no_repeat_ngram_size: i64,
    pub early_stopping: bool,
    pub batch_size: usize,
    pub device: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_input_tokens: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    pub max_rounds: usize,
    pub generator: GeneratorKind,
}

impl Default for RustBertConfig {
    /// distilbart-cnn-6-6's own generation settings.
    fn default() -> Self {
        RustBertConfig {
            model: "sshleifer/distilbart-cnn-6-6".into(),
            fallback: Fallback::None,
            num_beams: 4,
            min_length: 56,
            max_length: 142,
            length_penalty: 2.0,
            no_repeat_ngram_size: 3,
            early_stopping: true,
            batch_size: 4,
            device: "cpu".into(),
            max_input_tokens: None,
            prefix: None,
            max_rounds: 3,
            generator: GeneratorKind::Own,
        }
    }
}

fn device(name: &str) -> Result<tch::Device, OptionError> {
    match name {
        "cpu" => Ok(tch::Device::Cpu),
        "cuda" if tch::Cuda::is_available() => Ok(tch::Device::Cuda(0)),
        "cuda" => Err(OptionError::new(
            "device",
            "cuda was asked for but no CUDA device is available",
        )),
        "auto" => Ok(tch::Device::cuda_if_available()),
        other => Err(OptionError::new(
            "device",
            format!("unknown device {other:?} (expected cpu, cuda or auto)"),
        )),
    }
}

impl RustBertConfig {
    fn params(&self) -> GenParams {
        GenParams {
            num_beams: self.num_beams,
            min_length: self.min_length,
            max_length: self.max_length,
            length_penalty: self.length_penalty,
            no_repeat_ngram_size: self.no_repeat_ngram_size,
            early_stopping: self.early_stopping,
        }
    }

    fn load(&self, ctx: &BuildContext) -> Result<Seq2Seq, OptionError> {
        let dev = device(&self.device)?;
        let err = |e: stancepipe_core::ModelError| OptionError::new("model", e.to_string());
        let repo = ModelRepo::open(ModelSource::parse(&self.model, ctx)).map_err(err)?;
        Seq2Seq::load_with(&repo, dev, self.generator).map_err(err)
    }
}

impl StageConfig for RustBertConfig {
    fn requires(&self) -> Vec<Annotation> {
        vec![Annotation::Sentences]
    }
    fn provides(&self) -> Vec<Annotation> {
        vec![Annotation::Summary]
    }
    fn model(&self) -> Option<String> {
        Some(self.model.clone())
    }
    fn check(&self, ctx: &BuildContext) -> Result<(), OptionError> {
        let bad = |k: &str, m: &str| Err(OptionError::new(k, m));
        if self.num_beams < 1 {
            return bad("num_beams", "must be at least 1");
        }
        if self.max_length < 1 {
            return bad("max_length", "must be at least 1");
        }
        if self.min_length < 0 || self.min_length > self.max_length {
            return bad("min_length", "must be between 0 and max_length");
        }
        if self.no_repeat_ngram_size < 0 {
            return bad("no_repeat_ngram_size", "must be 0 (off) or more");
        }
        if self.batch_size == 0 {
            return bad("batch_size", "must be at least 1");
        }
        if self.max_input_tokens.is_some_and(|n| n < 8) {
            return bad("max_input_tokens", "must be at least 8");
        }
        if self.max_rounds == 0 {
            return bad("max_rounds", "must be at least 1");
        }
        device(&self.device)?;
        // A local model must be there now; a hub id is resolved at build time
        // (it may need a download, or fall back).
        if let ModelSource::Local(dir) = ModelSource::parse(&self.model, ctx) {
            let repo = ModelRepo::open(ModelSource::Local(dir.clone()))
                .map_err(|e| OptionError::new("model", e.to_string()))?;
            if !repo.has_local("config.json") {
                return bad(
                    "model",
                    &format!(
                        "{} has no config.json (a Hugging Face model directory is expected)",
                        dir.display()
                    ),
                );
            }
        }
        Ok(())
    }
    fn build(&self, ctx: &BuildContext) -> Result<Box<dyn Stage>, OptionError> {
        match self.load(ctx) {
            Ok(model) => Ok(Box::new(Abstractive {
                label: format!("{} (generator {})", model.id(), self.generator.name()),
                prefix: self
                    .prefix
                    .clone()
                    .unwrap_or_else(|| model.default_prefix().to_string()),
                model,
                cfg: self.clone(),
            })),
            Err(e) if self.fallback == Fallback::Extractive => {
                let note = format!(
                    "abstractive model unavailable: {}; extractive summary instead (fallback = \"extractive\")",
                    e.message
                );
                tracing::warn!("summarize: {note}");
                Ok(Box::new(FallbackStage {
                    note,
                    extractive: ExtractiveConfig::default(),
                }))
            }
            Err(e) => Err(e),
        }
    }
}

impl BackendConfig for RustBertConfig {
    const KIND: &'static str = "summarize";
    const BACKEND: &'static str = "rust-bert";
    const DESCRIPTION: &'static str =
        "abstractive summaries from a BART / T5 / Pegasus model (rust-bert on libtorch), map-reduce over long documents";
    const OPTIONS: &'static [(&'static str, &'static str)] = &[
        ("model", "local Hugging Face model directory, or a hub id (looked up in the HF cache, downloaded when online)"),
        ("fallback", "\"none\" or \"extractive\": when the model cannot be loaded, summarize extractively (and say so) instead of failing"),
        ("num_beams", "beam search width; 1 = greedy"),
        ("min_length", "fewest tokens generated per summary"),
        ("max_length", "most tokens generated per summary"),
        ("length_penalty", "beam score = log-prob / length^length_penalty; > 1 favors longer summaries"),
        ("no_repeat_ngram_size", "never repeat an n-gram of this size; 0 = off"),
        ("early_stopping", "stop beam search when num_beams finished candidates exist"),
        ("batch_size", "chunks generated together"),
        ("device", "cpu, cuda or auto"),
        ("max_input_tokens", "largest chunk in tokens (default: the model's max_position_embeddings)"),
        ("prefix", "text put before every input (default: config.json's summarization prefix, e.g. T5's \"summarize: \")"),
        ("max_rounds", "most map-reduce rounds before the last pass truncates its input"),
        ("generator", "\"own\" (stancepipe's beam/greedy search with `transformers`' semantics over its own decoder step for BART, Pegasus and T5: cross-attention keys and values computed once per document, never re-selected or copied per step) or \"rust-bert\" (rust-bert's generate); the provenance model names it"),
    ];
}

/// The loaded model and its settings.
struct Abstractive {
    model: Seq2Seq,
    /// The model id and the generation loop, as provenance shows them.
    label: String,
    cfg: RustBertConfig,
    prefix: String,
}

/// Packs pieces, in order, into chunks of at most `budget` tokens (as
/// `count` counts them). A piece longer than the budget is a chunk of its
/// own (the tokenizer truncates it).
pub fn pack(pieces: &[String], budget: usize, count: impl Fn(&str) -> usize) -> Vec<String> {
    let mut chunks = Vec::new();
    let mut current = String::new();
    let mut used = 0;
    for p in pieces {
        let n = count(p);
        if used > 0 && used + n > budget {
            chunks.push(std::mem::take(&mut current));
            used = 0;
        }
        if !current.is_empty() {
            current.push(' ');
        }
        current.push_str(p);
        used += n;
    }
    if !current.is_empty() {
        chunks.push(current);
    }
    chunks
}

/// A document's text pieces awaiting a summarization round.
struct Pending {
    doc: usize,
    pieces: Vec<String>,
}

impl Abstractive {
    /// Token budget of one chunk's text (prefix and special tokens excluded).
    fn budget(&self) -> usize {
        let window = self.cfg.max_input_tokens.unwrap_or(self.model.window());
        let prefix = if self.prefix.is_empty() {
            0
        } else {
            self.model.count_tokens(&self.prefix)
        };
        window.saturating_sub(prefix + 2).max(1)
    }

    /// Summarizes texts in batches of similar length (less padding).
    fn summarize_texts(&self, texts: &[String]) -> Result<Vec<String>, String> {
        let inputs: Vec<String> = texts
            .iter()
            .map(|t| format!("{}{t}", self.prefix))
            .collect();
        let refs: Vec<&str> = inputs.iter().map(String::as_str).collect();
        let ids = self.model.encode(&refs);
        let mut order: Vec<usize> = (0..ids.len()).collect();
        order.sort_by_key(|&i| ids[i].len());
        let mut out = vec![String::new(); ids.len()];
        for group in order.chunks(self.cfg.batch_size) {
            let batch: Vec<Vec<i64>> = group.iter().map(|&i| ids[i].clone()).collect();
            let generated = self.model.generate_ids(&batch, &self.cfg.params())?;
            for (&i, g) in group.iter().zip(generated) {
                out[i] = self.model.decode(&g).trim().to_string();
            }
        }
        Ok(out)
    }
}

impl Stage for Abstractive {
    fn backend(&self) -> &str {
        "rust-bert"
    }
    fn model(&self) -> Option<&str> {
        Some(&self.label)
    }
    fn process(&self, docs: &mut [Doc]) -> Result<(), StageError> {
        let budget = self.budget();
        let mut pending: Vec<Pending> = Vec::new();
        for (i, doc) in docs.iter_mut().enumerate() {
            let pieces: Vec<String> = doc
                .content_sentences()
                .map(|s| doc.slice(doc.sentences[s].span).to_string())
                .collect();
            if pieces.is_empty() {
                doc.summary = Some(self.summary(String::new()));
            } else {
                pending.push(Pending { doc: i, pieces });
            }
        }
        let mut round = 0;
        while !pending.is_empty() {
            round += 1;
            let last_round = round >= self.cfg.max_rounds;
            // Documents that fit one chunk get their final summary this round.
            let chunked: Vec<Vec<String>> = pending
                .iter()
                .map(|p| {
                    let c = pack(&p.pieces, budget, |t| self.model.count_tokens(t));
                    if last_round && c.len() > 1 {
                        vec![c.join(" ")]
                    } else {
                        c
                    }
                })
                .collect();
            let flat: Vec<String> = chunked.iter().flatten().cloned().collect();
            let summaries = self.summarize_texts(&flat).map_err(StageError::Batch)?;
            let mut next = Vec::new();
            let mut it = summaries.into_iter();
            for (p, chunks) in pending.into_iter().zip(&chunked) {
                let parts: Vec<String> = it.by_ref().take(chunks.len()).collect();
                if chunks.len() == 1 {
                    let text = parts.into_iter().next().unwrap_or_default();
                    docs[p.doc].summary = Some(self.summary(text));
                } else {
                    next.push(Pending {
                        doc: p.doc,
                        pieces: parts,
                    });
                }
            }
            pending = next;
        }
        Ok(())
    }
}

impl Abstractive {
    fn summary(&self, text: String) -> Summary {
        Summary {
            text,
            method: SummaryMethod::Abstractive,
            model: self.model.id().to_string(),
            sentences: Vec::new(),
            note: None,
        }
    }
}

/// The extractive summarizer standing in for a model that could not load.
struct FallbackStage {
    note: String,
    extractive: ExtractiveConfig,
}

impl Stage for FallbackStage {
    fn backend(&self) -> &str {
        "extractive"
    }
    fn process(&self, docs: &mut [Doc]) -> Result<(), StageError> {
        par_each_doc(docs, |doc| {
            let mut summary = extractive_summary(doc, &self.extractive);
            summary.note = Some(self.note.clone());
            doc.summary = Some(summary);
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> usize {
        s.split_whitespace().count()
    }

    fn pieces(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn pack_fills_chunks_in_order_without_splitting_pieces() {
        let p = pieces(&["a b c", "d e", "f g h i", "j"]);
        assert_eq!(pack(&p, 5, words), ["a b c d e", "f g h i j"]);
        assert_eq!(pack(&p, 100, words), ["a b c d e f g h i j"]);
        // A piece over the budget stands alone.
        assert_eq!(pack(&p, 2, words), ["a b c", "d e", "f g h i", "j"]);
        assert!(pack(&[], 5, words).is_empty());
    }

    #[test]
    fn options_are_validated_with_their_key() {
        let ctx = BuildContext::default();
        let bad = |t: &str| {
            let cfg: RustBertConfig = stancepipe_core::parse_options(t.parse().unwrap()).unwrap();
            cfg.check(&ctx).unwrap_err().key
        };
        assert_eq!(bad("num_beams = 0"), "num_beams");
        assert_eq!(bad("min_length = 200\nmax_length = 100"), "min_length");
        assert_eq!(bad("device = \"tpu\""), "device");
        assert_eq!(bad("batch_size = 0"), "batch_size");
        let e: stancepipe_core::OptionError = stancepipe_core::parse_options::<RustBertConfig>(
            "fallback = \"lead\"".parse().unwrap(),
        )
        .unwrap_err();
        assert_eq!(e.key, "fallback");
        let e = stancepipe_core::parse_options::<RustBertConfig>(
            "generator = \"fast\"".parse().unwrap(),
        )
        .unwrap_err();
        assert_eq!(e.key, "generator");
        let cfg: RustBertConfig =
            stancepipe_core::parse_options("generator = \"rust-bert\"".parse().unwrap()).unwrap();
        assert_eq!(cfg.generator, GeneratorKind::RustBert);
        assert_eq!(RustBertConfig::default().generator, GeneratorKind::Own);
    }
}
