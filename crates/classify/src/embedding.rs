//! The `embedding-head` backend: sentence sentiment from a head trained on
//! Financial PhraseBank over all-MiniLM-L6-v2. The default head
//! (`models/heads/sentence`, trained by `stancepipe train stance` beside the
//! stance head, over the encoder with the LoRA adapters tuned with them, not
//! a frozen one) reads the stance stage's encoder, so the
//! two stages share one pass per sentence; heads of `stancepipe train
//! sentiment` read their own. Figures: docs/quality.md.

use serde::{Deserialize, Serialize};
use stancepipe_core::{
    Annotation, BackendConfig, BuildContext, Doc, Label, OptionError, Stage, StageConfig,
    StageError,
};
use stancepipe_encoder::{Embed, Head};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EmbeddingHeadConfig {
    pub encoder: String,
    pub head: PathBuf,
    pub batch_size: usize,
    /// Bytes of content sentences read per document ([`stancepipe_encoder::READ_BYTES`]).
    pub read_bytes: usize,
}

impl Default for EmbeddingHeadConfig {
    fn default() -> Self {
        EmbeddingHeadConfig {
            encoder: "models/all-MiniLM-L6-v2".into(),
            head: PathBuf::from("models/heads/sentence"),
            batch_size: 64,
            read_bytes: stancepipe_encoder::READ_BYTES,
        }
    }
}

const TASK: &str = "sentence-sentiment";

impl StageConfig for EmbeddingHeadConfig {
    fn requires(&self) -> Vec<Annotation> {
        vec![Annotation::Sentences]
    }
    fn provides(&self) -> Vec<Annotation> {
        vec![Annotation::SentenceLabels]
    }
    fn model(&self) -> Option<String> {
        Some(format!("{} + {}", self.encoder, self.head.display()))
    }
    fn check(&self, ctx: &BuildContext) -> Result<(), OptionError> {
        if self.batch_size == 0 {
            return Err(OptionError::new("batch_size", "must be at least 1"));
        }
        if self.read_bytes == 0 {
            return Err(OptionError::new("read_bytes", "must be at least 1"));
        }
        stancepipe_encoder::stage::check(&self.encoder, &self.head, ctx)
    }
    fn build(&self, ctx: &BuildContext) -> Result<Box<dyn Stage>, OptionError> {
        let (encoder, head) =
            stancepipe_encoder::stage::load(&self.encoder, &self.head, TASK, ctx)?;
        Ok(Box::new(EmbeddingHead {
            model: format!("{} + {}", encoder.id(), self.head.display()),
            encoder,
            head,
            batch_size: self.batch_size,
            read_bytes: self.read_bytes,
        }))
    }
}

impl BackendConfig for EmbeddingHeadConfig {
    const KIND: &'static str = "classify";
    const BACKEND: &'static str = "embedding-head";
    const DESCRIPTION: &'static str =
        "sentence sentiment (positive / negative / neutral) from a trained head: by default models/heads/sentence, trained on PhraseBank with the stance model (`stancepipe train stance`: MiniLM with LoRA adapters), which reads the stance stage's encoder pass (one shared pass per sentence); a head of `stancepipe train sentiment` runs its own pass";
    const OPTIONS: &'static [(&'static str, &'static str)] = &[
        (
            "encoder",
            "the base sentence-transformers model, directory or hub id (relative to the config file); a tuned head's adapters or top layers come from the head's folder (its manifest's `encoder_top`)",
        ),
        (
            "head",
            "directory with manifest.json + head.safetensors from `stancepipe train stance` (models/heads/sentence) or `stancepipe train sentiment`",
        ),
        ("batch_size", "sentences embedded at once"),
        ("read_bytes", "most bytes of content sentences read per document (the rest is left unlabeled, with a note); the stance stage should read as many to share its encoder passes"),
    ];
}

struct EmbeddingHead {
    encoder: Arc<dyn Embed>,
    head: Head,
    model: String,
    batch_size: usize,
    read_bytes: usize,
}

impl Stage for EmbeddingHead {
    fn backend(&self) -> &str {
        EmbeddingHeadConfig::BACKEND
    }
    fn model(&self) -> Option<&str> {
        Some(&self.model)
    }
    fn process(&self, docs: &mut [Doc]) -> Result<(), StageError> {
        // Every content sentence of the batch, embedded together.
        let mut at: Vec<(usize, usize)> = Vec::new();
        let mut texts: Vec<&str> = Vec::new();
        let mut notes = Vec::new();
        for (d, doc) in docs.iter().enumerate() {
            let (read, cut) = stancepipe_encoder::read_budget(doc, self.read_bytes);
            for (s, len) in read {
                let start = doc.sentences[s].span.start;
                at.push((d, s));
                texts.push(&doc.text[start..start + len]);
            }
            if cut > 0 {
                notes.push((
                    d,
                    stancepipe_encoder::budget_note("classify", self.read_bytes, cut),
                ));
            }
        }
        let x = self
            .encoder
            .embed_many(&texts, self.batch_size, &|_| {})
            .map_err(StageError::Batch)?;
        let probs = self.head.predict(&x);
        for doc in docs.iter_mut() {
            doc.sentences.iter_mut().for_each(|s| s.label = None);
        }
        for (d, note) in notes {
            docs[d].notes.push(note);
        }
        let labels = &self.head.manifest.labels;
        for ((d, s), p) in at.into_iter().zip(probs) {
            let best = p
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(b.1))
                .map_or(0, |(i, _)| i);
            let scores: BTreeMap<String, f32> =
                labels.iter().cloned().zip(p.iter().copied()).collect();
            docs[d].sentences[s].label = Some(Label {
                label: labels[best].clone(),
                score: p[best],
                scores,
            });
        }
        Ok(())
    }
}
