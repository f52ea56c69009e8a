//! The built stage chain and batch execution.
//!
//! This is the one place that decides what happens when a stage fails: a
//! per-document error turns that document into an error record, and a batch
//! error or a panic makes the runner retry the batch's documents one by one so
//! that only the culprits fail. Error records skip the later stages and are
//! still written out, in input order.

use crate::config::PipelinePlan;
use crate::error::ConfigError;
use stancepipe_core::{Doc, DocError, Provenance, Stage, StageError};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Instant;

/// A stage ready to run, with the identity that goes into provenance.
pub struct BuiltStage {
    pub id: String,
    pub kind: String,
    pub stage: Box<dyn Stage>,
}

/// A running pipeline: built stages in order, and the threads they run on.
pub struct Pipeline {
    pub stages: Vec<BuiltStage>,
    pub batch_size: usize,
    /// Stamped on every document as `config_digest` (see
    /// [`PipelinePlan::digest`]).
    pub config_digest: Option<String>,
    /// The rayon pool every batch runs inside (CPU stages spread documents
    /// over it); see [`Threads`].
    pool: rayon::ThreadPool,
}

/// The one place that decides how many threads a run uses.
///
/// Stages run one after another on a batch, never at the same time, so the
/// CPU stages (rayon, across documents) and the model stages (libtorch
/// intra-op threads, inside each matrix multiply) take turns on the same
/// `n` cores: both get `n` threads and the cores are not oversubscribed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Threads(pub usize);

impl Threads {
    /// `0` means one thread per core.
    pub fn resolve(requested: usize) -> Threads {
        if requested > 0 {
            Threads(requested)
        } else {
            Threads(std::thread::available_parallelism().map_or(1, |n| n.get()))
        }
    }

    /// Sets libtorch's intra-op threads (process-wide: the last pipeline
    /// built wins) and makes the rayon pool for the CPU stages.
    fn apply(self) -> Result<rayon::ThreadPool, String> {
        tch::set_num_threads(self.0 as i32);
        rayon::ThreadPoolBuilder::new()
            .num_threads(self.0)
            .thread_name(|i| format!("stancepipe-{i}"))
            .build()
            .map_err(|e| format!("cannot start {} threads: {e}", self.0))
    }
}

impl PipelinePlan {
    /// Builds every stage (loads lexicons, tokenizers and models).
    pub fn build(&self) -> Result<Pipeline, ConfigError> {
        // Before any model is loaded, so that loading uses the same threads.
        let pool = Threads::resolve(self.run.threads)
            .apply()
            .map_err(|m| ConfigError::file(&self.file, m).with_key("run.threads"))?;
        let mut stages = Vec::with_capacity(self.stages.len());
        for p in &self.stages {
            let stage = p
                .config
                .build(&self.context)
                .map_err(|e| p.origin.error(&self.file, &p.id, &self.context, e))?;
            stages.push(BuiltStage {
                id: p.id.clone(),
                kind: p.kind.clone(),
                stage,
            });
        }
        let mut pipeline = Pipeline::new(stages, self.run.batch_size, pool);
        pipeline.config_digest = Some(self.digest.clone());
        Ok(pipeline)
    }
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    let what = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into());
    format!("stage panicked: {what}")
}

/// Runs one stage on a batch, isolating failures to the documents that cause
/// them. Returns (index in `docs`, message) for each failed document.
fn run_isolated(stage: &dyn Stage, docs: &mut [Doc]) -> Vec<(usize, String)> {
    let attempt = |docs: &mut [Doc]| match catch_unwind(AssertUnwindSafe(|| stage.process(docs))) {
        Ok(Ok(())) => Ok(Vec::new()),
        Ok(Err(StageError::Docs(errors))) => Ok(errors),
        Ok(Err(StageError::Batch(m))) => Err(m),
        Err(payload) => Err(panic_message(payload)),
    };
    match attempt(docs) {
        Ok(errors) => errors,
        Err(message) if docs.len() == 1 => vec![(0, message)],
        Err(_) => {
            let mut errors = Vec::new();
            for (i, doc) in docs.iter_mut().enumerate() {
                match attempt(std::slice::from_mut(doc)) {
                    Ok(errs) => errors.extend(errs.into_iter().map(|(_, m)| (i, m))),
                    Err(m) => errors.push((i, m)),
                }
            }
            errors
        }
    }
}

impl Pipeline {
    /// A pipeline of already built stages, run on `pool`.
    pub fn new(stages: Vec<BuiltStage>, batch_size: usize, pool: rayon::ThreadPool) -> Self {
        Pipeline {
            stages,
            batch_size,
            config_digest: None,
            pool,
        }
    }

    /// How many threads batches run on.
    pub fn threads(&self) -> usize {
        self.pool.current_num_threads()
    }

    /// Runs a batch through every stage and returns it in the same order.
    /// Documents that already carry an error (unreadable input) pass through.
    pub fn process(&self, batch: Vec<Doc>) -> Vec<Doc> {
        let mut finished: Vec<Option<Doc>> = (0..batch.len()).map(|_| None).collect();
        self.process_each(batch, &mut |i, doc| finished[i] = Some(doc));
        finished.into_iter().flatten().collect()
    }

    /// Runs a batch through every stage and hands each document to `done`
    /// (with its index in `batch`) as soon as it is final: documents that
    /// already carry an error (unreadable input) at once, documents that fail
    /// right after the stage that failed them, the rest at the end, in order.
    pub fn process_each(&self, batch: Vec<Doc>, done: &mut dyn FnMut(usize, Doc)) {
        let n = batch.len();
        let mut positions = Vec::with_capacity(n);
        let mut live = Vec::with_capacity(n);
        for (i, mut doc) in batch.into_iter().enumerate() {
            doc.config_digest.clone_from(&self.config_digest);
            if doc.is_ok() {
                positions.push(i);
                live.push(doc);
            } else {
                done(i, doc);
            }
        }
        for built in &self.stages {
            if live.is_empty() {
                break;
            }
            let start = Instant::now();
            let errors = self
                .pool
                .install(|| run_isolated(built.stage.as_ref(), &mut live));
            let batch_ms = start.elapsed().as_secs_f64() * 1e3;
            let batch_docs = live.len();
            for (i, message) in errors {
                if let Some(doc) = live.get_mut(i) {
                    doc.error = Some(DocError {
                        stage: built.id.clone(),
                        message,
                    });
                }
            }
            let provenance = Provenance {
                stage: built.id.clone(),
                kind: built.kind.clone(),
                backend: built.stage.backend().to_string(),
                model: built.stage.model().unwrap_or("none").to_string(),
                batch_ms,
                batch_docs,
            };
            let (old_pos, old_live) = (std::mem::take(&mut positions), std::mem::take(&mut live));
            for (p, mut doc) in old_pos.into_iter().zip(old_live) {
                if doc.is_ok() {
                    doc.provenance.push(provenance.clone());
                    positions.push(p);
                    live.push(doc);
                } else {
                    done(p, doc);
                }
            }
        }
        for (p, doc) in positions.into_iter().zip(live) {
            done(p, doc);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fails documents whose text says so, in several ways.
    struct Picky;
    impl Stage for Picky {
        fn backend(&self) -> &str {
            "picky"
        }
        fn process(&self, docs: &mut [Doc]) -> Result<(), StageError> {
            if docs.iter().any(|d| d.text == "panic") {
                panic!("boom");
            }
            if docs.iter().any(|d| d.text == "batch") {
                return Err(StageError::Batch("whole batch".into()));
            }
            let mut errs = Vec::new();
            for (i, d) in docs.iter_mut().enumerate() {
                if d.text == "bad" {
                    errs.push((i, "bad doc".into()));
                } else {
                    d.text = d.text.to_uppercase();
                }
            }
            if errs.is_empty() {
                Ok(())
            } else {
                Err(StageError::Docs(errs))
            }
        }
    }

    fn pipeline() -> Pipeline {
        let stages = vec![BuiltStage {
            id: "p".into(),
            kind: "test".into(),
            stage: Box::new(Picky),
        }];
        Pipeline::new(stages, 8, Threads(2).apply().unwrap())
    }

    #[test]
    fn failures_are_isolated_and_order_kept() {
        std::panic::set_hook(Box::new(|_| {}));
        let texts = ["a", "panic", "b", "bad", "c", "batch", "d"];
        let mut batch: Vec<Doc> = texts
            .iter()
            .enumerate()
            .map(|(i, t)| Doc::new(i.to_string(), *t))
            .collect();
        batch.insert(0, Doc::failed("unreadable", "input", "binary"));
        let out = pipeline().process(batch);
        let _ = std::panic::take_hook();
        let ids: Vec<&str> = out.iter().map(|d| d.id.as_str()).collect();
        assert_eq!(ids, ["unreadable", "0", "1", "2", "3", "4", "5", "6"]);
        assert_eq!(out[1].text, "A");
        assert_eq!(out[1].provenance.len(), 1);
        assert_eq!(out[1].provenance[0].backend, "picky");
        let err = |i: usize| out[i].error.as_ref().map(|e| e.message.clone());
        assert_eq!(err(0).as_deref(), Some("binary"));
        assert!(err(2).unwrap().contains("boom"));
        assert_eq!(err(4).as_deref(), Some("bad doc"));
        assert_eq!(err(6).as_deref(), Some("whole batch"));
        assert!(out[2].provenance.is_empty());
        assert_eq!(out[7].text, "D");
    }
}
