//! `stancepipe`: the command-line program. A thin layer over
//! `stancepipe-runner`: argument parsing, progress, logging, and the one
//! place that maps failures to messages and exit codes (see the README).

/// A line on stderr that never panics: a full or closed stderr loses the
/// message, not the run (`eprintln!` would panic and lose the records).
#[macro_export]
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

/// A line on stdout; a closed or full stdout is exit 3 with one line, not
/// a panic.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout(), $($arg)*)
            .map_err(|e| Failure::new(exit::IO, format!("stdout: {e}")))
    }};
}

mod run_cmd;

use clap::{Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use stancepipe_core::BackendFactory;
use stancepipe_runner::{default_registry, Override, PipelinePlan};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

/// Exit codes (documented in the README).
mod exit {
    /// The run finished, but some documents became error records.
    pub const DOCS_FAILED: u8 = 1;
    /// Bad command line or invalid pipeline configuration.
    pub const CONFIG: u8 = 2;
    /// An input path is missing or the output cannot be written.
    pub const IO: u8 = 3;
    /// `eval` ran, but a `--min` threshold was not met.
    pub const BELOW_MIN: u8 = 4;
}

mod eval_cmd;

#[derive(Parser)]
#[command(
    name = "stancepipe",
    version,
    about = "Sentence labels, per-company stance and summaries for documents, by a configurable pipeline"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Only errors on stderr; no progress bar.
    #[arg(short, long, global = true)]
    quiet: bool,
    /// More log output on stderr (-v info, -vv debug).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
}

#[derive(Subcommand)]
enum Command {
    /// Run a pipeline over documents and write one result per document.
    Run(run_cmd::RunArgs),
    /// Check a pipeline configuration without running it.
    Validate(ConfigArgs),
    /// Train a classifier head on labeled data (see docs/quality.md).
    // Boxed: its many options would make every command as large.
    Train(Box<TrainArgs>),
    /// Run pipelines on a gold corpus and score them (see docs/evaluation.md).
    Eval(eval_cmd::EvalArgs),
    /// List the registered stage kinds, their backends and options.
    Stages {
        /// Output format.
        #[arg(long, value_enum, default_value_t = ListFormat::Text)]
        format: ListFormat,
    },
}

#[derive(clap::Args)]
struct ConfigArgs {
    /// The pipeline file.
    #[arg(short, long, default_value = "pipeline.toml")]
    config: PathBuf,
    /// Override an option: <stage id>.<option>=<value> (or run.<option>=<value>).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<Override>,
}

#[derive(clap::Args)]
struct TrainArgs {
    /// `sentiment` (PhraseBank, for classify/embedding-head) or `target`
    /// (FinEntity + NewsMTSC, for stance/target-sentiment).
    #[arg(value_enum)]
    task: TrainTask,
    /// The labeled data folder (with phrasebank/, finentity/, newsmtsc/).
    #[arg(long, default_value = "../shared/data")]
    data: PathBuf,
    /// The sentence encoder (a sentence-transformers directory or hub id).
    #[arg(long, default_value = "models/all-MiniLM-L6-v2")]
    encoder: String,
    /// Where to write the head (default: a new folder
    /// models/trained/<task>-<UTC time>; `stance`: its stance/ and
    /// sentence/ folders; `document`: models/trained/document-<UTC time>.json).
    /// An existing model there is replaced only with --force.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Replace an existing model at --out (or --sentence-out). Without it,
    /// `train` refuses (exit 2) and writes nothing.
    #[arg(long)]
    force: bool,
    /// `sentiment` and `stance`: train on your own labels, a gold JSONL file
    /// in the format `stancepipe eval` reads (or a folder with gold.jsonl;
    /// docs/evaluation.md): sentence labels train the sentence head, entity
    /// stances the target head. Only this data trains unless --with-data.
    /// `soup`: the gold data its members were trained on, to score it.
    #[arg(long, value_name = "FILE")]
    gold: Option<PathBuf>,
    /// With --gold: the dev part (model selection) is this gold file and
    /// every record of --gold trains. Default: --gold split by record index
    /// (index % 10: 8 dev, 9 test, else train).
    #[arg(long, value_name = "FILE", requires = "gold")]
    dev: Option<PathBuf>,
    /// With --gold: also train on the bundled sets of --data (PhraseBank;
    /// for `stance` also the --stance-sources sets).
    #[arg(long, requires = "gold")]
    with_data: bool,
    #[arg(long, default_value_t = 13)]
    seed: i64,
    /// Epochs (default 300 for a frozen encoder, 3 when tuning).
    #[arg(long)]
    epochs: Option<usize>,
    /// Hidden layer width; 0 trains a linear head (`sentiment` and `target`:
    /// frozen encoder only; `stance`: its target head, ReLU).
    #[arg(long, default_value_t = 0)]
    hidden: usize,
    /// Head learning rate (frozen encoder) or the head's rate when tuning.
    #[arg(long)]
    learning_rate: Option<f64>,
    /// Fine-tune the encoder's top N layers with the head (0: frozen encoder).
    #[arg(long, default_value_t = 0)]
    tune_layers: usize,
    /// Train rank-R LoRA adapters beside the tuned layers' frozen weights
    /// instead of the layers themselves (0: train the layers whole).
    /// Default: 0 for `target`, 8 for `stance` (which trains adapters only).
    #[arg(long)]
    lora_rank: Option<usize>,
    /// Encoder learning rate when tuning. Default: 5e-5 for `target`, 5e-4
    /// for `stance` (its adapters' recipe, docs/quality.md).
    #[arg(long)]
    tune_lr: Option<f64>,
    /// Examples per step when tuning.
    #[arg(long, default_value_t = 32)]
    batch: usize,
    /// `target` only: how the target is shown (repeat or comma-separate to
    /// train several; the best on dev is kept). Default: all three with a
    /// frozen encoder, marked-span when tuning (docs/quality.md).
    #[arg(long, value_enum, value_delimiter = ',')]
    features: Vec<Features>,
    /// `target` and `stance`: add N contrast pairs to the training part
    /// (two training texts whose targets differ in label, joined into one
    /// text that keeps both targets; docs/quality.md); `stance`: to
    /// FinEntity's and NewsMTSC's, split by size. 0: the data alone.
    #[arg(long, default_value_t = 0)]
    contrast_pairs: usize,
    /// `target` only: the sources to train and select on (comma-separated;
    /// default both). Test figures cover both, each marked with whether its
    /// source was trained on: training on one measures the head on the
    /// other (docs/quality.md, "Across sources").
    #[arg(long, value_enum, value_delimiter = ',')]
    sources: Vec<Source>,
    /// `stance` only: the stance and target sets to train on
    /// (comma-separated; default all but persent): finentity, newsmtsc,
    /// vast, semeval, multitarget, ibm, perspectrum, persent (PerSenT's
    /// paragraph labels at the main entity's mentions).
    #[arg(long, value_delimiter = ',')]
    stance_sources: Vec<String>,
    /// `stance` only: the share of the target loss of FinEntity and of
    /// NewsMTSC each (and of --gold's mentions); each stance set has 1.
    #[arg(long, default_value_t = stancepipe_train::stance::DEFAULT_NEWS_SHARE)]
    news_share: f64,
    /// `stance` only: tokens of local context on either side of a mention
    /// whose mean the target head also reads (0: the sentence and the
    /// mention only). Recorded in the manifest as `context_tokens`.
    #[arg(long, default_value_t = 0)]
    context_tokens: usize,
    /// `stance` only: tokens on either side of a mention that the target
    /// head's attention reads from the sentence's pass, its own state
    /// asking which matter (0: no attention). Recorded in the manifest as
    /// `attend_tokens`.
    #[arg(long, default_value_t = 0)]
    attend_tokens: usize,
    /// `stance`: read targets appended after the text (stance topics) with
    /// a head of their own, saved in the target head's `appended/`; the
    /// stages read only mentions in their text, with the target head.
    #[arg(long)]
    appended_head: bool,
    /// `stance` only: distil these heads (one directory, or several for an
    /// ensemble, as `stance.head` takes them): on FinEntity, NewsMTSC and
    /// --gold's mentions the target loss aims at the teacher's
    /// probabilities mixed with the gold label (--teacher-weight).
    #[arg(long, value_delimiter = ',')]
    teacher: Vec<PathBuf>,
    /// `stance` only: the teacher's share of that aim (0 to 1).
    #[arg(long, default_value_t = 0.5)]
    teacher_weight: f32,
    /// `stance` only, with --teacher: also distil it on unlabeled entity
    /// mentions in news (PerSenT's train part, FiNER-ORD's train
    /// organizations), where its probabilities alone are the aim.
    #[arg(long)]
    transfer: bool,
    /// `stance` only: where the sentence head goes (default: `sentence`
    /// beside --out).
    #[arg(long)]
    sentence_out: Option<PathBuf>,
    /// `document`: the stance stage's head directories (repeat or
    /// comma-separate for an ensemble). `soup`: the target heads of the
    /// one-pass models to average (written by `train stance`).
    #[arg(long, value_delimiter = ',', default_value = "models/heads/stance")]
    head: Vec<PathBuf>,
    /// `soup` only: each member's sentence head, in the order of --head.
    #[arg(long, value_delimiter = ',')]
    sentence_head: Vec<PathBuf>,
    /// `document` only: the tokenizer of the tokenize stage.
    #[arg(long, default_value = "models/all-MiniLM-L6-v2/tokenizer.json")]
    tokenizer: PathBuf,
    /// `document` only: attach references ("he", "it", "the company") to
    /// the entity, as the tokenize stage's `references` option does.
    #[arg(long)]
    references: bool,
}

/// A labeled source of `train target` (see `TargetSource`).
#[derive(Clone, Copy, PartialEq, ValueEnum)]
enum Source {
    /// FinEntity: Reuters financial snippets.
    Finentity,
    /// NewsMTSC: news sentences (`train.jsonl`).
    Newsmtsc,
}

impl From<Source> for stancepipe_train::TargetSource {
    fn from(s: Source) -> Self {
        match s {
            Source::Finentity => Self::FinEntity,
            Source::Newsmtsc => Self::NewsMtsc,
        }
    }
}

/// How `train target` shows the target (see `TargetFeatures`).
#[derive(Clone, Copy, PartialEq, ValueEnum)]
enum Features {
    /// The sentence with the target between `<< >>`.
    Marked,
    /// Marked, plus a ±12-word window around the target (two encoder passes).
    MarkedWindow,
    /// Marked, its embedding plus the mean of the target's own tokens.
    MarkedSpan,
    /// Marked, the mean of the target's own tokens only (TD-BERT).
    Span,
}

impl From<Features> for stancepipe_encoder::TargetFeatures {
    fn from(f: Features) -> Self {
        match f {
            Features::Marked => Self::Marked,
            Features::MarkedWindow => Self::MarkedWindow,
            Features::MarkedSpan => Self::MarkedSpan,
            Features::Span => Self::Span,
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum TrainTask {
    Sentiment,
    Target,
    /// One encoder (LoRA adapters) with a target head and a sentence head,
    /// read from one pass per sentence by the classify and stance stages.
    Stance,
    /// The stance stage's document-level decision, fitted on PerSenT's
    /// document labels over the readings of `--head`.
    Document,
    /// The organization recognizer of the tokenize stage's `discover`
    /// option, on FiNER-ORD (ORG, PER and LOC tags; chosen on its val part).
    Entities,
    /// One `stance` model whose weights are the mean of several trained by
    /// one recipe (`--head` and `--sentence-head`): one model's cost.
    Soup,
}

#[derive(Clone, Copy, ValueEnum)]
enum ListFormat {
    Text,
    Json,
    /// The option reference of docs/configuration.md.
    Markdown,
}

/// A failure that ends the program: its message and exit code.
struct Failure {
    code: u8,
    message: String,
}

impl Failure {
    fn new(code: u8, message: impl std::fmt::Display) -> Self {
        Failure {
            code,
            message: message.to_string(),
        }
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(e),
    };
    init_logging(cli.quiet, cli.verbose);
    // A panic inside a stage is caught by the runner and becomes an error
    // record; say so in one log line instead of a backtrace.
    std::panic::set_hook(Box::new(|info| tracing::warn!("{info}")));
    let result = match cli.command {
        Command::Run(args) => run_cmd::run(args, cli.quiet),
        Command::Validate(args) => validate(args),
        Command::Train(args) => train(*args, cli.quiet),
        Command::Eval(args) => eval_cmd::eval(args, cli.quiet),
        Command::Stages { format } => stages(format),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(f) => {
            say!(
                "stancepipe: error: {}",
                one_line(&f.message, cli.verbose > 0)
            );
            ExitCode::from(f.code)
        }
    }
}

/// Errors are one line: the first non-blank line of a message (libtorch
/// appends its C++ backtrace to its errors); `-v` shows all of it.
fn one_line(message: &str, all: bool) -> String {
    let mut lines = message
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.trim().is_empty());
    let first = lines.next().unwrap_or_default().to_string();
    if all {
        return message.trim_end().to_string();
    }
    let rest = lines.count();
    if rest > 0 {
        format!("{first} ({rest} more line(s) with -v)")
    } else {
        first
    }
}

/// Help and version go to stdout as clap prints them; a bad command line is
/// one line, `stancepipe: error: ...`, and exit code 2.
fn usage_error(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand | ErrorKind::MissingSubcommand => {
            say!(
                "stancepipe: error: a command is required: run, validate, train, eval or stages \
                 (see stancepipe --help)"
            );
            return ExitCode::from(exit::CONFIG);
        }
        _ => {}
    }
    let rendered = e.render().to_string();
    let mut lines = rendered.lines().map(str::trim).filter(|l| !l.is_empty());
    let first = lines.next().unwrap_or("invalid command line");
    let first = first.strip_prefix("error: ").unwrap_or(first);
    // clap's hints (the valid values, a similar flag) stay, on the same line.
    let hints: Vec<&str> = lines
        .filter(|l| l.starts_with("[possible values") || l.starts_with("tip:"))
        .collect();
    let hints = if hints.is_empty() {
        String::new()
    } else {
        format!(" {}", hints.join("; "))
    };
    say!("stancepipe: error: {first}{hints} (see stancepipe --help)");
    ExitCode::from(exit::CONFIG)
}

fn init_logging(quiet: bool, verbose: u8) {
    let level = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("STANCEPIPE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::stderr().is_terminal())
        .without_time()
        // A log line that cannot be written (stderr full or closed) is
        // dropped; by default tracing would report that on stderr with
        // `eprint!`, which panics there and aborts the run.
        .log_internal_errors(false)
        .init();
}

/// One log line for a document that became an error record (`run` and
/// `eval` alike); the record itself carries the same reason.
fn warn_if_failed(doc: &stancepipe_core::Doc) {
    if let Some(err) = &doc.error {
        tracing::warn!(
            "document {:?} failed in {}: {}",
            doc.id,
            err.stage,
            err.message
        );
    }
}

fn load(args: &ConfigArgs) -> Result<PipelinePlan, Failure> {
    let registry = default_registry().map_err(|e| Failure::new(exit::CONFIG, e))?;
    PipelinePlan::load(&args.config, &args.set, &registry)
        .map_err(|e| Failure::new(exit::CONFIG, e))
}

fn validate(args: ConfigArgs) -> Result<u8, Failure> {
    use std::fmt::Write as _;
    let plan = load(&args)?;
    let mut text = String::new();
    let companies = plan.context.companies.len();
    let _ = writeln!(
        text,
        "{}: valid: {} stage(s), {companies} compan{}",
        plan.file,
        plan.stages.len(),
        if companies == 1 { "y" } else { "ies" }
    );
    for s in &plan.stages {
        let model = s.config.model().unwrap_or_else(|| "none".into());
        let _ = writeln!(
            text,
            "  {:<12} {}/{}  model: {model}",
            s.id, s.kind, s.backend
        );
    }
    to_stdout(&text)
}

/// Writes `text` to stdout. A reader that stopped reading (`stancepipe
/// stages | head`) ends the command quietly with 0, as `ls | head` does;
/// any other write error is one.
fn to_stdout(text: &str) -> Result<u8, Failure> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(0),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(0),
        Err(e) => Err(Failure::new(exit::IO, format!("stdout: {e}"))),
    }
}

fn stages(format: ListFormat) -> Result<u8, Failure> {
    let registry = default_registry().map_err(|e| Failure::new(exit::CONFIG, e))?;
    let text = match format {
        ListFormat::Json => stages_json(&registry),
        ListFormat::Text => stages_text(&registry),
        ListFormat::Markdown => stages_markdown(&registry),
    };
    to_stdout(&text)
}

fn is_default(registry: &stancepipe_core::Registry, f: &dyn BackendFactory) -> bool {
    registry.default_backend(f.kind()) == Some(f.backend())
}

fn stages_json(registry: &stancepipe_core::Registry) -> String {
    let list: Vec<serde_json::Value> = registry
        .factories()
        .map(|f| {
            serde_json::json!({
                "kind": f.kind(),
                "backend": f.backend(),
                "default": is_default(registry, f),
                "description": f.description(),
                "options": f.options(),
            })
        })
        .collect();
    let mut text = serde_json::to_string_pretty(&list).unwrap_or_default();
    text.push('\n');
    text
}

fn stages_text(registry: &stancepipe_core::Registry) -> String {
    use std::fmt::Write as _;
    let mut text = String::new();
    for f in registry.factories() {
        let default = if is_default(registry, f) {
            " (default)"
        } else {
            ""
        };
        let _ = writeln!(text, "{}  backend = \"{}\"{default}", f.kind(), f.backend());
        let _ = writeln!(text, "    {}", f.description());
        for o in f.options() {
            let d = o.default.unwrap_or_else(|| "(unset)".into());
            let _ = writeln!(text, "    {:<22} = {:<10}  {}", o.name, d, o.help);
        }
        text.push('\n');
    }
    text
}

/// The option reference of docs/configuration.md (between its `BEGIN
/// generated` and `END generated` markers; `tests/docs.rs` checks it).
fn stages_markdown(registry: &stancepipe_core::Registry) -> String {
    use std::fmt::Write as _;
    // A `|` would end a table cell.
    let cell = |s: &str| s.replace('|', "\\|");
    let mut text = String::from(
        "Generated from the registry by `stancepipe stages --format markdown`; \
         \"kind default\" is the backend of a stage that names none.\n",
    );
    for f in registry.factories() {
        let default = if is_default(registry, f) {
            " (kind default)"
        } else {
            ""
        };
        let _ = writeln!(
            text,
            "\n### `{}` / `{}`{default}\n\n{}\n",
            f.kind(),
            f.backend(),
            cell(f.description())
        );
        let options = f.options();
        if options.is_empty() {
            text.push_str("No options.\n");
            continue;
        }
        text.push_str("| option | default | meaning |\n|---|---|---|\n");
        for o in options {
            let d = o
                .default
                .map_or_else(|| "(unset)".to_string(), |d| format!("`{}`", cell(&d)));
            let _ = writeln!(text, "| `{}` | {d} | {} |", o.name, cell(o.help));
        }
    }
    text
}

/// Ends a training run's progress bar and, unless quiet, prints what was
/// recorded (the manifest's `training`, or the fitted decision) on stderr.
fn finish_training(bar: &ProgressBar, quiet: bool, recorded: &serde_json::Value) {
    bar.finish_and_clear();
    if !quiet {
        say!(
            "{}",
            serde_json::to_string_pretty(recorded).unwrap_or_default()
        );
    }
}

/// The progress bar of `train` (hidden when quiet or not on a terminal).
fn train_bar(quiet: bool) -> ProgressBar {
    let bar = if quiet || !std::io::stderr().is_terminal() {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(0)
    };
    bar.set_style(
        ProgressStyle::with_template("{msg:<28} {bar:30} {pos}/{len} {per_sec} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

fn train_progress(bar: &ProgressBar, what: &str, done: usize, total: usize) {
    bar.set_message(what.to_string());
    bar.set_length(total as u64);
    bar.set_position(done as u64);
    if done == total {
        tracing::info!("{what}: {total} texts");
    }
}

/// `train document`: the stance stage's learned document-level decision.
fn train_document(args: &TrainArgs, quiet: bool) -> Result<u8, Failure> {
    let out = args
        .out
        .clone()
        .ok_or_else(|| Failure::new(exit::CONFIG, "train document: no destination (internal)"))?;
    let heads: Vec<String> = args.head.iter().map(|h| h.display().to_string()).collect();
    let command = format!(
        "stancepipe train document --data {} --encoder {} --head {} --tokenizer {}{} --out {} --seed {}{}",
        args.data.display(),
        args.encoder,
        heads.join(","),
        args.tokenizer.display(),
        if args.references { " --references" } else { "" },
        out.display(),
        args.seed,
        if args.force { " --force" } else { "" },
    );
    let bar = train_bar(quiet);
    let progress = |what: &str, done: usize, total: usize| train_progress(&bar, what, done, total);
    let setup = stancepipe_train::document::DocumentSetup {
        encoder: args.encoder.clone(),
        heads: args.head.clone(),
        tokenizer: args.tokenizer.clone(),
        references: args.references,
        rule: stancepipe_train::document::default_rule(),
        seed: args.seed,
    };
    let fitted =
        stancepipe_train::document::train_document(&args.data, &setup, &out, &command, &progress)
            .map_err(|m| Failure::new(exit::IO, m))?;
    finish_training(&bar, quiet, &fitted);
    out!(
        "document decision written to {}; use it with --set stance.aggregator={}",
        out.display(),
        absolute(&out).display()
    )?;
    Ok(0)
}

/// `train stance`: the shared encoder with its target and sentence heads.
fn train_stance(
    args: &TrainArgs,
    base: stancepipe_encoder::SentenceEncoder,
    repo: &stancepipe_core::ModelRepo,
    quiet: bool,
) -> Result<u8, Failure> {
    use stancepipe_train::stance::{default_params, StanceSetup, StanceSource, Teacher};
    let gold_only = args.gold.is_some() && !args.with_data;
    let sources: Vec<StanceSource> = if gold_only {
        Vec::new()
    } else if args.stance_sources.is_empty() {
        StanceSource::ALL
            .into_iter()
            .filter(|s| s.by_default())
            .collect()
    } else {
        let mut v = Vec::new();
        for name in &args.stance_sources {
            let s = StanceSource::named(name).ok_or_else(|| {
                Failure::new(
                    exit::CONFIG,
                    format!("--stance-sources: unknown source {name:?}"),
                )
            })?;
            v.push(s);
        }
        StanceSource::ALL
            .into_iter()
            .filter(|s| v.contains(s))
            .collect()
    };
    let (Some(out), Some(sentence_out)) = (args.out.clone(), args.sentence_out.clone()) else {
        return Err(Failure::new(
            exit::CONFIG,
            "train stance: no destination (internal)",
        ));
    };
    if !(args.news_share.is_finite() && args.news_share > 0.0) {
        return Err(Failure::new(
            exit::CONFIG,
            format!(
                "--news-share must be a number above 0, not {}",
                args.news_share
            ),
        ));
    }
    if !(0.0..=1.0).contains(&args.teacher_weight) {
        return Err(Failure::new(
            exit::CONFIG,
            format!(
                "--teacher-weight must be between 0 and 1, not {}",
                args.teacher_weight
            ),
        ));
    }
    if args.lora_rank == Some(0) {
        return Err(Failure::new(
            exit::CONFIG,
            "--lora-rank must be at least 1 for train stance (it trains adapters, not whole layers)",
        ));
    }
    if args.transfer && args.teacher.is_empty() {
        return Err(Failure::new(
            exit::CONFIG,
            "--transfer needs --teacher (its mentions are unlabeled)",
        ));
    }
    let teacher = (!args.teacher.is_empty()).then(|| Teacher {
        encoder: args.encoder.clone(),
        heads: args.teacher.clone(),
        weight: args.teacher_weight,
        transfer: args.transfer,
    });
    let gold = read_user_gold(args)?;
    let epochs = args.epochs.unwrap_or(3);
    let mut params = default_params(args.seed, epochs);
    if let Some(rank) = args.lora_rank {
        params.adapt = stancepipe_encoder::Adapt::Lora(rank);
    }
    if let Some(lr) = args.tune_lr {
        params.lr_encoder = lr;
    }
    if let Some(lr) = args.learning_rate {
        params.lr_head = lr;
    }
    params.batch = args.batch;
    params.context = args.context_tokens;
    params.attend = args.attend_tokens;
    params.target_hidden = args.hidden;
    params.appended_head = args.appended_head;
    let command = format!(
        "stancepipe train stance --data {} --encoder {} --out {} --sentence-out {} --seed {} --epochs {} --batch {} --news-share {} --context-tokens {} --lora-rank {} --tune-lr {} --learning-rate {}{}{}{}{}{}{}{}",
        args.data.display(),
        args.encoder,
        out.display(),
        sentence_out.display(),
        args.seed,
        epochs,
        args.batch,
        args.news_share,
        args.context_tokens,
        params.adapt.rank(),
        params.lr_encoder,
        params.lr_head,
        if args.hidden > 0 {
            format!(" --hidden {}", args.hidden)
        } else {
            String::new()
        },
        if args.attend_tokens > 0 {
            format!(" --attend-tokens {}", args.attend_tokens)
        } else {
            String::new()
        },
        if args.appended_head {
            " --appended-head"
        } else {
            ""
        },
        if args.contrast_pairs > 0 {
            format!(" --contrast-pairs {}", args.contrast_pairs)
        } else {
            String::new()
        },
        if args.teacher.is_empty() {
            String::new()
        } else {
            format!(
                " --teacher {} --teacher-weight {}{}",
                args.teacher
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(","),
                args.teacher_weight,
                if args.transfer { " --transfer" } else { "" }
            )
        },
        if gold_only {
            String::new()
        } else {
            format!(
                " --stance-sources {}",
                sources.iter().map(|s| s.name()).collect::<Vec<_>>().join(",")
            )
        },
        gold_flags(args),
    );
    let bar = train_bar(quiet);
    let progress = |what: &str, done: usize, total: usize| train_progress(&bar, what, done, total);
    let enc = stancepipe_train::Encoder {
        base: std::sync::Arc::new(base),
        repo,
    };
    let manifest = stancepipe_train::stance::train_stance(
        &enc,
        &stancepipe_train::DataDir(args.data.clone()),
        (&out, &sentence_out),
        &StanceSetup {
            sources,
            sentences: !gold_only,
            gold,
            news_share: args.news_share,
            teacher,
            contrast_pairs: args.contrast_pairs,
            params,
        },
        &command,
        &progress,
    )
    .map_err(|m| Failure::new(exit::IO, m))?;
    finish_training(&bar, quiet, &manifest.training);
    out!(
        "stance model written to {} and {}; use it with --set stance.head={} --set classify.head={}",
        out.display(),
        sentence_out.display(),
        absolute(&out).display(),
        absolute(&sentence_out).display()
    )?;
    Ok(0)
}

/// `train soup`: the mean of several `train stance` models.
fn train_soup(
    args: &TrainArgs,
    base: stancepipe_encoder::SentenceEncoder,
    repo: &stancepipe_core::ModelRepo,
    quiet: bool,
) -> Result<u8, Failure> {
    let (Some(out), Some(sentence_out)) = (args.out.clone(), args.sentence_out.clone()) else {
        return Err(Failure::new(
            exit::CONFIG,
            "train soup: no destination (internal)",
        ));
    };
    let list = |v: &[PathBuf]| {
        v.iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(",")
    };
    let command = format!(
        "stancepipe train soup --data {} --encoder {} --head {} --sentence-head {} --out {} --sentence-out {}{}",
        args.data.display(),
        args.encoder,
        list(&args.head),
        list(&args.sentence_head),
        out.display(),
        sentence_out.display(),
        gold_flags(args),
    );
    let gold = read_user_gold(args)?;
    let bar = train_bar(quiet);
    let progress = |what: &str, done: usize, total: usize| train_progress(&bar, what, done, total);
    let enc = stancepipe_train::Encoder {
        base: std::sync::Arc::new(base),
        repo,
    };
    let manifest = stancepipe_train::soup::soup(
        &enc,
        (&stancepipe_train::DataDir(args.data.clone()), gold.as_ref()),
        (&args.head, &args.sentence_head),
        (&out, &sentence_out),
        &command,
        &progress,
    )
    .map_err(|m| Failure::new(exit::IO, m))?;
    finish_training(&bar, quiet, &manifest.training);
    out!(
        "soup written to {} and {}; fit its document decision with `stancepipe train document --head {}`, then use it with --set stance.head={} --set classify.head={}",
        out.display(),
        sentence_out.display(),
        out.display(),
        absolute(&out).display(),
        absolute(&sentence_out).display()
    )?;
    Ok(0)
}

/// `path` made absolute for the `--set` hint: a relative path in `--set`
/// is read against the config file's folder, not the current one.
fn absolute(path: &std::path::Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

/// The `--gold` data of `train sentiment|stance`, read and split.
fn read_user_gold(args: &TrainArgs) -> Result<Option<stancepipe_train::gold::UserData>, Failure> {
    args.gold
        .as_ref()
        .map(|g| stancepipe_train::gold::UserData::read(g, args.dev.as_deref()))
        .transpose()
        .map_err(|m| Failure::new(exit::IO, m))
}

/// `--gold`, `--dev`, `--with-data` and `--force` as the manifest's command records them.
fn gold_flags(args: &TrainArgs) -> String {
    let mut s = String::new();
    if let Some(g) = &args.gold {
        s.push_str(&format!(" --gold {}", g.display()));
    }
    if let Some(d) = &args.dev {
        s.push_str(&format!(" --dev {}", d.display()));
    }
    if args.with_data {
        s.push_str(" --with-data");
    }
    if args.force {
        s.push_str(" --force");
    }
    s
}

/// A new folder name below models/trained/: `<name>-<UTC time>` (with a
/// counter when that exists already), e.g. `sentiment-20261201-121530`.
fn fresh_destination(name: &str, ext: &str) -> PathBuf {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let base = format!("{name}-{}", utc_stamp(secs));
    let mut n = 1;
    loop {
        let stem = if n == 1 {
            base.clone()
        } else {
            format!("{base}-{n}")
        };
        let p = PathBuf::from("models/trained").join(format!("{stem}{ext}"));
        if !p.exists() {
            return p;
        }
        n += 1;
    }
}

/// `YYYYMMDD-HHMMSS` of a Unix time, UTC (days to civil date: H. Hinnant's
/// algorithm).
fn utc_stamp(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}{m:02}{d:02}-{:02}{:02}{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Refuses (exit 2, nothing written) to write where a model already is,
/// unless --force: an existing file, or a folder that is not empty.
fn refuse_existing(path: &std::path::Path, force: bool) -> Result<(), Failure> {
    let taken = match std::fs::read_dir(path) {
        Ok(mut entries) => entries.next().is_some(),
        Err(_) => path.exists(),
    };
    if taken && !force {
        return Err(Failure::new(
            exit::CONFIG,
            format!(
                "{} already holds a model; train does not replace it without --force (or give a new --out)",
                path.display()
            ),
        ));
    }
    Ok(())
}

/// Sets `args.out` (and `args.sentence_out` for `stance`) to where this run
/// writes, and refuses an existing model there without --force.
fn destinations(args: &mut TrainArgs) -> Result<(), Failure> {
    let name = match args.task {
        TrainTask::Sentiment => "sentiment",
        TrainTask::Target => "target",
        TrainTask::Stance => "stance",
        TrainTask::Document => "document",
        TrainTask::Entities => "entities",
        TrainTask::Soup => "soup",
    };
    if args.out.is_none() {
        args.out = Some(match args.task {
            TrainTask::Document => fresh_destination(name, ".json"),
            TrainTask::Stance | TrainTask::Soup => fresh_destination(name, "").join("stance"),
            _ => fresh_destination(name, ""),
        });
    }
    let out = args.out.clone().unwrap_or_default();
    refuse_existing(&out, args.force)?;
    if matches!(args.task, TrainTask::Stance | TrainTask::Soup) {
        let sentence = args
            .sentence_out
            .clone()
            .unwrap_or_else(|| out.with_file_name("sentence"));
        refuse_existing(&sentence, args.force)?;
        args.sentence_out = Some(sentence);
    }
    Ok(())
}

/// `train entities`: the recognizer, into `--out`.
fn train_entities(
    args: &TrainArgs,
    base: stancepipe_encoder::SentenceEncoder,
    repo: &stancepipe_core::ModelRepo,
    quiet: bool,
) -> Result<u8, Failure> {
    let out = args.out.clone().unwrap_or_default();
    let epochs = args.epochs.unwrap_or(5);
    let params = stancepipe_train::entities::default_params(args.seed, epochs, args.batch);
    let command = format!(
        "stancepipe train entities --data {} --encoder {} --out {} --seed {} --epochs {} --batch {}",
        args.data.display(),
        args.encoder,
        out.display(),
        args.seed,
        epochs,
        args.batch,
    );
    let bar = train_bar(quiet);
    let progress = |what: &str, done: usize, total: usize| train_progress(&bar, what, done, total);
    let enc = stancepipe_train::Encoder {
        base: std::sync::Arc::new(base),
        repo,
    };
    let manifest = stancepipe_train::entities::train_entities(
        &enc,
        &stancepipe_train::DataDir(args.data.clone()),
        &out,
        params,
        &command,
        &progress,
    )
    .map_err(|m| Failure::new(exit::IO, m))?;
    finish_training(&bar, quiet, &manifest.training);
    out!(
        "recognizer written to {}; use it with --set tokenize.discover=true --set tokenize.recognizer={}",
        out.display(),
        absolute(&out).display()
    )?;
    Ok(0)
}

fn train(mut args: TrainArgs, quiet: bool) -> Result<u8, Failure> {
    use stancepipe_core::{ModelRepo, ModelSource};
    if args.gold.is_some()
        && matches!(
            args.task,
            TrainTask::Target | TrainTask::Document | TrainTask::Entities
        )
    {
        return Err(Failure::new(
            exit::CONFIG,
            "--gold applies to `train sentiment`, `train stance` and `train soup` only",
        ));
    }
    if args.gold.is_some() && !args.with_data && !args.stance_sources.is_empty() {
        return Err(Failure::new(
            exit::CONFIG,
            "--stance-sources with --gold needs --with-data (alone, --gold trains on the gold data only)",
        ));
    }
    // A rate given must be above 0, whichever task reads it.
    for (flag, rate) in [
        ("--tune-lr", args.tune_lr),
        ("--learning-rate", args.learning_rate),
    ] {
        if let Some(r) = rate.filter(|r| !(r.is_finite() && *r > 0.0)) {
            return Err(Failure::new(
                exit::CONFIG,
                format!("{flag} must be a number above 0, not {r}"),
            ));
        }
    }
    if matches!(args.task, TrainTask::Sentiment) {
        let only_target = [
            ("--features", !args.features.is_empty()),
            ("--contrast-pairs", args.contrast_pairs > 0),
            ("--sources", !args.sources.is_empty()),
        ];
        if let Some((flag, _)) = only_target.iter().find(|(_, given)| *given) {
            return Err(Failure::new(
                exit::CONFIG,
                format!("{flag} applies to `train target` only"),
            ));
        }
    }
    destinations(&mut args)?;
    let io = |m: String| Failure::new(exit::IO, m);
    let ctx = stancepipe_core::BuildContext {
        base_dir: PathBuf::from("."),
        companies: Vec::new(),
    };
    let repo =
        ModelRepo::open(ModelSource::parse(&args.encoder, &ctx)).map_err(|e| io(e.to_string()))?;
    let base = stancepipe_encoder::SentenceEncoder::load(&repo, tch::Device::Cpu)
        .map_err(|e| io(e.to_string()))?;
    if matches!(args.task, TrainTask::Stance) {
        return train_stance(&args, base, &repo, quiet);
    }
    if matches!(args.task, TrainTask::Document) {
        return train_document(&args, quiet);
    }
    if matches!(args.task, TrainTask::Entities) {
        return train_entities(&args, base, &repo, quiet);
    }
    if matches!(args.task, TrainTask::Soup) {
        return train_soup(&args, base, &repo, quiet);
    }
    let name = match args.task {
        TrainTask::Sentiment => "sentiment",
        _ => "target",
    };
    let out = args.out.clone().unwrap_or_default();
    let gold = read_user_gold(&args)?;
    let fit = if args.tune_layers == 0 {
        let d = stancepipe_encoder::TrainParams::default();
        stancepipe_train::Fit::Frozen(stancepipe_encoder::TrainParams {
            hidden: args.hidden,
            epochs: args.epochs.unwrap_or(d.epochs),
            learning_rate: args.learning_rate.unwrap_or(d.learning_rate),
            seed: args.seed,
            ..d
        })
    } else {
        let d = stancepipe_encoder::TuneParams::default();
        stancepipe_train::Fit::Tuned(stancepipe_encoder::TuneParams {
            layers: args.tune_layers,
            epochs: args.epochs.unwrap_or(d.epochs),
            batch: args.batch,
            lr_encoder: args.tune_lr.unwrap_or(d.lr_encoder),
            lr_head: args.learning_rate.unwrap_or(d.lr_head),
            seed: args.seed,
            adapt: stancepipe_encoder::Adapt::from_rank(args.lora_rank.unwrap_or(0)),
            ..d
        })
    };
    let mut command = format!(
        "stancepipe train {name} --data {} --encoder {} --out {} --seed {}",
        args.data.display(),
        args.encoder,
        out.display(),
        args.seed,
    );
    match fit {
        stancepipe_train::Fit::Frozen(p) => command.push_str(&format!(
            " --epochs {} --hidden {} --learning-rate {}",
            p.epochs, p.hidden, p.learning_rate
        )),
        stancepipe_train::Fit::Tuned(p) => {
            command.push_str(&format!(
                " --tune-layers {} --epochs {} --batch {} --tune-lr {} --learning-rate {}",
                p.layers, p.epochs, p.batch, p.lr_encoder, p.lr_head
            ));
            if let stancepipe_encoder::Adapt::Lora(r) = p.adapt {
                command.push_str(&format!(" --lora-rank {r}"));
            }
        }
    }
    let features = match (&fit, args.features.as_slice()) {
        (_, [_, ..]) => args.features.clone(),
        (stancepipe_train::Fit::Frozen(_), []) => {
            vec![
                Features::Marked,
                Features::MarkedWindow,
                Features::MarkedSpan,
            ]
        }
        (stancepipe_train::Fit::Tuned(_), []) => vec![Features::MarkedSpan],
    };
    if matches!(args.task, TrainTask::Target) {
        let names: Vec<String> = features
            .iter()
            .filter_map(|f| f.to_possible_value().map(|v| v.get_name().to_string()))
            .collect();
        command.push_str(&format!(" --features {}", names.join(",")));
        if args.contrast_pairs > 0 {
            command.push_str(&format!(" --contrast-pairs {}", args.contrast_pairs));
        }
        if !args.sources.is_empty() {
            let names: Vec<String> = args
                .sources
                .iter()
                .filter_map(|s| s.to_possible_value().map(|v| v.get_name().to_string()))
                .collect();
            command.push_str(&format!(" --sources {}", names.join(",")));
        }
    }
    // In a fixed order, each once; none named means both.
    let sources: Vec<stancepipe_train::TargetSource> = stancepipe_train::TargetSource::ALL
        .into_iter()
        .filter(|s| args.sources.is_empty() || args.sources.iter().any(|&a| *s == a.into()))
        .collect();
    command.push_str(&gold_flags(&args));
    let bar = train_bar(quiet);
    let progress = |what: &str, done: usize, total: usize| train_progress(&bar, what, done, total);
    let data = stancepipe_train::DataDir(args.data.clone());
    let enc = stancepipe_train::Encoder {
        base: std::sync::Arc::new(base),
        repo: &repo,
    };
    let manifest = match args.task {
        TrainTask::Sentiment => stancepipe_train::train_sentiment(
            &enc,
            stancepipe_train::SentenceData {
                data: (gold.is_none() || args.with_data).then_some(&data),
                gold: gold.as_ref(),
            },
            &out,
            fit,
            &command,
            &progress,
        ),
        _ => stancepipe_train::train_target(
            &enc,
            &data,
            &out,
            fit,
            &stancepipe_train::TargetSetup {
                candidates: &features.iter().map(|&f| f.into()).collect::<Vec<_>>(),
                contrast_pairs: args.contrast_pairs,
                sources: &sources,
            },
            &command,
            &progress,
        ),
    }
    .map_err(io)?;
    finish_training(&bar, quiet, &manifest.training);
    let stage = match args.task {
        TrainTask::Sentiment => "classify",
        _ => "stance",
    };
    out!(
        "{name} head written to {}; use it with --set {stage}.head={}",
        out.display(),
        absolute(&out).display()
    )?;
    Ok(0)
}
