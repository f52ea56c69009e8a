//! Summarization speed benchmark (issue 3, point 7): a random-weight BART
//! with the dimensions of `sshleifer/distilbart-cnn-6-6` through
//! [`Seq2Seq`], on real texts (the seed article + NeuS articles), with a
//! fixed output length so that every run does the same work.
//!
//! ```text
//! HF_HUB_OFFLINE=1 /work/pyenv/bin/python scripts/bench/make_random_distilbart.py
//! cargo bench -p stancepipe-summarize --bench summarize -- \
//!     --model ~/.cache/stancepipe/bench/distilbart-cnn-6-6-random \
//!     --docs 8 --batch 4 --beams 1 --threads 2 --out-len 60
//! ```
//!
//! Prints one JSON line (the same fields as `scripts/bench/summarize_python.py`,
//! the `transformers` counterpart; `scripts/bench/compare_summarize.sh` runs
//! both). Options:
//!
//! - `--model DIR`: model directory (default
//!   `~/.cache/stancepipe/bench/distilbart-cnn-6-6-random`)
//! - `--docs N`: documents: the seed article, then N-1 NeuS articles (default 8)
//! - `--batch B`, `--beams K`, `--threads T`, `--out-len L` (defaults 4, 1, 2, 60)
//! - `--min-len M`: `min_length` (default L: a fixed output length; 0 lets
//!   sequences stop at EOS naturally, `out_tokens` then says how much was generated)
//! - `--generator own|rust-bert`: the generation loop (default: the stage's
//!   default, `own`)
//! - `--fill`: join consecutive NeuS articles (with a space) until each input
//!   fills the model window (most NeuS articles are ~300 tokens long)
//! - `--seed FILE`, `--neus FILE`: the texts (defaults: `seeds/000_1c9edd206bcbed3f.txt`
//!   and `../shared/data/neus/test.source` beside the repository)
//!
//! Generation: `min_length = M`, `max_length = L`, `no_repeat_ngram_size = 0`,
//! `length_penalty = 1.0`, `early_stopping = true`. One warm-up call (the
//! first document alone, 8 tokens) is not timed; the timed loop covers
//! padding and generation of every batch. Peak RSS is `VmHWM` (model load
//! included); `rss_after_load_mb` is `VmRSS` right after loading.

use stancepipe_core::{ModelRepo, ModelSource};
use stancepipe_summarize::seq2seq::{GenParams, GeneratorKind, Seq2Seq};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

const SEED_FILE: &str = "seeds/000_1c9edd206bcbed3f.txt";

struct Args {
    model: PathBuf,
    docs: usize,
    batch: usize,
    beams: i64,
    threads: i32,
    out_len: i64,
    min_len: Option<i64>,
    fill: bool,
    generator: GeneratorKind,
    seed: PathBuf,
    neus: PathBuf,
}

fn repo_root() -> PathBuf {
    // crates/summarize -> repository root
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn default_model() -> PathBuf {
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    home.join(".cache/stancepipe/bench/distilbart-cnn-6-6-random")
}

fn expand(p: &str) -> PathBuf {
    match (p.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => PathBuf::from(p),
    }
}

fn parse_args() -> Result<Args, String> {
    let root = repo_root();
    let mut a = Args {
        model: default_model(),
        docs: 8,
        batch: 4,
        beams: 1,
        threads: 2,
        out_len: 60,
        min_len: None,
        fill: false,
        generator: GeneratorKind::default(),
        seed: root.join(SEED_FILE),
        neus: root.join("../shared/data/neus/test.source"),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
        let num = |name: &str, v: String| -> Result<i64, String> {
            v.parse::<i64>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| format!("{name}: expected a positive integer, got {v:?}"))
        };
        match flag.as_str() {
            // cargo bench passes --bench to harness = false targets
            "--bench" => {}
            "--model" => a.model = expand(&value("--model")?),
            "--docs" => a.docs = num("--docs", value("--docs")?)? as usize,
            "--batch" => a.batch = num("--batch", value("--batch")?)? as usize,
            "--beams" => a.beams = num("--beams", value("--beams")?)?,
            "--threads" => a.threads = num("--threads", value("--threads")?)? as i32,
            "--out-len" => a.out_len = num("--out-len", value("--out-len")?)?,
            "--min-len" => {
                let v = value("--min-len")?;
                let n = v
                    .parse::<i64>()
                    .ok()
                    .filter(|n| *n >= 0)
                    .ok_or_else(|| format!("--min-len: expected an integer >= 0, got {v:?}"))?;
                a.min_len = Some(n);
            }
            "--fill" => a.fill = true,
            "--generator" => {
                let v = value("--generator")?;
                a.generator = GeneratorKind::parse(&v)
                    .ok_or_else(|| format!("--generator: expected own or rust-bert, got {v:?}"))?
            }
            "--seed" => a.seed = expand(&value("--seed")?),
            "--neus" => a.neus = expand(&value("--neus")?),
            "-h" | "--help" => {
                return Err(
                    "usage: cargo bench -p stancepipe-summarize --bench summarize -- \
                            [--model DIR] [--docs N] [--batch B] [--beams K] [--threads T] \
                            [--out-len L] [--min-len M] [--generator own|rust-bert] [--fill] [--seed FILE] [--neus FILE]"
                        .into(),
                )
            }
            other => return Err(format!("unknown argument {other:?} (try --help)")),
        }
    }
    Ok(a)
}

/// Whitespace collapsed to single spaces (the Python side does `" ".join(s.split())`).
fn norm(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The benchmark's texts: the seed article, then NeuS articles (one per line,
/// or joined until they fill the window with `--fill`).
fn texts(a: &Args, model: &Seq2Seq) -> Result<Vec<String>, String> {
    let read = |p: &Path| {
        std::fs::read_to_string(p).map_err(|e| format!("cannot read {}: {e}", p.display()))
    };
    let mut out = vec![norm(&read(&a.seed)?)];
    let lines: Vec<String> = read(&a.neus)?
        .lines()
        .map(norm)
        .filter(|l| !l.is_empty())
        .collect();
    let mut next = lines.iter();
    while out.len() < a.docs {
        let Some(first) = next.next() else {
            return Err(format!(
                "{} has too few articles for --docs {}",
                a.neus.display(),
                a.docs
            ));
        };
        let mut doc = first.clone();
        if a.fill {
            while model.encode(&[doc.as_str()])[0].len() < model.window() {
                match next.next() {
                    Some(l) => {
                        doc.push(' ');
                        doc.push_str(l);
                    }
                    None => break,
                }
            }
        }
        out.push(doc);
    }
    Ok(out)
}

/// FNV-1a 64 of the ids written as decimal numbers joined by commas (the
/// Python side computes the same).
fn ids_hash<'a>(seqs: impl IntoIterator<Item = &'a Vec<i64>>) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (i, seq) in seqs.into_iter().enumerate() {
        let text = seq
            .iter()
            .map(|x| x.to_string())
            .collect::<Vec<_>>()
            .join(",");
        let sep = if i == 0 { "" } else { ";" };
        for b in sep.bytes().chain(text.bytes()) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    format!("{h:016x}")
}

/// A memory figure of /proc/self/status in MB: `VmHWM` (peak resident set
/// size) or `VmRSS` (current).
fn status_mb(field: &str) -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some((kb / 1024.0).round())
}

fn run(a: &Args) -> Result<serde_json::Value, String> {
    tch::set_num_threads(a.threads);
    let t_load = Instant::now();
    let repo = ModelRepo::open(ModelSource::Local(a.model.clone())).map_err(|e| e.to_string())?;
    let model =
        Seq2Seq::load_with(&repo, tch::Device::Cpu, a.generator).map_err(|e| e.to_string())?;
    let load_s = t_load.elapsed().as_secs_f64();
    let rss_loaded = status_mb("VmRSS:");

    let texts = texts(a, &model)?;
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let ids = model.encode(&refs);
    let lens: Vec<usize> = ids.iter().map(Vec::len).collect();
    let mean_in = lens.iter().sum::<usize>() as f64 / lens.len() as f64;

    let min_len = a.min_len.unwrap_or(a.out_len);
    let params = |len: i64| GenParams {
        num_beams: a.beams,
        min_length: len.min(min_len),
        max_length: len,
        length_penalty: 1.0,
        no_repeat_ngram_size: 0,
        early_stopping: true,
    };
    // Warm-up, not timed.
    model.generate_ids(&ids[..1], &params(a.out_len.min(8)))?;

    let p = params(a.out_len);
    let start = Instant::now();
    let mut outputs = Vec::with_capacity(ids.len());
    for batch in ids.chunks(a.batch) {
        outputs.extend(model.generate_ids(batch, &p)?);
    }
    let seconds = start.elapsed().as_secs_f64();
    let first = outputs.first().cloned().unwrap_or_default();

    Ok(serde_json::json!({
        "stack": "rust-bert",
        "generator": a.generator.name(),
        "docs": ids.len(),
        "batch": a.batch,
        "beams": a.beams,
        "threads": a.threads,
        "out_len": a.out_len,
        "min_len": min_len,
        "out_tokens": outputs.iter().map(Vec::len).sum::<usize>(),
        "fill": a.fill,
        "mean_input_tokens": (mean_in * 100.0).round() / 100.0,
        "min_input_tokens": lens.iter().min(),
        "max_input_tokens": lens.iter().max(),
        "load_seconds": (load_s * 100.0).round() / 100.0,
        "seconds": (seconds * 1000.0).round() / 1000.0,
        "docs_per_s": ((ids.len() as f64 / seconds) * 1000.0).round() / 1000.0,
        "s_per_doc": ((seconds / ids.len() as f64) * 1000.0).round() / 1000.0,
        "peak_rss_mb": status_mb("VmHWM:"),
        "rss_after_load_mb": rss_loaded,
        "input_ids_hash": ids_hash(&ids),
        "first_doc_out_len": first.len(),
        "first_doc_ids_hash": ids_hash([&first]),
        // Without the last token: with min_length = max_length, rust-bert and
        // transformers differ there (see docs/benchmarks.md).
        "first_doc_ids_hash_but_last": ids_hash([&first[..first.len().saturating_sub(1)].to_vec()]),
        "first_doc_ids_head": first.iter().take(12).collect::<Vec<_>>(),
    }))
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    if !args.model.join("config.json").is_file() || !args.model.join("model.safetensors").is_file()
    {
        eprintln!(
            "no benchmark model at {}\ncreate it (random weights, distilbart-cnn-6-6 dimensions, ~0.9 GB, outside the repository) with:\n    \
             HF_HUB_OFFLINE=1 /work/pyenv/bin/python scripts/bench/make_random_distilbart.py {}",
            args.model.display(),
            args.model.display()
        );
        return ExitCode::from(2);
    }
    match run(&args) {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("benchmark failed: {e}");
            ExitCode::FAILURE
        }
    }
}
