//! Subword tokens from a Hugging Face `tokenizer.json`.

use stancepipe_core::{Sentence, Span, Token};
use std::path::Path;
use tokenizers::Tokenizer;

/// Sentences per `encode_batch` call: bounds the memory held in encodings
/// for one huge document while keeping batches large enough to be cheap.
const BATCH: usize = 256;

/// A loaded tokenizer, set up to encode whole sentences.
pub(crate) struct Subwords {
    tokenizer: Tokenizer,
}

impl Subwords {
    /// Loads `tokenizer.json`. Truncation and padding are switched off:
    /// files made for a model usually truncate and pad to its input length
    /// (MiniLM: 128), and we want every token of every sentence, unpadded.
    pub(crate) fn from_file(path: &Path) -> Result<Self, String> {
        let mut tokenizer = Tokenizer::from_file(path).map_err(|e| e.to_string())?;
        tokenizer.with_truncation(None).map_err(|e| e.to_string())?;
        tokenizer.with_padding(None);
        Ok(Subwords { tokenizer })
    }

    /// Encodes each sentence of `text` (no special tokens) and returns the
    /// tokens with spans into `text`, setting each sentence's `tokens` range.
    ///
    /// `encode_batch` parallelizes over the batch with rayon; it runs on
    /// rayon's global pool, the same pool `par_each_doc` uses, so nesting it
    /// inside the per-document parallelism adds work items, not threads.
    pub(crate) fn tokenize(
        &self,
        text: &str,
        sentences: &mut [Sentence],
    ) -> Result<Vec<Token>, String> {
        let mut tokens = Vec::new();
        for chunk in sentences.chunks_mut(BATCH) {
            let inputs: Vec<&str> = chunk
                .iter()
                .map(|s| &text[s.span.start..s.span.end])
                .collect();
            let encodings = self
                .tokenizer
                .encode_batch(inputs, false)
                .map_err(|e| format!("tokenizer failed: {e}"))?;
            for (sentence, encoding) in chunk.iter_mut().zip(encodings) {
                let first = tokens.len();
                let base = sentence.span.start;
                let sentence_text = &text[sentence.span.start..sentence.span.end];
                for (&id, &(start, end)) in encoding.get_ids().iter().zip(encoding.get_offsets()) {
                    // `encode` reports byte offsets into its input.
                    let (start, end) = snap(sentence_text, start, end);
                    tokens.push(Token {
                        span: Span::new(base + start, base + end),
                        id,
                    });
                }
                sentence.tokens = Some(Span::new(first, tokens.len()));
            }
        }
        Ok(tokens)
    }
}

/// Clamps a byte range to `text` and widens it to char boundaries, so that a
/// tokenizer that splits a char into byte tokens cannot break the [`Span`]
/// invariant.
fn snap(text: &str, start: usize, end: usize) -> (usize, usize) {
    let mut start = start.min(text.len());
    let mut end = end.clamp(start, text.len());
    while !text.is_char_boundary(start) {
        start -= 1;
    }
    while !text.is_char_boundary(end) {
        end += 1;
    }
    (start, end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snap_widens_to_char_boundaries() {
        let t = "aü b";
        assert_eq!(snap(t, 2, 3), (1, 3));
        assert_eq!(snap(t, 1, 2), (1, 3));
        assert_eq!(snap(t, 4, 99), (4, 5));
        assert_eq!(snap(t, 9, 3), (5, 5));
    }
}
