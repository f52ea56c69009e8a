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
pub mod resume;

pub use config::{Override, PipelinePlan, RunOptions};
pub use error::{ConfigError, IoError};
pub use input::{open_inputs, Input, InputOptions, Inputs, StdinFormat};
pub use output::{DocWriter, Format, Omit, RUN_PAGE_GENERATOR};
pub use pipeline::{Pipeline, Threads};
pub use resume::{Resume, ResumeError};

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

/// In which order results reach the sink.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Order {
    /// Input order (results wait for their batch to finish).
    #[default]
    Input,
    /// As soon as each document is final: unreadable documents at once,
    /// failed ones after the stage that failed them (`--unordered`).
    Finished,
}

/// Feeds `docs` through the pipeline in batches and hands every result, in
/// input order, to `sink` as soon as its batch is done. Stops early only if
/// `sink` fails (the output cannot be written).
pub fn run<E>(
    pipeline: &Pipeline,
    docs: impl Iterator<Item = Doc>,
    sink: impl FnMut(&Doc) -> Result<(), E>,
) -> Result<RunSummary, E> {
    run_with(pipeline, docs, Order::Input, sink)
}

/// [`run`] with a choice of [`Order`]. Only one batch of documents is held
/// at a time, so memory does not grow with the number of documents.
pub fn run_with<E>(
    pipeline: &Pipeline,
    docs: impl Iterator<Item = Doc>,
    order: Order,
    mut sink: impl FnMut(&Doc) -> Result<(), E>,
) -> Result<RunSummary, E> {
    let mut summary = RunSummary::default();
    let mut docs = docs.peekable();
    while docs.peek().is_some() {
        let batch: Vec<Doc> = docs.by_ref().take(pipeline.batch_size).collect();
        // The sink's first error stops the writing; the batch still finishes.
        let mut failure: Option<E> = None;
        let mut emit = |doc: &Doc| {
            if failure.is_none() {
                summary.documents += 1;
                summary.failed += usize::from(!doc.is_ok());
                if let Err(e) = sink(doc) {
                    failure = Some(e);
                }
            }
        };
        match order {
            Order::Input => pipeline.process(batch).iter().for_each(&mut emit),
            Order::Finished => pipeline.process_each(batch, &mut |_, doc| emit(&doc)),
        }
        if let Some(e) = failure {
            return Err(e);
        }
        trim_heap();
    }
    Ok(summary)
}

/// Hands the memory a batch freed back to the OS. glibc keeps freed heap
/// chunks for reuse and raises its mmap threshold after large frees, so the
/// model stages' many short-lived tensors fragment the heap and a long run's
/// resident size creeps up (peak RSS 488 MB for 1,000 documents, 575 MB for
/// 10,000; docs/benchmarks.md). Trimming once per batch bounds it by a batch.
fn trim_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free memory to the OS; it takes no
    // pointers and is safe to call at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stancepipe_core::{Stage, StageError};

    /// Fails documents whose text is "bad"; leaves the others alone.
    struct FailBad;
    impl Stage for FailBad {
        fn backend(&self) -> &str {
            "fail-bad"
        }
        fn process(&self, docs: &mut [Doc]) -> Result<(), StageError> {
            stancepipe_core::par_each_doc(docs, |d| {
                if d.text == "bad" {
                    Err("bad".into())
                } else {
                    Ok(())
                }
            })
        }
    }

    fn pipeline(batch_size: usize) -> Pipeline {
        let stages = (0..2)
            .map(|i| pipeline::BuiltStage {
                id: format!("s{i}"),
                kind: "test".into(),
                stage: Box::new(FailBad),
            })
            .collect();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        Pipeline::new(stages, batch_size, pool)
    }

    fn docs() -> Vec<Doc> {
        let mut docs: Vec<Doc> = ["a", "bad", "c", "d", "bad", "f"]
            .iter()
            .enumerate()
            .map(|(i, t)| Doc::new(i.to_string(), *t))
            .collect();
        docs[3] = Doc::failed("3", "input", "unreadable");
        docs
    }

    fn ids(order: Order, batch_size: usize) -> (Vec<String>, RunSummary) {
        let mut seen = Vec::new();
        let summary = run_with(&pipeline(batch_size), docs().into_iter(), order, |d| {
            seen.push(d.id.clone());
            Ok::<_, ()>(())
        })
        .unwrap();
        (seen, summary)
    }

    #[test]
    fn input_order_or_as_finished() {
        let expected = RunSummary {
            documents: 6,
            failed: 3,
        };
        assert_eq!(
            ids(Order::Input, 4),
            (svec(&["0", "1", "2", "3", "4", "5"]), expected)
        );
        // Batches [0 1 2 3] [4 5]: the unreadable 3 first, then the failed 1,
        // then the rest of the batch.
        assert_eq!(
            ids(Order::Finished, 4),
            (svec(&["3", "1", "0", "2", "4", "5"]), expected)
        );
    }

    fn svec(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_failing_sink_stops_the_run() {
        let mut calls = 0;
        let r = run_with(&pipeline(2), docs().into_iter(), Order::Input, |_| {
            calls += 1;
            if calls == 3 {
                Err("disk full")
            } else {
                Ok(())
            }
        });
        assert_eq!(r, Err("disk full"));
        assert_eq!(calls, 3, "nothing is written after the failure");
    }
}
