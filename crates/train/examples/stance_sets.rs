//! Scores the stance stage's target model (one one-pass head, one marked
//! head, or an ensemble: whatever `stance.head` takes) on every stance and
//! target set's test part, the way the stage reads mentions: each example
//! becomes a one-sentence document whose tracked company is the target (a
//! target absent from its text is appended after `[SEP]`, as in training),
//! read by `TargetModel::read` (`stance::one_target_doc`). Prints macro-F1
//! per set with VADER on the text beside it. Developer tool for
//! docs/quality.md:
//!
//! ```sh
//! cargo run --release -p stancepipe-train --example stance_sets -- ../shared/data <head directory>...
//! ```
//! `STANCE_SPLIT=dev` scores the dev parts instead (NewsMTSC: its dev part),
//! `STANCE_SPLIT=both` the dev parts and the test sets;
//! `STANCE_SETS=vast,semeval` only those sources. With `--probs FILE` first,
//! it also writes every example's class probabilities, one JSON object a
//! line (`set`, `text`, `target`, `gold`, `labels`, `p`, `appended`: the
//! target was not in the text), for `scripts/prior_shift.py` and
//! `scripts/readings_by_sentence.py`.

use stancepipe_classify::vader::{polarity_scores, Lexicon};
use stancepipe_core::{BuildContext, Doc};
use stancepipe_eval::datasets::Split;
use stancepipe_eval::ClassReport;
use stancepipe_stance::target::TargetModel;
use stancepipe_train::stance::{one_target_doc, StanceSource};
use stancepipe_train::DataDir;
use std::io::Write;
use std::path::PathBuf;

const LABELS: [&str; 3] = ["positive", "negative", "neutral"];
/// Documents per model call.
const CHUNK: usize = 256;

fn macro_f1(gold: &[&str], pred: &[&str]) -> f64 {
    let pairs: Vec<(String, String)> = gold
        .iter()
        .zip(pred)
        .map(|(g, p)| (g.to_string(), p.to_string()))
        .collect();
    ClassReport::new(&LABELS, &pairs).macro_f1
}

fn main() -> Result<(), String> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut probs_out = match args.first().map(String::as_str) {
        Some("--probs") if args.len() > 1 => {
            let path = args.remove(1);
            args.remove(0);
            let f = std::fs::File::create(&path).map_err(|e| format!("{path}: {e}"))?;
            Some(std::io::BufWriter::new(f))
        }
        _ => None,
    };
    let [data, heads @ ..] = args.as_slice() else {
        return Err("usage: stance_sets [--probs FILE] <data folder> <head directory>...".into());
    };
    let split = std::env::var("STANCE_SPLIT").unwrap_or_default();
    let (dev, test) = match split.as_str() {
        "dev" => (true, false),
        "both" => (true, true),
        _ => (false, true),
    };
    let ctx = BuildContext {
        base_dir: ".".into(),
        companies: Vec::new(),
    };
    let heads: Vec<PathBuf> = heads.iter().map(PathBuf::from).collect();
    let model = TargetModel::load("models/all-MiniLM-L6-v2", &heads, &ctx)
        .map_err(|e| format!("{}: {}", e.key, e.message))?;
    let data = DataDir(data.into());
    let lex = Lexicon::builtin();
    let labels = model.labels().to_vec();
    println!("| set | n | model macro-F1 | VADER macro-F1 |");
    println!("|---|---|---|---|");
    let only = std::env::var("STANCE_SETS").ok();
    for source in StanceSource::ALL {
        if only
            .as_deref()
            .is_some_and(|o| !o.split(',').any(|n| n == source.name()))
        {
            continue;
        }
        let mut sets = Vec::new();
        if dev {
            sets.push((
                format!("{}-dev", source.name()),
                source.part(&data, Split::Dev)?,
            ));
        }
        if test {
            sets.extend(source.tests(&data)?);
        }
        for (name, set) in sets {
            let docs: Vec<Doc> = set
                .iter()
                .enumerate()
                .map(|(i, e)| one_target_doc(i, e))
                .collect();
            let mut pred = Vec::with_capacity(set.len());
            for (c, chunk) in docs.chunks(CHUNK).enumerate() {
                let (read, probs) = model.read(chunk, 64).map_err(|e| e.to_string())?;
                for (m, p) in read.iter().zip(probs) {
                    let best = (0..p.len()).fold(0, |b, i| if p[i] > p[b] { i } else { b });
                    pred.push(labels[best].clone());
                    if let Some(f) = probs_out.as_mut() {
                        let e = &set[c * CHUNK + m.doc];
                        let line = serde_json::json!({"set": name, "text": e.text, "target": e.target,
                            "gold": e.label, "labels": labels, "p": p, "appended": e.span.is_none()});
                        writeln!(f, "{line}").map_err(|e| e.to_string())?;
                    }
                }
            }
            let gold: Vec<&str> = set.iter().map(|e| e.label.as_str()).collect();
            let pred: Vec<&str> = pred.iter().map(String::as_str).collect();
            let vader: Vec<&str> = set
                .iter()
                .map(|e| {
                    let c = polarity_scores(&lex, &e.text).compound;
                    if c >= 0.05 {
                        "positive"
                    } else if c <= -0.05 {
                        "negative"
                    } else {
                        "neutral"
                    }
                })
                .collect();
            println!(
                "| {name} | {} | {:.3} | {:.3} |",
                set.len(),
                macro_f1(&gold, &pred),
                macro_f1(&gold, &vader)
            );
        }
    }
    if let Some(mut f) = probs_out {
        f.flush().map_err(|e| e.to_string())?;
    }
    Ok(())
}
