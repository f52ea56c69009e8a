//! The running side of a pipeline component.

use crate::doc::Doc;
use rayon::prelude::*;
use serde::Serialize;
use std::fmt;

/// A kind of annotation on a [`Doc`]. Stages declare what they require and
/// provide; the runner checks the chain before any document flows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Annotation {
    Sentences,
    Tokens,
    Mentions,
    /// Companies found in the text, not only the configured ones
    /// (`tokenize` with `discover = true`).
    DiscoveredCompanies,
    SentenceLabels,
    Stance,
    Summary,
}

impl fmt::Display for Annotation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            Annotation::Sentences => "sentences",
            Annotation::Tokens => "tokens",
            Annotation::Mentions => "mentions",
            Annotation::DiscoveredCompanies => "discovered_companies",
            Annotation::SentenceLabels => "sentence_labels",
            Annotation::Stance => "stance",
            Annotation::Summary => "summary",
        };
        f.write_str(s)
    }
}

/// A failure inside a stage.
#[derive(Debug, Clone, PartialEq)]
pub enum StageError {
    /// The whole batch failed (a model error, say). The runner retries the
    /// documents one by one to find which ones fail.
    Batch(String),
    /// These documents (indices into the batch) failed; the rest succeeded.
    Docs(Vec<(usize, String)>),
}

impl fmt::Display for StageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StageError::Batch(m) => write!(f, "{m}"),
            StageError::Docs(errs) => write!(f, "{} document(s) failed", errs.len()),
        }
    }
}

/// A built, ready-to-run component.
///
/// Contract: `process` must *assign* its annotations (not append to them), so
/// that the runner can re-run a document alone after a batch failure or a
/// panic. Provenance is added by the runner, not by the stage.
pub trait Stage: Send + Sync {
    /// The backend name shown in provenance (`lexicon`, `extractive`, ...).
    fn backend(&self) -> &str;
    /// The model id or path this stage runs, or `None` for model-free stages.
    fn model(&self) -> Option<&str> {
        None
    }
    /// Process a batch of documents, all without errors so far.
    fn process(&self, docs: &mut [Doc]) -> Result<(), StageError>;
}

/// Runs `f` on every document in parallel (rayon) and collects per-document
/// failures: the usual body of a CPU stage's [`Stage::process`].
pub fn par_each_doc<F>(docs: &mut [Doc], f: F) -> Result<(), StageError>
where
    F: Fn(&mut Doc) -> Result<(), String> + Sync,
{
    let errors: Vec<(usize, String)> = docs
        .par_iter_mut()
        .enumerate()
        .filter_map(|(i, d)| f(d).err().map(|e| (i, e)))
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(StageError::Docs(errors))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn par_each_doc_reports_failing_indices() {
        let mut docs: Vec<Doc> = (0..5).map(|i| Doc::new(i.to_string(), "x")).collect();
        let r = par_each_doc(&mut docs, |d| {
            if d.id == "3" {
                Err("bad".into())
            } else {
                d.text.push('!');
                Ok(())
            }
        });
        assert_eq!(r, Err(StageError::Docs(vec![(3, "bad".into())])));
        assert_eq!(docs[0].text, "x!");
    }
}
