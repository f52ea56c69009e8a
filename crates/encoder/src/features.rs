//! The model inputs built from text, shared by training and inference so the
//! two can never disagree.

/// How a target (an entity mention) is shown to the encoder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TargetFeatures {
    /// The whole text with the target wrapped in `<< >>` markers.
    Marked,
    /// `Marked`, concatenated with the embedding of a window of
    /// [`WINDOW_WORDS`] words on each side of the (marked) target.
    MarkedWindow,
    /// `Marked`, its sentence embedding concatenated with the mean of the
    /// target's own token states (span pooling): one encoder pass, and a
    /// feature that differs between two targets of the same sentence.
    /// Needs token states, so it runs through [`crate::TunedEncoder`].
    MarkedSpan,
    /// `Marked`, pooled over the target's own token states only (TD-BERT's
    /// choice): the sentence's overall tone reaches the target only through
    /// attention, which is meant to help when two targets of one sentence
    /// differ. Runs through [`crate::TunedEncoder`], like `MarkedSpan`.
    Span,
}

impl TargetFeatures {
    /// How many texts are embedded per target.
    pub fn texts_per_example(self) -> usize {
        match self {
            TargetFeatures::Marked | TargetFeatures::MarkedSpan | TargetFeatures::Span => 1,
            TargetFeatures::MarkedWindow => 2,
        }
    }

    /// How each text's token states are pooled.
    pub fn pooling(self) -> crate::tuned::Pooling {
        match self {
            TargetFeatures::MarkedSpan => crate::tuned::Pooling::MeanAndTarget,
            TargetFeatures::Span => crate::tuned::Pooling::Target,
            _ => crate::tuned::Pooling::Mean,
        }
    }
}

use stancepipe_core::{Doc, SentenceKind, Span};

/// How many encoder-width vectors a one-pass target head reads: the
/// sentence mean and the mention mean, the local context's mean when
/// `context > 0` ([`crate::TextStates::target_features`]) and the mention's
/// attention when `attend > 0` ([`crate::attend`]).
pub fn one_pass_target_parts(context: usize, attend: usize) -> usize {
    2 + usize::from(context > 0) + usize::from(attend > 0)
}

/// The markers [`mark`] puts around a target; span pooling finds the
/// target's tokens between them.
pub const MARK_OPEN: &str = "<<";
pub const MARK_CLOSE: &str = ">>";

/// Words kept on each side of a target in its window.
pub const WINDOW_WORDS: usize = 12;

/// `text` with `text[start..end]` wrapped in `<< >>`. Offsets are bytes on
/// char boundaries.
pub fn mark(text: &str, start: usize, end: usize) -> String {
    format!(
        "{}{MARK_OPEN} {} {MARK_CLOSE}{}",
        &text[..start],
        &text[start..end],
        &text[end..]
    )
}

/// The marked target with at most [`WINDOW_WORDS`] words on each side.
pub fn window(text: &str, start: usize, end: usize) -> String {
    let left: Vec<&str> = text[..start].split_whitespace().collect();
    let right: Vec<&str> = text[end..].split_whitespace().collect();
    let l = &left[left.len().saturating_sub(WINDOW_WORDS)..];
    let r = &right[..right.len().min(WINDOW_WORDS)];
    let mut out = l.join(" ");
    if !out.is_empty() {
        out.push(' ');
    }
    out.push_str(MARK_OPEN);
    out.push(' ');
    out.push_str(&text[start..end]);
    out.push(' ');
    out.push_str(MARK_CLOSE);
    if !r.is_empty() {
        out.push(' ');
        out.push_str(&r.join(" "));
    }
    out
}

/// What separates a text from a target appended after it ([`with_targets`]):
/// BERT's own separator, which the tokenizer reads as its special token.
pub const PAIR_SEP: &str = " [SEP] ";

/// How a one-pass target head is shown targets that may not occur in the
/// text (a stance topic, a claim): a target with a span in `text` stays
/// there; the others are appended, each after [`PAIR_SEP`], in order.
/// Returns the text to encode and each target's byte span in it. In the
/// pipeline every mention is in its sentence, so nothing is appended there.
pub fn with_targets(
    text: &str,
    targets: &[(&str, Option<(usize, usize)>)],
) -> (String, Vec<(usize, usize)>) {
    let mut out = text.to_string();
    let spans = targets
        .iter()
        .map(|&(target, span)| {
            span.unwrap_or_else(|| {
                out.push_str(PAIR_SEP);
                let start = out.len();
                out.push_str(target);
                (start, out.len())
            })
        })
        .collect();
    (out, spans)
}

/// One mention the target head classifies, with the texts it is shown as.
pub struct MentionInput<'a> {
    pub company: &'a str,
    /// Index of the mention's sentence in `doc.sentences`.
    pub sentence: usize,
    /// The mention in the document's text.
    pub span: Span,
    /// A reference ("it", "the company"), not the company's name.
    pub reference: bool,
    pub texts: Vec<String>,
}

/// Every mention of `doc` that lies inside a content sentence (the only
/// ones the target head sees), in entity then mention order.
pub fn mention_inputs(doc: &Doc, kind: TargetFeatures) -> Vec<MentionInput<'_>> {
    let mut out = Vec::new();
    for e in &doc.entities {
        for m in &e.mentions {
            let Some(s) = doc.sentences.get(m.sentence) else {
                continue;
            };
            if s.kind != SentenceKind::Content || !s.span.contains(m.span) {
                continue;
            }
            let (start, end) = (m.span.start - s.span.start, m.span.end - s.span.start);
            out.push(MentionInput {
                company: &e.company,
                sentence: m.sentence,
                span: m.span,
                reference: m.reference,
                texts: target_texts(kind, doc.slice(s.span), start, end),
            });
        }
    }
    out
}

/// The texts to embed for one target example, in feature order.
pub fn target_texts(kind: TargetFeatures, text: &str, start: usize, end: usize) -> Vec<String> {
    match kind {
        TargetFeatures::Marked | TargetFeatures::MarkedSpan | TargetFeatures::Span => {
            vec![mark(text, start, end)]
        }
        TargetFeatures::MarkedWindow => vec![mark(text, start, end), window(text, start, end)],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_and_windows_keep_the_target() {
        let t = "Shares of Acme Corp fell 3% after the report.";
        let (s, e) = (10, 19);
        assert_eq!(
            mark(t, s, e),
            "Shares of << Acme Corp >> fell 3% after the report."
        );
        assert_eq!(
            window(t, s, e),
            "Shares of << Acme Corp >> fell 3% after the report."
        );
        let long = format!("{} Acme {}", "a ".repeat(20), "b ".repeat(20));
        let s = long.find("Acme").unwrap();
        let w = window(&long, s, s + 4);
        assert_eq!(w.split_whitespace().count(), 2 * WINDOW_WORDS + 3);
        for kind in [
            TargetFeatures::Marked,
            TargetFeatures::MarkedWindow,
            TargetFeatures::MarkedSpan,
            TargetFeatures::Span,
        ] {
            assert_eq!(
                target_texts(kind, t, 10, 19).len(),
                kind.texts_per_example()
            );
        }
    }

    #[test]
    fn non_ascii_offsets() {
        let t = "Zürich's Ümlaut AG rose";
        let s = t.find("Ümlaut").unwrap();
        let e = s + "Ümlaut AG".len();
        assert_eq!(mark(t, s, e), "Zürich's << Ümlaut AG >> rose");
    }
}
