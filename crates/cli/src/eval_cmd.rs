//! `stancepipe eval`: runs one or more pipelines over a gold corpus, scores
//! them (`stancepipe-eval`) and writes `report.json`, `report.md` and
//! `report.html` (see `docs/evaluation.md`).
//!
//! Every pipeline tracks, in each document, its configured companies plus
//! that document's own gold entities (name and aliases; names that differ
//! only in ASCII case are one company), given as the document's
//! `Doc::companies`, so that the stance of each gold entity is decided by
//! the pipeline's own mention finding and decision rule, and entities of
//! other documents ("Ant" and "Ant Group", two Trumps) cannot take its
//! mentions.

use crate::{exit, Failure};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use stancepipe_core::Doc;
use stancepipe_eval::bootstrap::Bootstrap;
use stancepipe_eval::corpus::{self, GoldFormat, GoldSet};
use stancepipe_eval::report::{
    resolve_metric, BootstrapInfo, GoldInfo, PipelineReport, Report, StageInfo, Threshold,
    REPORT_SCHEMA_VERSION,
};
use stancepipe_eval::{score, GoldDoc, Split};
use stancepipe_runner::input::doc_from_bytes;
use stancepipe_runner::{default_registry, Override, PipelinePlan};
use std::collections::{BTreeSet, HashMap};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Args)]
pub struct EvalArgs {
    /// A pipeline file; repeat to put several pipelines side by side.
    #[arg(short, long = "config", value_name = "FILE", required = true)]
    configs: Vec<PathBuf>,
    /// Override an option in every pipeline: <stage id>.<option>=<value>.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<Override>,
    /// The gold corpus: a gold JSONL file or a folder with gold.jsonl (seeds/),
    /// or a labeled data set of ../shared/data (format detected from the name).
    #[arg(long, value_name = "FILE or DIR")]
    gold: PathBuf,
    /// The gold format when detection from the path is not wanted:
    /// gold, phrasebank, phrasebank-allagree, finentity, newsmtsc, neus, persent.
    #[arg(long, value_name = "FORMAT")]
    gold_format: Option<GoldFormat>,
    /// The part of a labeled data set to score (split rule of shared/data);
    /// default test. Not for the gold JSONL format.
    #[arg(long)]
    split: Option<Split>,
    /// Write report.json, report.md and report.html into this folder.
    #[arg(long, value_name = "DIR")]
    report: Option<PathBuf>,
    /// Fail (exit 4) when a metric is below a value, e.g. macro_f1=0.5 or
    /// summary.rougeL=0.2; checked for every pipeline.
    #[arg(long = "min", value_name = "METRIC=VALUE")]
    min: Vec<Threshold>,
    /// Bootstrap seed.
    #[arg(long, default_value_t = 13)]
    seed: u64,
    /// Bootstrap resamples (0: no intervals).
    #[arg(long, default_value_t = 1000)]
    resamples: usize,
    /// Documents shown per pipeline in report.html.
    #[arg(long, default_value_t = 50)]
    html_docs: usize,
    /// Companies shown in each stance chart of report.html.
    #[arg(long, default_value_t = 30)]
    html_companies: usize,
}

/// The metric names a gold corpus can produce (for checking `--min` before
/// anything runs).
fn available_metrics(gold: &[GoldDoc]) -> Vec<String> {
    let mut out = Vec::new();
    if gold
        .iter()
        .flat_map(|g| &g.entities)
        .any(|e| e.stance.is_some())
    {
        out.extend(["stance.macro_f1", "stance.accuracy", "stance.f_avg"].map(String::from));
    }
    if gold.iter().any(|g| !g.sentences.is_empty()) {
        out.extend(["sentences.macro_f1", "sentences.accuracy"].map(String::from));
    }
    if gold.iter().any(|g| g.reference_summary.is_some()) {
        out.extend(
            [
                "summary.rouge1",
                "summary.rouge2",
                "summary.rougeL",
                "summary.rougeLsum",
            ]
            .map(String::from),
        );
    }
    out
}

/// Keeps what scoring and the HTML report read: drops subword tokens and
/// the stance of companies the document neither mentions nor has in gold.
fn slim(mut doc: Doc, gold_names: Option<&BTreeSet<String>>) -> Doc {
    doc.tokens = Vec::new();
    doc.stance.retain(|s| {
        s.mentions > 0 || gold_names.is_some_and(|g| g.contains(&s.company.to_ascii_lowercase()))
    });
    doc
}

/// The command as typed, with the program called `stancepipe` wherever the
/// binary lives, so that reports show a command anyone can rerun.
fn command_line() -> String {
    std::iter::once("stancepipe".to_string())
        .chain(std::env::args().skip(1))
        .map(|a| {
            if a.is_empty() || a.contains([' ', '"', '\'']) {
                format!("'{}'", a.replace('\'', "'\\''"))
            } else {
                a
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Unique short names for the pipelines: config file stems, numbered on
/// collision.
fn names(configs: &[PathBuf]) -> Vec<String> {
    let stems: Vec<String> = configs
        .iter()
        .map(|c| {
            c.file_stem().map_or_else(
                || c.display().to_string(),
                |s| s.to_string_lossy().into_owned(),
            )
        })
        .collect();
    stems
        .iter()
        .enumerate()
        .map(|(i, s)| {
            if stems.iter().filter(|x| *x == s).count() > 1 {
                format!("{s}#{}", i + 1)
            } else {
                s.clone()
            }
        })
        .collect()
}

fn progress(quiet: bool, total: u64) -> ProgressBar {
    if quiet || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template("{msg:<24} {bar:30} {pos}/{len} docs {per_sec} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

fn write_file(path: &Path, text: &str) -> Result<(), Failure> {
    std::fs::write(path, text)
        .map_err(|e| Failure::new(exit::IO, format!("report {}: {e}", path.display())))
}

pub fn eval(args: EvalArgs, quiet: bool) -> Result<u8, Failure> {
    if crate::run_cmd::stdout_closed() {
        return Err(Failure::new(
            exit::IO,
            "stdout is closed: nowhere to write the results table (reports go to --report DIR)",
        ));
    }
    let set: GoldSet =
        corpus::load(&args.gold, args.gold_format, args.split).map_err(|e| match e {
            corpus::CorpusError::Usage(m) => Failure::new(exit::CONFIG, m),
            other => Failure::new(exit::IO, format!("gold {}: {other}", args.gold.display())),
        })?;
    let gold = &set.docs;
    if gold.is_empty() {
        return Err(Failure::new(
            exit::IO,
            format!("gold {}: no documents", args.gold.display()),
        ));
    }
    let available = available_metrics(gold);
    for t in &args.min {
        if resolve_metric(&t.metric, &available).is_none() {
            return Err(Failure::new(
                exit::CONFIG,
                format!(
                    "--min {}: no such metric for this gold corpus (available: {})",
                    t.metric,
                    available.join(", ")
                ),
            ));
        }
    }

    // Load and validate every pipeline before running any.
    let registry = default_registry().map_err(|e| Failure::new(exit::CONFIG, e))?;
    let mut plans = Vec::new();
    for c in &args.configs {
        let plan = PipelinePlan::load(c, &args.set, &registry)
            .map_err(|e| Failure::new(exit::CONFIG, e))?;
        // Companies tracked somewhere in the corpus, for the report; each
        // document gets its own gold entities below.
        let tracked = corpus::companies(&plan.context.companies, gold).len();
        plans.push((plan, tracked));
    }

    let boot = Bootstrap {
        resamples: args.resamples,
        seed: args.seed,
    };
    let gold_names: HashMap<&str, BTreeSet<String>> = gold
        .iter()
        .map(|g| {
            let names = g
                .entities
                .iter()
                .map(|e| e.name.trim().to_ascii_lowercase())
                .collect();
            (g.id.as_str(), names)
        })
        .collect();
    let names = names(&args.configs);
    let bar = progress(quiet, (gold.len() * plans.len()) as u64);
    let mut runs: Vec<Vec<Doc>> = Vec::new();
    let mut pipelines = Vec::new();
    for (((plan, tracked), config), name) in plans.iter().zip(&args.configs).zip(&names) {
        bar.set_message(name.clone());
        let start = Instant::now();
        let pipeline = plan.build().map_err(|e| Failure::new(exit::CONFIG, e))?;
        let discovers = plan.stages.iter().any(|s| {
            s.config
                .provides()
                .contains(&stancepipe_core::Annotation::DiscoveredCompanies)
        });
        let stages = pipeline
            .stages
            .iter()
            .map(|s| StageInfo {
                id: s.id.clone(),
                kind: s.kind.clone(),
                backend: s.stage.backend().to_string(),
                model: s.stage.model().unwrap_or("none").to_string(),
            })
            .collect();
        // The same input rules as `run` (size limit, NUL bytes).
        let source = set.path.display().to_string();
        let inputs = gold.iter().map(|g| {
            let text = g.text.clone().unwrap_or_default();
            let mut doc = doc_from_bytes(
                g.id.clone(),
                source.clone(),
                text.into_bytes(),
                plan.run.max_doc_bytes,
            );
            // A pipeline that discovers companies must find the gold ones
            // itself (scored as `discovery`).
            if doc.is_ok() && !discovers {
                doc.companies = corpus::doc_companies(g);
            }
            doc
        });
        let mut out = Vec::with_capacity(gold.len());
        stancepipe_runner::run(&pipeline, inputs, |doc| {
            bar.inc(1);
            crate::warn_if_failed(doc);
            out.push(slim(doc.clone(), gold_names.get(doc.id.as_str())));
            Ok::<(), std::convert::Infallible>(())
        })
        .unwrap_or_else(|e| match e {});
        let mut scores = score::score(gold, &out, boot);
        if discovers {
            scores.discovery = Some(score::discovery(gold, &out));
        }
        pipelines.push(PipelineReport {
            name: name.clone(),
            config: config.display().to_string(),
            stages,
            companies: *tracked,
            seconds: start.elapsed().as_secs_f64(),
            scores,
        });
        runs.push(out);
    }
    bar.finish_and_clear();

    let mut report = Report {
        schema_version: REPORT_SCHEMA_VERSION,
        generator: format!("stancepipe {}", env!("CARGO_PKG_VERSION")),
        command: command_line(),
        gold: GoldInfo {
            path: set.path.display().to_string(),
            format: set.format.as_str().to_string(),
            split: set.split.map(|s| s.to_string()),
            documents: gold.len(),
            entities: gold
                .iter()
                .flat_map(|g| &g.entities)
                .filter(|e| e.stance.is_some())
                .count(),
            sentences: gold.iter().map(|g| g.sentences.len()).sum(),
            summaries: gold
                .iter()
                .filter(|g| g.reference_summary.is_some())
                .count(),
        },
        bootstrap: BootstrapInfo::from(boot),
        baselines: score::baselines(gold, boot),
        pipelines,
        thresholds: Vec::new(),
    };
    report
        .check(&args.min)
        .map_err(|m| Failure::new(exit::CONFIG, m))?;

    if let Some(dir) = &args.report {
        std::fs::create_dir_all(dir)
            .map_err(|e| Failure::new(exit::IO, format!("report {}: {e}", dir.display())))?;
        let json = serde_json::to_string_pretty(&report).unwrap_or_default();
        write_file(&dir.join("report.json"), &(json + "\n"))?;
        write_file(&dir.join("report.md"), &report.to_markdown())?;
        let html = stancepipe_eval::html::render(
            &report,
            gold,
            &runs,
            args.html_docs,
            args.html_companies,
        );
        write_file(&dir.join("report.html"), &html)?;
    }

    // The headline table on stdout.
    let mut header = String::from("metric");
    for p in &report.pipelines {
        header.push('\t');
        header.push_str(&p.name);
    }
    let cell = |e: Option<stancepipe_eval::bootstrap::Estimate>| {
        e.map_or("-".to_string(), stancepipe_eval::report::fmt_est)
    };
    let mut table = format!("{header}\tmajority\n");
    for (name, per, base) in report.headline_rows() {
        let cells: Vec<String> = per.into_iter().map(cell).collect();
        table.push_str(&format!("{name}\t{}\t{}\n", cells.join("\t"), cell(base)));
    }
    {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        match out.write_all(table.as_bytes()).and_then(|()| out.flush()) {
            // A reader that stopped reading (`| head`) is not an error.
            Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                return Err(Failure::new(exit::IO, format!("stdout: {e}")))
            }
            _ => {}
        }
    }
    for t in report.thresholds.iter().filter(|t| !t.passed) {
        crate::say!(
            "stancepipe: {} {} = {:.4} is below --min {}",
            t.pipeline,
            t.metric,
            t.value,
            t.min
        );
    }
    if !quiet {
        if let Some(dir) = &args.report {
            crate::say!(
                "stancepipe: {} pipeline(s) on {} document(s); reports in {}",
                report.pipelines.len(),
                gold.len(),
                dir.display()
            );
        }
    }
    Ok(if report.passed() { 0 } else { exit::BELOW_MIN })
}
