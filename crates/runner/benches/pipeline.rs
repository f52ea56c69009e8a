//! Batch benchmark of a whole pipeline (issue 6): documents per second, time
//! per stage, peak RSS, and the MiniLM work the model stages did, counted in
//! tokens and FLOPs from the actual texts.
//!
//! ```text
//! python3 scripts/bench/make_corpus.py      # ~/.cache/stancepipe/bench/corpus-1k.jsonl
//! HF_HUB_OFFLINE=1 cargo bench -p stancepipe-runner --bench pipeline -- \
//!     --docs 1000 --threads 2 [--dump-texts texts.jsonl]
//! ```
//!
//! Options: `--config FILE` (default the repository's `pipeline.toml`),
//! `--corpus FILE` (default `~/.cache/stancepipe/bench/corpus-1k.jsonl`),
//! `--docs N` (default all), `--threads T` (default 0 = one per core),
//! `--dump-texts FILE`: what each pipeline batch read, one JSON line per
//! batch (`{"sentences": [...], "mentions": [[sentence, start, end], ...]}`,
//! the content sentences and each mention's byte span inside its sentence),
//! for `scripts/bench/pipeline_python.py`.
//!
//! The pipeline is built exactly as `stancepipe run` builds it (same config,
//! same `Threads`). One untimed warm-up batch (the first `batch_size`
//! documents) runs first; the timed loop then reads, processes and
//! serializes every document. Per-stage seconds come from provenance.
//! Prints one JSON line.
//!
//! MiniLM work: the content sentences, each encoded once and read by both
//! model stages (classify `embedding-head` and stance `target-sentiment`
//! over one `StatesEncoder`); `encoder_passes` counts the texts the encoder
//! actually ran (cache misses) during the timed loop, so that
//! `passes_per_content_sentence` shows whether the stages shared their
//! pass. Tokens are counted with the model's
//! `tokenizer.json` (special tokens included, cut at `max_seq_length` 256);
//! "padded" tokens follow `SentenceEncoder::embed_many` (per pipeline batch,
//! the groups of `stancepipe_encoder::length_groups` with the stages'
//! `batch_size` 64, each padded to its longest). FLOPs per sequence of L
//! tokens, BERT with H = 384, FFN 1536, 6 layers: 2 * 6 * (4 H^2 + 2 H * 1536) * L for the weight matrices
//! plus 2 * 6 * 2 * L^2 * H for attention scores and values.

use stancepipe_core::{Doc, SentenceKind};
use stancepipe_runner::{
    default_registry, open_inputs, Input, InputOptions, Override, PipelinePlan, StdinFormat,
};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

const H: f64 = 384.0;
const FFN: f64 = 1536.0;
const LAYERS: f64 = 6.0;
const MAX_SEQ: usize = 256;
/// The embedding batch size of both model stages in the default pipeline.
const EMBED_BATCH: usize = 64;

struct Args {
    config: PathBuf,
    corpus: PathBuf,
    docs: usize,
    threads: usize,
    dump: Option<PathBuf>,
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn parse_args() -> Result<Args, String> {
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
    let mut a = Args {
        config: repo_root().join("pipeline.toml"),
        corpus: home.join(".cache/stancepipe/bench/corpus-1k.jsonl"),
        docs: usize::MAX,
        threads: 0,
        dump: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--bench" {
            continue; // added by `cargo bench`
        }
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        let num = |v: String| v.parse::<usize>().map_err(|e| format!("{flag}: {e}"));
        match flag.as_str() {
            "--config" => a.config = value()?.into(),
            "--corpus" => a.corpus = value()?.into(),
            "--docs" => a.docs = num(value()?)?,
            "--threads" => a.threads = num(value()?)?,
            "--dump-texts" => a.dump = Some(value()?.into()),
            _ => return Err(format!("unknown argument {flag}")),
        }
    }
    Ok(a)
}

/// A memory figure of /proc/self/status in MB (`VmHWM`: peak, `VmRSS`: now).
fn status_mb(field: &str) -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some((kb / 1024.0).round())
}

/// What the model stages read for one pipeline batch: the content
/// sentences and each mention (sentence index, byte span in the sentence).
#[derive(Default)]
struct Texts {
    sentences: Vec<String>,
    mentions: Vec<(usize, usize, usize)>,
}

fn batch_texts(docs: &[Doc]) -> Texts {
    let mut t = Texts::default();
    for doc in docs.iter().filter(|d| d.is_ok()) {
        let mut index = BTreeMap::new();
        for (i, s) in doc.sentences.iter().enumerate() {
            if s.kind == SentenceKind::Content {
                index.insert(i, t.sentences.len());
                t.sentences.push(doc.slice(s.span).to_string());
            }
        }
        for m in doc.entities.iter().flat_map(|e| &e.mentions) {
            let (Some(&k), Some(s)) = (index.get(&m.sentence), doc.sentences.get(m.sentence))
            else {
                continue;
            };
            if s.span.contains(m.span) {
                t.mentions
                    .push((k, m.span.start - s.span.start, m.span.end - s.span.start));
            }
        }
    }
    t
}

fn seq_flops(len: usize) -> f64 {
    let l = len as f64;
    2.0 * LAYERS * (4.0 * H * H + 2.0 * H * FFN) * l + 2.0 * LAYERS * 2.0 * l * l * H
}

#[derive(Default)]
struct Work {
    texts: usize,
    tokens: usize,
    padded_tokens: usize,
    flops: f64,
    padded_flops: f64,
    /// Model calls (groups of texts).
    calls: usize,
}

/// Counts one stage's texts the way `embed_many` groups them.
fn count(work: &mut Work, texts: &[String], tok: &tokenizers::Tokenizer) -> Result<(), String> {
    let lens: Vec<usize> = texts
        .iter()
        .map(|t| {
            tok.encode(t.as_str(), true)
                .map(|e| e.len().min(MAX_SEQ))
                .map_err(|e| e.to_string())
        })
        .collect::<Result<_, _>>()?;
    for group in stancepipe_encoder::length_groups(&lens, EMBED_BATCH) {
        let longest = group.iter().map(|&i| lens[i]).max().unwrap_or(0);
        for &i in &group {
            work.tokens += lens[i];
            work.flops += seq_flops(lens[i]);
        }
        work.padded_tokens += longest * group.len();
        work.padded_flops += seq_flops(longest) * group.len() as f64;
        work.calls += 1;
    }
    work.texts += texts.len();
    Ok(())
}

fn run(a: &Args) -> Result<serde_json::Value, String> {
    let registry = default_registry().map_err(|e| e.to_string())?;
    let threads: Override = format!("run.threads={}", a.threads).parse()?;
    let plan = PipelinePlan::load(&a.config, &[threads], &registry).map_err(|e| e.to_string())?;
    let load_start = Instant::now();
    let pipeline = plan.build().map_err(|e| e.to_string())?;
    let load_s = load_start.elapsed().as_secs_f64();
    let rss_loaded = status_mb("VmRSS:");
    let mut tok = tokenizers::Tokenizer::from_file(
        repo_root().join("models/all-MiniLM-L6-v2/tokenizer.json"),
    )
    .map_err(|e| e.to_string())?;
    // The file pads and cuts every text to 128 tokens; count real tokens.
    tok.with_padding(None);
    tok.with_truncation(None).map_err(|e| e.to_string())?;
    let opts = InputOptions {
        max_doc_bytes: plan.run.max_doc_bytes,
        stdin_format: StdinFormat::Auto,
        dir_extensions: vec!["txt".into()],
    };
    let open = || {
        open_inputs(&[Input::Path(a.corpus.clone())], opts.clone())
            .map_err(|e| format!("{e} (make it with scripts/bench/make_corpus.py)"))
    };

    let warm: Vec<Doc> = open()?.take(pipeline.batch_size).collect();
    pipeline.process(warm);

    let mut dump = match &a.dump {
        Some(p) => Some(std::io::BufWriter::new(
            std::fs::File::create(p).map_err(|e| format!("{}: {e}", p.display()))?,
        )),
        None => None,
    };
    let mut stage_s: BTreeMap<String, f64> = BTreeMap::new();
    let mut sentences = Work::default();
    let mut mentions = 0usize;
    let passes_before = stancepipe_encoder::states::pass_counts();
    let (mut n, mut failed, mut bytes) = (0usize, 0usize, 0usize);
    let mut docs = open()?.take(a.docs).peekable();
    let mut timed = 0.0;
    let mut out = std::io::sink();
    while docs.peek().is_some() {
        let start = Instant::now();
        let batch: Vec<Doc> = docs.by_ref().take(pipeline.batch_size).collect();
        let done = pipeline.process(batch);
        for d in &done {
            serde_json::to_writer(&mut out, d).map_err(|e| e.to_string())?;
        }
        timed += start.elapsed().as_secs_f64();

        // Bookkeeping, not timed.
        for p in done
            .iter()
            .find(|d| d.is_ok())
            .map_or(&[][..], |d| &d.provenance)
        {
            *stage_s.entry(p.stage.clone()).or_default() += p.batch_ms / 1e3;
        }
        n += done.len();
        failed += done.iter().filter(|d| !d.is_ok()).count();
        bytes += done.iter().map(|d| d.text.len()).sum::<usize>();
        let texts = batch_texts(&done);
        count(&mut sentences, &texts.sentences, &tok)?;
        mentions += texts.mentions.len();
        if let Some(w) = dump.as_mut() {
            let line =
                serde_json::json!({"sentences": texts.sentences, "mentions": texts.mentions});
            writeln!(w, "{line}").map_err(|e| e.to_string())?;
        }
    }
    if let Some(mut w) = dump {
        w.flush().map_err(|e| e.to_string())?;
    }
    let model_s: f64 = ["classify", "stance"]
        .iter()
        .filter_map(|s| stage_s.get(*s))
        .sum();
    let passes_after = stancepipe_encoder::states::pass_counts();
    let passes = passes_after.0 - passes_before.0;
    let padded_flops = sentences.padded_flops;
    let work = |w: &Work| {
        serde_json::json!({
            "texts": w.texts, "calls": w.calls, "tokens": w.tokens, "padded_tokens": w.padded_tokens,
            "gflop": w.flops / 1e9, "padded_gflop": w.padded_flops / 1e9,
        })
    };
    Ok(serde_json::json!({
        "stack": "stancepipe",
        "config": a.config.display().to_string(),
        "corpus": a.corpus.display().to_string(),
        "docs": n,
        "failed": failed,
        "bytes": bytes,
        "threads": pipeline.threads(),
        "batch_size": pipeline.batch_size,
        "load_s": load_s,
        "seconds": timed,
        "docs_per_s": n as f64 / timed,
        "stage_s": stage_s,
        "model_s": model_s,
        "sentences": work(&sentences),
        "mentions": mentions,
        "encoder_passes": passes,
        "encoder_cache_hits": passes_after.1 - passes_before.1,
        "passes_per_content_sentence": passes as f64 / sentences.texts.max(1) as f64,
        "model_gflop_per_s": padded_flops / 1e9 / model_s,
        "rss_after_load_mb": rss_loaded,
        "peak_rss_mb": status_mb("VmHWM:"),
    }))
}

fn main() -> ExitCode {
    let result = parse_args().and_then(|a| run(&a));
    match result {
        Ok(v) => {
            println!("{v}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("pipeline bench: {e}");
            ExitCode::FAILURE
        }
    }
}
