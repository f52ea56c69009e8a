//! The runner: reads `pipeline.toml`, validates the whole chain before any
//! document flows, builds the stages through the registry, and streams
//! batches of documents through them.
//!
//! - [`config`]: the file format, `--set` overrides and validation.
//! - [`pipeline`]: the built chain and failure isolation.
//! - [`input`] / [`output`]: lazy document sources and streaming writers.
//! - [`run`]: the batch loop that ties them together.
//!
//! Stage crates never depend on this crate; this crate knows them only to
//! register their backends in [`default_registry`].

pub mod config;
pub mod error;
pub mod input;
pub mod output;
pub mod pipeline;

pub use config::{Override, PipelinePlan, RunOptions};
pub use error::{ConfigError, IoError};
pub use input::{open_inputs, Input, InputOptions, Inputs, StdinFormat};
pub use output::{DocWriter, Format};
pub use pipeline::Pipeline;

use stancepipe_core::{Doc, Registry, RegistryError};

/// A registry with every built-in backend. Another crate can add its own
/// backends to the returned registry before loading a pipeline.
pub fn default_registry() -> Result<Registry, RegistryError> {
    let mut r = Registry::new();
    stancepipe_tokenize::register(&mut r)?;
    stancepipe_classify::register(&mut r)?;
    stancepipe_stance::register(&mut r)?;
    stancepipe_summarize::register(&mut r)?;
    Ok(r)
}

/// Counts of a finished run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunSummary {
    pub documents: usize,
    pub failed: usize,
}

/// Feeds `docs` through the pipeline in batches and hands every result, in
/// input order, to `sink` as soon as its batch is done. Stops early only if
/// `sink` fails (the output cannot be written).
pub fn run<E>(
    pipeline: &Pipeline,
    docs: impl Iterator<Item = Doc>,
    mut sink: impl FnMut(&Doc) -> Result<(), E>,
) -> Result<RunSummary, E> {
    let mut summary = RunSummary::default();
    let mut docs = docs.peekable();
    while docs.peek().is_some() {
        let batch: Vec<Doc> = docs.by_ref().take(pipeline.batch_size).collect();
        for doc in pipeline.process(batch) {
            summary.documents += 1;
            summary.failed += usize::from(!doc.is_ok());
            sink(&doc)?;
        }
    }
    Ok(summary)
}
