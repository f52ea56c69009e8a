//! `stancepipe run`: inputs, threads, resume, progress and the output file.

use crate::{exit, load, ConfigArgs, Failure};
use clap::ValueEnum;
use indicatif::{ProgressBar, ProgressStyle};
use stancepipe_runner::{
    open_inputs, DocWriter, Format, Input, InputOptions, Order, Override, Resume, StdinFormat,
};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[derive(clap::Args)]
pub struct RunArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// Write results here instead of stdout.
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Output format; default jsonl when --output ends in .jsonl, else json.
    #[arg(long, value_enum)]
    format: Option<OutFormat>,
    /// Indent JSON output.
    #[arg(long)]
    pretty: bool,
    /// File extensions read from input directories (repeat or comma-separate).
    #[arg(
        long = "ext",
        value_name = "EXT",
        value_delimiter = ',',
        default_value = "txt"
    )]
    extensions: Vec<String>,
    /// How to read `-` (stdin).
    #[arg(long, value_enum, default_value_t = StdinArg::Auto)]
    stdin_format: StdinArg,
    /// Threads for the whole run, CPU stages and libtorch alike (default: one
    /// per core; same as --set run.threads=N).
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
    /// Continue a killed run: keep the JSONL --output file's complete records,
    /// cut a torn last line, and skip the ids already there.
    #[arg(long)]
    resume: bool,
    /// Write each result as soon as it is final instead of in input order.
    #[arg(long)]
    unordered: bool,
    /// When stderr is not a terminal, a progress line every SECONDS (0: after
    /// every document).
    #[arg(long, value_name = "SECONDS", default_value_t = 10.0)]
    progress_every: f64,
    /// Text files, directories (their .txt files, see --ext), .jsonl files of {"id","text"}, or - for stdin.
    #[arg(required = true, value_name = "INPUT")]
    inputs: Vec<String>,
}

#[derive(Clone, Copy, ValueEnum)]
enum OutFormat {
    Json,
    Jsonl,
}

#[derive(Clone, Copy, ValueEnum)]
enum StdinArg {
    Auto,
    Text,
    Jsonl,
}

/// Progress on stderr: a bar with docs/s and ETA on a terminal, plain
/// periodic lines otherwise, nothing with `--quiet`.
struct Progress {
    bar: Option<ProgressBar>,
    /// Interval of the plain lines (when there is no bar and not quiet).
    every: Option<Duration>,
    start: Instant,
    last_line: Instant,
    done: u64,
    failed: u64,
}

impl Progress {
    fn new(quiet: bool, every: f64, total: impl FnOnce() -> Option<u64>) -> Progress {
        let now = Instant::now();
        let mut p = Progress {
            bar: None,
            every: None,
            start: now,
            last_line: now,
            done: 0,
            failed: 0,
        };
        if quiet {
            return p;
        }
        if !std::io::stderr().is_terminal() {
            p.every = Some(Duration::from_secs_f64(every.max(0.0)));
            return p;
        }
        let bar = match total() {
            Some(n) => {
                let bar = ProgressBar::new(n);
                bar.set_style(
                    ProgressStyle::with_template(
                        "{bar:30} {pos}/{len} documents  {per_sec}  eta {eta}  {msg}",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
                );
                bar
            }
            None => {
                let bar = ProgressBar::new_spinner();
                bar.set_style(
                    ProgressStyle::with_template("{spinner} {pos} documents  {per_sec}  {msg}")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                bar
            }
        };
        bar.enable_steady_tick(Duration::from_millis(200));
        p.bar = Some(bar);
        p
    }

    fn rate(&self) -> f64 {
        self.done as f64 / self.start.elapsed().as_secs_f64().max(1e-9)
    }

    fn record(&mut self, failed: bool) {
        self.done += 1;
        self.failed += u64::from(failed);
        if let Some(bar) = &self.bar {
            bar.inc(1);
            if failed {
                bar.set_message(format!("{} failed", self.failed));
            }
        } else if let Some(every) = self.every {
            if self.last_line.elapsed() >= every {
                self.last_line = Instant::now();
                eprintln!(
                    "stancepipe: progress: {} document(s), {} failed, {:.1} docs/s",
                    self.done,
                    self.failed,
                    self.rate()
                );
            }
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

pub fn run(mut args: RunArgs, quiet: bool) -> Result<u8, Failure> {
    let usage = |m: &str| Failure::new(exit::CONFIG, m);
    if let Some(n) = args.threads {
        let o: Override = format!("run.threads={n}")
            .parse()
            .map_err(|m: String| usage(&m))?;
        args.config.set.push(o);
    }
    if !(args.progress_every >= 0.0 && args.progress_every.is_finite()) {
        return Err(usage(
            "--progress-every must be a number of seconds, 0 or more",
        ));
    }
    let format = match (args.format, &args.output) {
        (Some(OutFormat::Json), _) => Format::Json,
        (Some(OutFormat::Jsonl), _) => Format::Jsonl,
        (None, Some(p)) if p.extension().is_some_and(|e| e == "jsonl") => Format::Jsonl,
        (None, _) => Format::Json,
    };
    if args.resume && (args.output.is_none() || format != Format::Jsonl) {
        return Err(usage(
            "--resume needs a JSONL --output file (--output out.jsonl, or --format jsonl)",
        ));
    }
    let plan = load(&args.config)?;
    let inputs: Vec<Input> = args
        .inputs
        .iter()
        .map(|s| Input::from(s.as_str()))
        .collect();
    let docs = open_inputs(
        &inputs,
        InputOptions {
            max_doc_bytes: plan.run.max_doc_bytes,
            dir_extensions: args
                .extensions
                .iter()
                .map(|e| e.trim_start_matches('.').to_string())
                .collect(),
            stdin_format: match args.stdin_format {
                StdinArg::Auto => StdinFormat::Auto,
                StdinArg::Text => StdinFormat::Text,
                StdinArg::Jsonl => StdinFormat::Jsonl,
            },
        },
    )
    .map_err(|e| Failure::new(exit::IO, e))?;

    let out_name = args
        .output
        .as_ref()
        .map_or_else(|| "stdout".to_string(), |p| p.display().to_string());
    let resume = match (&args.output, args.resume) {
        (Some(path), true) => {
            let r = Resume::prepare(path).map_err(|e| Failure::new(exit::IO, e))?;
            if let Some((line, bytes)) = r.cut {
                eprintln!(
                    "stancepipe: {out_name}: cut a torn last line (line {line}, {bytes} bytes) \
                     left by an interrupted run"
                );
            }
            if !quiet {
                eprintln!(
                    "stancepipe: resuming: {} document(s) already in {out_name} are skipped",
                    r.done.len()
                );
            }
            Some(r)
        }
        _ => None,
    };
    let pipeline = plan.build().map_err(|e| Failure::new(exit::CONFIG, e))?;
    tracing::info!("running on {} thread(s)", pipeline.threads());

    let sink: Box<dyn Write> = match &args.output {
        Some(path) => Box::new(std::io::BufWriter::new(
            open_output(path, args.resume)
                .map_err(|e| Failure::new(exit::IO, format!("output {}: {e}", path.display())))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let mut writer = DocWriter::new(sink, format, args.pretty);
    let done = resume.map(|r| r.done).unwrap_or_default();
    let mut progress = Progress::new(quiet, args.progress_every, || {
        docs.count_hint()
            .map(|n| n.saturating_sub(done.len() as u64))
    });
    let mut skipped = 0usize;
    let docs = docs.filter(|d| {
        let keep = !done.contains(&d.id);
        skipped += usize::from(!keep);
        keep
    });
    let order = if args.unordered {
        Order::Finished
    } else {
        Order::Input
    };
    let write_err = |e: std::io::Error| Failure::new(exit::IO, format!("output {out_name}: {e}"));
    let start = Instant::now();
    let summary = stancepipe_runner::run_with(&pipeline, docs, order, |doc| {
        progress.record(!doc.is_ok());
        crate::warn_if_failed(doc);
        writer.write(doc)
    })
    .map_err(write_err)?;
    writer.finish().map_err(write_err)?;
    progress.finish();
    if !quiet {
        let secs = start.elapsed().as_secs_f64();
        let skipped = if args.resume {
            format!(", {skipped} skipped (already in {out_name})")
        } else {
            String::new()
        };
        eprintln!(
            "stancepipe: {} document(s), {} failed{skipped}; {secs:.1} s, {:.2} docs/s; results in {out_name}",
            summary.documents,
            summary.failed,
            summary.documents as f64 / secs.max(1e-9)
        );
    }
    Ok(if summary.failed > 0 {
        exit::DOCS_FAILED
    } else {
        0
    })
}

/// Creates the output file (and its folder), or appends to it when resuming.
fn open_output(path: &Path, append: bool) -> std::io::Result<std::fs::File> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    if append {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
    } else {
        std::fs::File::create(path)
    }
}
