//! The first stancepipe stage: raw text to sentences, company mentions and
//! subword tokens.
//!
//! - [`segment`] / [`Segmenter`]: rule-based sentence segmentation that
//!   knows about hard-wrapped lines, headings and datelines, abbreviations,
//!   numbers and tickers, and marks headings so that later stages skip them.
//! - [`MentionFinder`]: finds every alias of every tracked company at word
//!   boundaries (Aho-Corasick, leftmost-longest) and ties each mention to
//!   its sentence, which is what the stance stage aggregates over.
//! - [`ReferenceFinder`]: attaches pronouns and descriptions ("it", "the
//!   payment giant") to the one company in focus, as mentions with
//!   `reference: true` (option `references`; the rule is in the
//!   `references` module's doc).
//! - [`discover`]: with `discover = true`, organizations found by a trained
//!   recognizer (`stancepipe_encoder::tagger`) are grouped into companies
//!   and tracked beside the configured ones.
//! - [`TokenizeConfig`]: the `tokenize` stage (backend `rules`), which also
//!   produces subword tokens from a Hugging Face `tokenizer.json` when one is
//!   configured; [`register`] adds it to a [`Registry`].
//!
//! Every span is a byte range into the original document text.

pub mod discover;
mod mentions;
mod references;
mod segment;
mod stage;
mod subword;

pub use mentions::{CaseRule, MentionFinder};
pub use references::{
    check_reference_word, ReferenceFinder, DEFAULT_REFERENCE_WORDS, NOT_A_WILDCARD,
};
pub use segment::{segment, Segmenter, ABBREVIATIONS, DEFAULT_MAX_HEADING_WORDS};
pub use stage::TokenizeConfig;

use stancepipe_core::{Registry, RegistryError};

/// Registers the `tokenize` stage's `rules` backend.
pub fn register(registry: &mut Registry) -> Result<(), RegistryError> {
    registry.register::<TokenizeConfig>()
}
