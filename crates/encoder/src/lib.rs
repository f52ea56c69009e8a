//! Sentence embeddings from a sentence-transformers model directory (such as
//! `models/all-MiniLM-L6-v2`, placed by `scripts/bootstrap.sh`) through
//! rust-bert.
//!
//! This is a library shared by model stages (sentence classification,
//! target sentiment), not a stage: like `core`, stage crates may depend on
//! it, and it depends on nothing but `core`. It reads the model as
//! sentence-transformers saves it (`modules.json`, `1_Pooling/`,
//! `sentence_bert_config.json`, `config.json`, `vocab.txt`) and loads the
//! weights from `model.safetensors` (or `rust_model.ot`), so the output is
//! the same pooling, normalization and `max_seq_length` truncation as
//! `SentenceTransformer.encode`.
//!
//! [`features`] builds the texts a target is shown as, and [`head`] trains
//! and runs the small classifier heads on top of the embeddings; training
//! (`stancepipe train`) and the model stages share them.

pub mod attend;
pub mod features;
pub mod head;
mod layer;
pub mod multitask;
pub mod nli;
pub mod soup;
pub mod stage;
pub mod states;
pub mod tagger;
pub mod tuned;

/// Tests that seed or draw from libtorch's global random generator hold
/// this, so that two of them running at once cannot interleave their draws.
#[cfg(test)]
pub(crate) static TORCH_RNG: std::sync::Mutex<()> = std::sync::Mutex::new(());

pub use features::TargetFeatures;
pub use head::{Head, Manifest, TrainParams};
pub use states::{StatesEncoder, TextStates};
pub use tuned::{Adapt, Pooling, Spec, TuneParams, TunedEncoder};

use rust_bert::pipelines::common::ModelType;
use rust_bert::pipelines::sentence_embeddings::{
    SentenceEmbeddingsConfig, SentenceEmbeddingsModel,
};
use rust_bert::resources::LocalResource;
use stancepipe_core::{Doc, ModelError, ModelRepo};
use std::path::Path;
use std::sync::Mutex;

/// Something that turns texts into sentence embeddings: the base
/// [`SentenceEncoder`] or a [`TunedEncoder`]. Model stages hold one of these.
pub trait Embed: Send + Sync {
    /// The model id (hub id or directory) for provenance.
    fn id(&self) -> &str;

    /// Embedding size (384 for MiniLM-L6).
    fn dim(&self) -> usize;

    /// Embeds texts as one batch.
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, String>;

    /// Tokens per text as the model sees them (special tokens included, cut
    /// at the model's `max_seq_length`).
    fn token_lengths(&self, texts: &[&str]) -> Vec<usize>;

    /// Embeds any number of texts in groups made by [`length_groups`] from
    /// their token counts, so that little padding is computed; results come
    /// back in input order. `progress` is told how many texts are done after
    /// each group.
    fn embed_many(
        &self,
        texts: &[&str],
        batch_size: usize,
        progress: &dyn Fn(usize),
    ) -> Result<Vec<Vec<f32>>, String> {
        let lens = self.token_lengths(texts);
        let mut out: Vec<Vec<f32>> = vec![Vec::new(); texts.len()];
        let mut done = 0;
        for group in length_groups(&lens, batch_size) {
            let batch: Vec<&str> = group.iter().map(|&i| texts[i]).collect();
            for (&i, e) in group.iter().zip(self.embed(&batch)?) {
                out[i] = e;
            }
            done += group.len();
            progress(done);
        }
        Ok(out)
    }
}

/// Bytes of content sentences a model stage reads per document by default
/// (option `read_bytes`): about 25,000 tokens, a hundred pages of news. A
/// longer document is read up to there, and says so in its `notes`, so
/// that one huge document cannot hold up or exhaust a batch.
pub const READ_BYTES: usize = 100_000;

/// What a model stage reads of `doc` within `budget` bytes: each content
/// sentence in text order with the length (bytes, on a char boundary) of
/// the part that is read, until the budget is spent; and the number of
/// content sentences cut or left out. Stages sharing an encoder read the
/// same parts, so they share its passes.
pub fn read_budget(doc: &Doc, budget: usize) -> (Vec<(usize, usize)>, usize) {
    let mut left = budget;
    let mut out = Vec::new();
    let mut cut = 0;
    for i in doc.content_sentences() {
        let s = doc.sentences[i].span;
        let len = s.len();
        if left == 0 {
            cut += 1;
            continue;
        }
        let mut take = len.min(left);
        while take > 0 && !doc.text.is_char_boundary(s.start + take) {
            take -= 1;
        }
        if take < len {
            cut += 1;
        }
        left -= len.min(left);
        if take > 0 {
            out.push((i, take));
        }
    }
    (out, cut)
}

/// The note a model stage adds to a document whose reading was cut.
pub fn budget_note(stage: &str, budget: usize, cut: usize) -> String {
    format!(
        "{stage}: read the first {budget} bytes of content sentences (option read_bytes); {cut} sentence(s) were cut or not read"
    )
}

/// A loaded sentence-embedding model.
pub struct SentenceEncoder {
    id: String,
    dim: usize,
    /// Whether the model's modules end with Normalize (unit vectors).
    normalized: bool,
    /// Encoding is sequential per model; libtorch threads parallelize inside.
    model: Mutex<SentenceEmbeddingsModel>,
}

/// A group shorter than this fraction of its longest text starts a new one.
const GROUP_FILL: f64 = 0.8;

/// How texts of `lens` tokens are grouped into model calls: longest first; a
/// group ends at `batch_size` texts or before a text under [`GROUP_FILL`] of
/// the group's longest, so every text in a group is padded by at most 25%
/// of its length (one call per text would need no padding but waste the
/// matrix units on tiny products). Returns indices into `lens`.
pub fn length_groups(lens: &[usize], batch_size: usize) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..lens.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(lens[i]));
    let mut groups: Vec<Vec<usize>> = Vec::new();
    let mut current: Vec<usize> = Vec::new();
    for i in order {
        let longest = current.first().map_or(0, |&j| lens[j]);
        if current.len() >= batch_size.max(1) || (lens[i] as f64) < GROUP_FILL * longest as f64 {
            groups.push(std::mem::take(&mut current));
        }
        current.push(i);
    }
    if !current.is_empty() {
        groups.push(current);
    }
    groups
}

pub(crate) fn local(path: &Path) -> Box<LocalResource> {
    Box::new(LocalResource {
        local_path: path.to_path_buf(),
    })
}

pub(crate) fn malformed(file: &Path, reason: impl std::fmt::Display) -> ModelError {
    ModelError::Malformed {
        file: file.display().to_string(),
        reason: reason.to_string(),
    }
}

impl SentenceEncoder {
    /// Loads a BERT-based sentence-transformers model on `device`.
    pub fn load(repo: &ModelRepo, device: tch::Device) -> Result<Self, ModelError> {
        let (config, json) = repo.config_json()?;
        let model_type = json
            .get("model_type")
            .and_then(|v| v.as_str())
            .unwrap_or_default();
        if model_type != "bert" {
            return Err(malformed(
                &config,
                format!(
                    "model_type {model_type:?}: only BERT-based sentence encoders are supported"
                ),
            ));
        }
        let modules = repo.file(&["modules.json"])?;
        let pooling = repo.file(&["1_Pooling/config.json"])?;
        let sbert = repo.file(&["sentence_bert_config.json"])?;
        let tokenizer_config = repo.file(&["tokenizer_config.json"])?;
        let vocab = repo.file(&["vocab.txt"])?;
        let weights = repo.file(&["model.safetensors", "rust_model.ot"])?;
        let dim = json
            .get("hidden_size")
            .and_then(|v| v.as_u64())
            .unwrap_or(0) as usize;
        let cfg = SentenceEmbeddingsConfig {
            modules_config_resource: local(&modules),
            transformer_type: ModelType::Bert,
            transformer_config_resource: local(&config),
            transformer_weights_resource: local(&weights),
            pooling_config_resource: local(&pooling),
            dense_config_resource: None,
            dense_weights_resource: None,
            sentence_bert_config_resource: local(&sbert),
            tokenizer_config_resource: local(&tokenizer_config),
            tokenizer_vocab_resource: local(&vocab),
            tokenizer_merges_resource: None,
            device,
            kind: None,
        };
        let model = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            SentenceEmbeddingsModel::new(cfg)
        }))
        .map_err(|_| malformed(&weights, "rust-bert panicked while loading the model"))?
        .map_err(|e| malformed(&weights, e))?;
        let normalized = std::fs::read_to_string(&modules)
            .map(|t| t.contains("sentence_transformers.models.Normalize"))
            .unwrap_or(false);
        Ok(SentenceEncoder {
            id: repo.id(),
            dim,
            normalized,
            model: Mutex::new(model),
        })
    }

    /// Whether embeddings are L2-normalized (the model's modules say so).
    pub fn normalized(&self) -> bool {
        self.normalized
    }

    /// Token ids and attention mask (`[texts, longest]`) as the model's
    /// tokenizer makes them, truncated to its `max_seq_length`.
    pub(crate) fn tokenize(&self, texts: &[&str]) -> (tch::Tensor, tch::Tensor) {
        let model = self.model.lock().unwrap_or_else(|e| e.into_inner());
        let t = model.tokenize(texts);
        (
            tch::Tensor::stack(&t.tokens_ids, 0),
            tch::Tensor::stack(&t.tokens_masks, 0),
        )
    }
}

impl Embed for SentenceEncoder {
    fn id(&self) -> &str {
        &self.id
    }

    fn dim(&self) -> usize {
        self.dim
    }

    fn token_lengths(&self, texts: &[&str]) -> Vec<usize> {
        if texts.is_empty() {
            return Vec::new();
        }
        let model = self.model.lock().unwrap_or_else(|e| e.into_inner());
        model
            .tokenize(texts)
            .tokens_masks
            .iter()
            .map(|m| m.sum(tch::Kind::Int64).int64_value(&[]) as usize)
            .collect()
    }

    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, String> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let model = self.model.lock().unwrap_or_else(|e| e.into_inner());
        tch::no_grad(|| model.encode(texts)).map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_reads_sentences_in_order_and_cuts_on_char_boundaries() {
        let doc = Doc::from_sentences(
            "d",
            &[
                ("Head", stancepipe_core::SentenceKind::Heading),
                ("aaaa", stancepipe_core::SentenceKind::Content),
                ("ééé", stancepipe_core::SentenceKind::Content),
                ("bbbb", stancepipe_core::SentenceKind::Content),
            ],
        );
        assert_eq!(read_budget(&doc, 100), (vec![(1, 4), (2, 6), (3, 4)], 0));
        // 4 + 3 bytes: the second sentence is cut inside "é" -> 2 bytes.
        assert_eq!(read_budget(&doc, 7), (vec![(1, 4), (2, 2)], 2));
        assert_eq!(read_budget(&doc, 4), (vec![(1, 4)], 2));
        assert_eq!(read_budget(&doc, 0), (vec![], 3));
    }

    #[test]
    fn groups_are_longest_first_capped_and_split_by_length() {
        let lens = [10, 100, 95, 12, 90, 50, 11, 85];
        let groups = length_groups(&lens, 3);
        assert_eq!(groups, vec![vec![1, 2, 4], vec![7], vec![5], vec![3, 6, 0]]);
        // Every text once; padding within a group at most 25% of a text.
        let mut all: Vec<usize> = groups.concat();
        all.sort();
        assert_eq!(all, (0..lens.len()).collect::<Vec<_>>());
        for g in &groups {
            let longest = lens[g[0]] as f64;
            assert!(g.iter().all(|&i| lens[i] as f64 >= 0.8 * longest));
        }
        assert!(length_groups(&[], 4).is_empty());
    }
}
