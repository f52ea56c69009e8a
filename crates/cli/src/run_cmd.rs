//! `stancepipe run`: inputs, threads, resume, progress and the output file.

use crate::{exit, load, ConfigArgs, Failure};
use clap::ValueEnum;
use indicatif::{ProgressBar, ProgressStyle};
use stancepipe_runner::{
    open_inputs, DocWriter, Format, Input, InputOptions, Omit, Order, Override, Resume, StdinFormat,
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
    /// Output format; default jsonl when --output ends in .jsonl, html when it
    /// ends in .html or .htm, else json. html: one self-contained page for
    /// people (every document, error records included).
    #[arg(long, value_enum)]
    format: Option<OutFormat>,
    /// Indent JSON output.
    #[arg(long)]
    pretty: bool,
    /// Leave bulky fields out of the records (repeat or comma-separate):
    /// tokens (and each sentence's token range), text, provenance.
    #[arg(long, value_enum, value_delimiter = ',', value_name = "FIELD")]
    omit: Vec<OmitField>,
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
    Html,
}

#[derive(Clone, Copy, PartialEq, ValueEnum)]
enum OmitField {
    Tokens,
    Text,
    Provenance,
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
                crate::say!(
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
        (Some(OutFormat::Html), _) => Format::Html,
        (None, Some(p)) if p.extension().is_some_and(|e| e == "jsonl") => Format::Jsonl,
        (None, Some(p)) if p.extension().is_some_and(|e| e == "html" || e == "htm") => Format::Html,
        (None, _) => Format::Json,
    };
    if format == Format::Html && args.resume {
        return Err(usage(
            "--resume cannot continue an HTML page: write JSONL to resume (--format jsonl)",
        ));
    }
    if format == Format::Html && !args.omit.is_empty() {
        return Err(usage(
            "--omit applies to JSON records; an HTML page shows the text and leaves tokens and provenance out already",
        ));
    }
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
    // Every check on the output comes before anything is cut or truncated.
    let out_file = match &args.output {
        Some(path) => Some(claim_output(path, docs.files(), args.resume)?),
        None if stdout_closed() => {
            return Err(Failure::new(
                exit::IO,
                "stdout is closed: nowhere to write the results (give --output FILE; \
                 --output /dev/null to discard them)",
            ))
        }
        None => None,
    };
    let resume = match (&args.output, args.resume) {
        (Some(path), true) => {
            let r = Resume::prepare(path).map_err(|e| Failure::new(exit::IO, e))?;
            if let Some((line, bytes)) = r.cut {
                crate::say!(
                    "stancepipe: {out_name}: cut a torn last line (line {line}, {bytes} bytes) \
                     left by an interrupted run"
                );
            }
            let other = r.made_otherwise(&plan.digest);
            if other > 0 {
                tracing::warn!(
                    "{other} of the {} record(s) in {out_name} were made with another pipeline \
                     configuration than this one ({}); they are kept as they are",
                    r.done.len(),
                    plan.digest
                );
            }
            if !quiet {
                crate::say!(
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

    let sink: Box<dyn Write> = match out_file {
        Some(mut file) => {
            // A regular file starts empty (or, resuming, continues at its
            // end); a device such as /dev/null is written as it is.
            let start_fresh = |f: &mut std::fs::File| -> std::io::Result<()> {
                use std::io::Seek;
                if !f.metadata()?.is_file() {
                    return Ok(());
                }
                if !args.resume {
                    f.set_len(0)?;
                }
                f.seek(std::io::SeekFrom::End(0)).map(drop)
            };
            start_fresh(&mut file)
                .map_err(|e| Failure::new(exit::IO, format!("output {out_name}: {e}")))?;
            Box::new(std::io::BufWriter::new(file))
        }
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let omit = |f| args.omit.contains(&f);
    let mut writer = DocWriter::new(sink, format, args.pretty).omit(Omit {
        tokens: omit(OmitField::Tokens),
        text: omit(OmitField::Text),
        provenance: omit(OmitField::Provenance),
    });
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
        crate::say!(
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

/// Whether stdout was closed by the caller (`run >&-`). Rust's runtime
/// reopens a closed descriptor 1 on `/dev/null` (read-write) before `main`,
/// so the results would vanish with exit 0; a shell's `>/dev/null` opens it
/// write-only, and `--output /dev/null` discards on purpose.
pub(crate) fn stdout_closed() -> bool {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    // SAFETY: F_GETFL only queries the descriptor's flags.
    let flags = unsafe { libc::fcntl(1, libc::F_GETFL) };
    if flags == -1 {
        return true;
    }
    if flags & libc::O_ACCMODE != libc::O_RDWR {
        return false;
    }
    let (Ok(out), Ok(null)) = (
        std::fs::metadata("/proc/self/fd/1"),
        std::fs::metadata("/dev/null"),
    ) else {
        return false;
    };
    out.file_type().is_char_device() && out.rdev() == null.rdev()
}

/// Opens the output file for this run, without truncating it yet, after
/// checking that it is safe to write: it is not one of the inputs (same file
/// through any link), no other run is writing it (an exclusive lock, held
/// until the run ends), and, unless resuming, an existing file is a
/// stancepipe output, never something else of the user's.
fn claim_output(path: &Path, inputs: &[PathBuf], resume: bool) -> Result<std::fs::File, Failure> {
    use std::os::unix::fs::MetadataExt;
    let io = |e: std::io::Error| Failure::new(exit::IO, format!("output {}: {e}", path.display()));
    let existing = std::fs::metadata(path).ok();
    if let Some(out) = &existing {
        for input in inputs {
            if std::fs::metadata(input).is_ok_and(|m| m.dev() == out.dev() && m.ino() == out.ino())
            {
                return Err(Failure::new(
                    exit::IO,
                    format!(
                        "output {} is the input {}: refusing to write over an input (choose another --output)",
                        path.display(),
                        input.display()
                    ),
                ));
            }
        }
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(io)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            return Err(Failure::new(
                exit::IO,
                format!(
                    "output {} is being written by another stancepipe run; wait for it to end or choose another --output",
                    path.display()
                ),
            ))
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
    }
    if !resume && existing.is_some_and(|m| m.len() > 0) && !is_our_output(&file).map_err(io)? {
        return Err(Failure::new(
            exit::IO,
            format!(
                "output {} exists and is not a stancepipe output: refusing to overwrite it (remove it or choose another --output)",
                path.display()
            ),
        ));
    }
    Ok(file)
}

/// Whether a file starts like a `stancepipe run` output: a JSON record or
/// array whose first record carries `schema_version`, or the HTML page of
/// `--format html` (its head names the generator, `RUN_PAGE_GENERATOR`).
fn is_our_output(file: &std::fs::File) -> std::io::Result<bool> {
    use std::io::Read;
    let mut head = Vec::new();
    file.take(64 * 1024).read_to_end(&mut head)?;
    let text = String::from_utf8_lossy(&head);
    let trimmed = text.trim_start();
    Ok(((trimmed.starts_with('{') || trimmed.starts_with('['))
        && trimmed.contains("\"schema_version\""))
        || (trimmed.starts_with("<!DOCTYPE html>")
            && trimmed.contains(stancepipe_runner::RUN_PAGE_GENERATOR)))
}
